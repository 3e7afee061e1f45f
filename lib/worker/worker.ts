// The claim/run/finish loop. In steady state a task costs one round trip: finish.lua records
// the outcomes of every attempt that ended in the same tick and claims as many new tasks.
// Idle, a worker blocks on its queues' marker keys (idle.ts), so an enqueue wakes it at once.
// Leases (renewal, the dead-worker sweep) are lease-keeper.ts's; tasks claimed ahead of the free
// slots wait in prefetch.ts; outages are told apart from Redis's own errors by redis-watch.ts.
import { ReplyError } from 'ioredis';
import type { WorkerOptions, WorkerStats, Worker as PublicWorker } from '../../types';
import { groupByQueue } from '../keys';
import { parseClaimReply, Claimed } from '../claim-reply';
import { NotReplicatedError, type LeaseLostError } from '../errors';
import { sleep } from '../util/sleep';
import { perform } from '../perform';
import { metricsFlag, type WorkerHost } from './host';
import { workerSettings } from './options';
import { TypedEmitter, WorkerEvents, Finished, finishedTaskEvent, finishRefused } from './events';
import { LeaseKeeper } from './lease-keeper';
import { Prefetch, PrefetchSetting } from './prefetch';
import { abortLost, releaseAll } from './give-up';
import { IdleWait } from './idle';
import { idlerMember } from './handoff';
import { RedisWatch, isConnectionError, addressOf } from './redis-watch';
import { FlowWatch } from './flow';
import { CallIds } from './calls';

export type { WorkerHost } from './host';
export type { WorkerEvents, SweptEvent, ReconnectedEvent } from './events';

/** Pause after a failed claim, finish or wait before the loop tries again. */
const RETRY_MS = 200;
const keyOf = (t: Claimed) => `${t.queue}:${t.id}`;

export class Worker extends TypedEmitter<WorkerEvents> implements PublicWorker {
  readonly name: string;
  readonly queues: string[];
  readonly concurrency: number;
  readonly leaseMs: number;
  readonly maxStalls: number;
  /** Tasks claimed beyond the concurrency, leased and waiting in this process ('auto': only while tasks are short). */
  readonly prefetch: PrefetchSetting;
  readonly stats: WorkerStats = { done: 0, failed: 0, running: 0 };
  private state: 'new' | 'starting' | 'started' | 'stopping' | 'stopped' = 'new';
  /** Attempts being performed, by queue:id. */
  private performing = new Map<string, Claimed>();
  /** Performing, but leased to another worker now: not renewed (finish.lua refuses their outcome). */
  private lost = new WeakSet<Claimed>();
  /** perform() calls not yet returned (a handed-back attempt may still run on). */
  private busy = 0;
  /** Slots asked for by a claim in flight. */
  private reserved = 0;
  private finished: Finished[] = [];
  private flushing: Promise<void> | null = null;
  private claiming = false;
  private claimAgain = false;
  private readonly mirrorWanted: boolean | undefined;
  private releaseMirror: (() => Promise<void>) | null = null;
  private readonly ahead: Prefetch;
  private readonly idle: IdleWait;
  private readonly leases: LeaseKeeper;
  private readonly redisWatch: RedisWatch;
  private readonly flow: FlowWatch;
  private readonly calls = new CallIds();
  /** This worker's `idlers` member (handoff.ts); '' on ioredis-mock, whose workers never register. */
  private readonly idler: string;
  // Idle on real Redis, its wait loops see the enqueue (a hand-off or the marker): a claim of its own would be one more call.
  private onLocalEnqueue = (q: string) => { if (this.queues.includes(q) && !(this.idle.isIdle && !this.host.mock)) void this.claimWhileFree(); };

  constructor(private readonly host: WorkerHost, opts: WorkerOptions = {}) {
    super();
    const o = workerSettings(opts);
    ({ name: this.name, queues: this.queues, concurrency: this.concurrency, prefetch: this.prefetch, leaseMs: this.leaseMs, maxStalls: this.maxStalls } = o);
    this.mirrorWanted = o.mirror;
    this.redisWatch = new RedisWatch(`worker ${this.name}`, addressOf(host.redis),
      (e) => this.emitError(e), (downMs) => this.emit('reconnected', { downMs }));
    this.ahead = new Prefetch(this.prefetch, this.concurrency, host, { resume: () => { this.startHeld(); void this.claimWhileFree(); }, error: (e) => this.failed(e) });
    this.leases = new LeaseKeeper(host, { name: this.name, leaseMs: this.leaseMs, maxStalls: this.maxStalls, queues: this.queues }, {
      held: () => this.held(),
      lost: (e) => this.leaseLost(e),
      swept: (ev) => this.emit('swept', ev),
      answered: () => this.redisWatch.answered(),
      error: (e) => this.failed(e),
    });
    this.flow = new FlowWatch(host, this.queues, { takeHeld: (q) => this.ahead.takeQueue(q), wake: () => void this.claimWhileFree(), error: (e) => this.failed(e) });
    this.idler = host.mock ? '' : idlerMember(this.leaseMs, metricsFlag(host), this.name);
    this.idle = new IdleWait(host, this.queues, {
      wake: () => this.claimWhileFree(),
      handed: (t) => this.handed(t),
      full: () => this.free() <= 0,
      connection: (c) => this.redisWatch.watch(c),
      answered: () => this.redisWatch.answered(),
      failed: (e) => this.failed(e),
      rebuilt: (e) => this.emitError(e),
    }, this.idler, this.name);
  }

  /** Its last claims took all they asked for: a backlog is waiting and every slot is in use. */
  get saturated(): boolean {
    return this.state === 'started' && this.ahead.backlog;
  }

  /** Starts claiming. Rejects (and leaves nothing running) when the queue cannot reach Redis. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`worker ${this.name} was already started`);
    this.state = 'starting';
    try {
      await this.host.connected?.();
    } catch (err) {
      if (this.state === 'starting') this.state = 'new';
      throw err;
    }
    if (this.state !== 'starting') return; // stopped while it waited for Redis
    this.state = 'started';
    this.host.on('enqueued', this.onLocalEnqueue);
    this.redisWatch.watch(this.host.redis);
    this.releaseMirror = this.host.acquireMirror?.(this.mirrorWanted, (e) => this.emitError(e)) ?? null;
    this.idle.start(); this.leases.start();
    await this.flow.start(); // subscribed before the first claim: a pause published from now on is heard
    if (this.state === 'started') void this.claimWhileFree();
    this.emit('started');
  }

  /** Stops claiming, waits up to graceMs for running tasks, hands the rest back to the queue. */
  async stop(opts: { graceMs?: number } = {}): Promise<void> {
    if (this.state === 'stopped' || this.state === 'new' || this.state === 'starting') { this.state = 'stopped'; this.emit('stopped'); return; }
    if (this.state === 'stopping') return new Promise((r) => this.once('stopped', () => r()));
    this.state = 'stopping';
    this.host.off('enqueued', this.onLocalEnqueue);
    this.idle.halt(); this.flow.stop();
    const until = Date.now() + (opts.graceMs ?? 30000);
    while ((this.busy > 0 || this.claiming || this.reserved > 0) && Date.now() < until) await sleep(10);
    while (this.flushing || this.finished.length > 0) await (this.flushing ?? this.flushOutcomes());
    await this.idle.stopped(); // (a task handed meanwhile is held: handed back below)
    await this.handBackAll();
    this.leases.stop();
    this.redisWatch.unwatch();
    // Last: the mirror also records what handBackAll() just released.
    if (this.releaseMirror) await this.releaseMirror();
    this.state = 'stopped';
    this.emit('stopped');
  }

  /** Every attempt whose lease is ours: performing or held by the prefetch. */
  private held(): Claimed[] {
    return [...[...this.performing.values()].filter((t) => !this.lost.has(t)), ...this.ahead.tasks()];
  }

  private free(): number {
    return this.concurrency + this.ahead.extra() - this.performing.size - this.ahead.size - this.reserved;
  }

  /** Claims work into free slots, queues in the order given; goes idle when none is due. */
  private async claimWhileFree(): Promise<void> {
    if (this.state !== 'started') return;
    if (this.claiming) { this.claimAgain = true; return; }
    this.claiming = true;
    this.idle.busy();
    try {
      let found = true;
      while (this.state === 'started' && this.free() > 0 && found) {
        this.claimAgain = false;
        found = false;
        let nextAt = Infinity;
        for (const q of this.queues) {
          const want = this.free();
          if (want <= 0) break;
          const r = await this.runClaimScript('claim', q, [this.name, this.leaseMs, want, metricsFlag(this.host)], want);
          if (r.got > 0) found = true;
          nextAt = Math.min(nextAt, r.nextAt);
        }
        this.idle.nextAt = nextAt;
        if (!found && this.claimAgain) found = true;
      }
    } catch (err) {
      this.failed(err);
      await sleep(RETRY_MS);
    } finally {
      this.claiming = false;
    }
    if (this.state === 'started' && this.free() > 0) this.idle.rest();
  }

  /** Runs claim.lua or finish.lua (whose reply is a claim too) and starts what it claimed. */
  private async runClaimScript(script: 'claim' | 'finish', queue: string, argv: (string | number | Buffer)[], want: number, finishing: Finished[] = []) {
    this.reserved += want;
    // With a call id (calls.ts): a call resent after a reconnect gets the first call's reply; last, the idler entry (handoff.ts).
    const reply = await this.calls.run(queue, (id) => this.host.scriptNow(script, queue, [...argv, ...id, this.idler], true))
      .finally(() => { this.reserved -= want; }) as (Buffer | string)[];
    this.redisWatch.answered();
    const r = parseClaimReply(queue, reply);
    if (r.refused.length > 0) this.emitError(finishRefused(this.name, queue, r.refused, finishing));
    this.ahead.claimed(want, r.got);
    // Beyond the free slots (prefetch): held, leased, until a slot frees.
    for (const t of r.tasks) if (this.performing.size >= this.concurrency) this.ahead.hold(t); else this.startTask(t);
    this.flow.claimed(queue);
    return r;
  }

  /** An enqueue claimed a task for this idle worker (handoff.ts): started at once, or held when every slot filled meanwhile. */
  private handed(t: Claimed): void {
    if (this.state === 'started' && this.performing.size < this.concurrency) this.startTask(t); else { this.ahead.hold(t); this.flow.claimed(t.queue); }
    if (this.free() <= 0) this.idle.busy();
  }

  /** Starts held tasks while slots are free (never once stopping: those are handed back). */
  private startHeld(): void {
    while (this.state === 'started' && this.performing.size < this.concurrency) {
      const t = this.ahead.take();
      if (!t) break;
      this.startTask(t);
    }
  }

  private startTask(t: Claimed): void {
    const key = keyOf(t);
    this.performing.set(key, t);
    this.busy++;
    this.stats.running = this.performing.size;
    this.ahead.began(key);
    void perform(this.host.registry, t).then((o) => {
      const ms = this.ahead.ended(key);
      this.busy--;
      const ours = this.performing.get(key) === t;
      if (ours) this.performing.delete(key);
      this.stats.running = this.performing.size;
      const limited = ours && this.flow.rateLimited(t, o); // put back, with the ones held for its queue
      if (ms < 5) this.startHeld(); else setImmediate(() => this.startHeld()); // a long (or stalled) run: a pause read meanwhile comes first
      if (!ours || limited) return; // handed back at shutdown: its outcome must not land
      if (o.outcome === 'ok') this.stats.done++; else this.stats.failed++;
      this.finished.push({ t, o, ms });
      // Others still running: wait a turn so outcomes ending together share one finish.lua call.
      // None left (always so at concurrency 1): send at once.
      if (!this.flushing) this.flushing = (this.busy > 0 ? new Promise((r) => setImmediate(r)) : Promise.resolve()).then(() => this.flushOutcomes());
    });
  }

  /** Sends every outcome gathered since the last flush, one finish.lua per queue. */
  private async flushOutcomes(): Promise<void> {
    try {
      while (this.finished.length > 0) {
        const batch = this.finished;
        this.finished = [];
        for (const [queue, items] of groupByQueue(batch, (f) => f.t.queue)) {
          // Claiming here keeps queue order strict: only the first queue is topped up in the same call.
          const want = this.state === 'started' && queue === this.queues[0] ? Math.max(0, this.free()) : 0;
          const argv: (string | number | Buffer)[] = [this.name, this.leaseMs, want, items.length, metricsFlag(this.host)];
          for (const { t, o, ms } of items) argv.push(t.id, t.attempt, o.outcome, o.payload, o.retryAt, Math.round(ms));
          try {
            const r = await this.runClaimScript('finish', queue, argv, want, items);
            this.reportFinished(items, new Set(r.refused)); // only once recorded: a retried flush must not report twice
            if (want > 0 && r.got < want && this.queues.length === 1) this.idle.nextAt = r.nextAt;
            else if (this.free() > 0) void this.claimWhileFree();
          } catch (err) {
            this.failed(err);
            if ((err instanceof ReplyError && !isConnectionError(err)) || err instanceof NotReplicatedError) {
              // Redis answered with an error: sending the same again would fail forever. The tasks'
              // leases run out and the sweep queues them again (at-least-once), so nothing is lost.
            } else {
              // No answer: keep the outcomes and try again; the lease keeps the tasks ours meanwhile.
              this.finished.unshift(...items);
              await sleep(RETRY_MS);
            }
          }
        }
      }
    } finally {
      this.flushing = null;
    }
    if (this.state === 'started' && this.free() > 0 && !this.claiming) this.idle.rest();
  }

  /** 'task' for each recorded outcome (a refused one was not recorded: FinishRefusedError said so). */
  private reportFinished(items: Finished[], refused: Set<string>): void {
    if (this.listenerCount('task') === 0) return;
    for (const { t, o, ms } of items) if (!refused.has(t.id)) this.emit('task', finishedTaskEvent(t, o, ms));
  }

  /** Another worker holds these attempts now (give-up.ts): told to stop, not renewed. */
  private leaseLost(e: LeaseLostError): void {
    for (const t of abortLost(this.performing.values(), e)) this.lost.add(t);
    this.ahead.discard(e.queue, new Set(e.ids));
    this.emitError(e);
  }

  /** At stop: every attempt still held goes back to the queue (release.lua), ahead of later tasks. */
  private async handBackAll(): Promise<void> {
    const prefetched = await this.ahead.close();
    await releaseAll(this.host, this.name, this.performing, this.held(), prefetched); // (held(): the performing ones now, started)
    this.stats.running = this.performing.size;
  }

  /** A failed command: an outage is reported once (RedisUnreachableError), anything else as it is; once stopped, a background call (a sweep) cut off by close() is no outage. */
  private failed(err: unknown): void {
    if (isConnectionError(err)) { if (this.state !== 'stopped') this.redisWatch.lost(err); return; }
    if (err instanceof ReplyError) this.redisWatch.answered();
    this.emitError(err);
  }

  private emitError(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', err instanceof Error ? err : new Error(String(err)));
  }
}
