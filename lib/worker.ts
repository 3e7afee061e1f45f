// The claim/run/finish loop. In steady state a task costs one round trip: finish.lua records
// the outcomes of every attempt that ended in the same tick and claims as many new tasks.
// Idle, a worker blocks on its queues' marker keys (BZPOPMIN), so an enqueue wakes it at once.
import { EventEmitter } from 'events';
import { hostname } from 'os';
import { ReplyError } from 'ioredis';
import type { Redis } from 'ioredis';
import type { WorkerOptions, WorkerStats, FinishedTaskEvent, StoredError } from '../types';
import { duplicate } from './redis';
import { checkQueueName, QueueKeys, groupByQueue } from './keys';
import type { ScriptName } from './scripts';
import type { Registry } from './registry';
import { perform, abortTask, Claimed, Outcome } from './perform';
import { encodeError } from './codec';

/** What a worker needs of its queue (kept narrow so worker.ts does not import queue.ts). */
export interface WorkerHost extends EventEmitter {
  readonly redis: Redis;
  readonly mock: boolean;
  readonly registry: Registry;
  keys(queue: string): QueueKeys;
  script(name: ScriptName, queue: string, argv: (string | number | Buffer)[], binary?: boolean, client?: Redis): Promise<unknown>;
  /** A share of the MySQL mirror loop (lib/mirror.ts), or null when this worker does not mirror. */
  acquireMirror?(want: boolean | undefined, onError: (e: Error) => void): (() => Promise<void>) | null;
  /** The recurring-task scheduler for this worker's queues, started (lib/recurring/scheduler.ts). */
  startScheduler?(queues: string[], onError: (e: Error) => void): { stop(): Promise<void> };
}

const CLAIM_STRIDE = 11;
// Auto prefetch: claim ahead only while tasks take under AUTO_SHORT_MS on average, and only as
// many as finish within AUTO_BUDGET_MS; a prefetched task that waits HAND_BACK_MS anyway (the
// task ahead of it ran long) goes back to the queue for other workers.
const AUTO_SHORT_MS = 2;
const AUTO_BUDGET_MS = 2;
const AUTO_CAP = 16;
const HAND_BACK_MS = 10;
const IDLE_WAIT_MS = 5000;
const MOCK_POLL_MS = 20;
let seq = 0;

interface Finished { t: Claimed; o: Outcome; ms: number }

export class Worker extends EventEmitter {
  readonly name: string;
  readonly queues: string[];
  readonly concurrency: number;
  readonly leaseMs: number;
  readonly maxStalls: number;
  readonly stats: WorkerStats = { done: 0, failed: 0, running: 0 };
  private state: 'new' | 'started' | 'stopping' | 'stopped' = 'new';
  private running = new Map<string, Claimed>();
  private reserved = 0;
  private finished: Finished[] = [];
  private flushing: Promise<void> | null = null;
  private claiming = false;
  private kickAgain = false;
  private idle = false;
  private idleWaiters: (() => void)[] = [];
  private nextAt = Infinity;
  private dueTimer?: NodeJS.Timeout;
  private blockers = new Map<string, Redis>();
  private loops: Promise<void>[] = [];
  private timers: NodeJS.Timeout[] = [];
  private sweepLostError = encodeError(Object.assign(new Error('worker lost: the task was still running when its worker stopped renewing its lease (crashed or killed)'), { name: 'WorkerLostError', stack: 'WorkerLostError: worker lost' }));
  private readonly mirrorWanted: boolean | undefined;
  private releaseMirror: (() => Promise<void>) | null = null;
  private scheduler?: { stop(): Promise<void> };
  private onLocalEnqueue = (q: string) => { if (this.queues.includes(q)) this.kick(); };

  constructor(private readonly host: WorkerHost, opts: WorkerOptions = {}) {
    super();
    for (const k of Object.keys(opts)) {
      if (!['queues', 'concurrency', 'name', 'leaseMs', 'mirror', 'maxStalls', 'prefetch'].includes(k)) throw new TypeError(`worker: unknown option '${k}'`);
    }
    const queues = opts.queues ?? ['default'];
    if (!Array.isArray(queues) || queues.length === 0) throw new TypeError('worker: queues must be a non-empty array of queue names');
    this.queues = [...new Set(queues.map((q) => checkQueueName(q)))];
    this.concurrency = opts.concurrency ?? 1;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw new RangeError(`worker: concurrency must be an integer >= 1 (got ${String(opts.concurrency)})`);
    this.prefetch = opts.prefetch ?? 'auto';
    if (this.prefetch !== 'auto' && (!Number.isInteger(this.prefetch) || this.prefetch < 0)) throw new RangeError(`worker: prefetch must be 'auto' or an integer >= 0 (got ${String(opts.prefetch)})`);
    this.leaseMs = opts.leaseMs ?? 30000;
    if (!Number.isInteger(this.leaseMs) || this.leaseMs < 100) throw new RangeError(`worker: leaseMs must be an integer >= 100 (got ${String(opts.leaseMs)})`);
    this.maxStalls = opts.maxStalls ?? 1;
    if (!Number.isInteger(this.maxStalls) || this.maxStalls < 0) throw new RangeError(`worker: maxStalls must be an integer >= 0 (got ${String(opts.maxStalls)})`);
    this.name = opts.name ?? `${hostname()}:${process.pid}:${++seq}`;
    if (opts.mirror !== undefined && typeof opts.mirror !== 'boolean') throw new TypeError(`worker: mirror must be true or false (got ${String(opts.mirror)})`);
    this.mirrorWanted = opts.mirror;
  }

  /** Tasks claimed beyond the concurrency, leased and waiting in this process ('auto': only while tasks are short). */
  readonly prefetch: number | 'auto';
  private active = 0;
  private waiting: { t: Claimed; since: number }[] = [];
  /** Moving average of task durations (ms); unknown until one finishes, so a new worker claims no extra. */
  private avgMs = Infinity;
  /** Start times of the running attempts, oldest first (Map keeps insertion order). */
  private startedAt = new Map<string, number>();
  private handBackTimer?: NodeJS.Timeout;
  private handingBack: Promise<void> | null = null;

  private ahead(): number {
    if (this.prefetch !== 'auto') return this.prefetch;
    // Only while draining a backlog of short tasks: a task enqueued into an idle queue is claimed alone.
    if (!(this.avgMs < AUTO_SHORT_MS) || performance.now() >= this.backlogUntil) return 0;
    // A task running longer than the budget already: whatever is claimed now would wait behind it.
    const oldest = this.startedAt.values().next().value;
    if (oldest !== undefined && performance.now() - oldest > AUTO_BUDGET_MS) return 0;
    return Math.min(Math.max(AUTO_CAP, this.concurrency), Math.floor(AUTO_BUDGET_MS * this.concurrency / Math.max(this.avgMs, 0.05)));
  }

  /** Its last claims took all they asked for: a backlog is waiting and every slot is in use. */
  get saturated(): boolean {
    return this.state === 'started' && performance.now() < this.backlogUntil;
  }
  private backlogUntil = 0;

  private free(): number {
    return this.concurrency + this.ahead() - this.running.size - this.reserved;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`worker ${this.name} was already started`);
    this.state = 'started';
    this.host.on('enqueued', this.onLocalEnqueue);
    this.releaseMirror = this.host.acquireMirror?.(this.mirrorWanted, (e) => this.emitError(e)) ?? null;
    this.scheduler = this.host.startScheduler?.(this.queues, (e) => this.emitError(e));
    for (const q of this.queues) {
      if (!this.host.mock) {
        const conn = duplicate(this.host.redis);
        conn.on('error', () => undefined); // reconnects by itself; errors surface through commands
        this.blockers.set(q, conn);
      }
      this.loops.push(this.waitLoop(q));
    }
    // Renew leases of running tasks, and recover tasks of dead workers.
    this.timers.push(setInterval(() => this.renew(), Math.max(50, Math.floor(this.leaseMs / 3))));
    this.timers.push(setInterval(() => this.sweep(), Math.max(100, Math.floor(this.leaseMs / 2))));
    this.kick();
  }

  /** Claims work into free slots, queues in the order given; goes idle when none is due. */
  private async kick(): Promise<void> {
    if (this.state !== 'started') return;
    if (this.claiming) { this.kickAgain = true; return; }
    this.claiming = true;
    this.setIdle(false);
    try {
      let found = true;
      while (this.state === 'started' && this.free() > 0 && found) {
        this.kickAgain = false;
        found = false;
        let nextAt = Infinity;
        for (const q of this.queues) {
          const want = this.free();
          if (want <= 0) break;
          const r = await this.call('claim', q, [this.name, this.leaseMs, want], want);
          if (r.got > 0) found = true;
          nextAt = Math.min(nextAt, r.nextAt);
        }
        this.nextAt = nextAt;
        if (!found && this.kickAgain) found = true;
      }
    } catch (err) {
      this.emitError(err);
      await sleep(200);
    } finally {
      this.claiming = false;
    }
    if (this.state === 'started' && this.free() > 0) this.setIdle(true);
  }

  /** Runs claim.lua or finish.lua and starts what it claimed. */
  private async call(script: 'claim' | 'finish', queue: string, argv: (string | number | Buffer)[], want: number) {
    this.reserved += want;
    let reply: (Buffer | string)[];
    try {
      reply = await this.host.script(script, queue, argv, true) as (Buffer | string)[];
    } finally {
      this.reserved -= want;
    }
    const refused = (reply[0] ?? '').toString();
    if (refused) this.emitError(new Error(`worker ${this.name}: finish refused for task(s) ${refused} in ${queue}: their lease was taken over`));
    const got = Number(reply[1].toString());
    // All it asked for: more is probably waiting. Fewer: the queue ran dry.
    if (want > 0) this.backlogUntil = got === want ? performance.now() + 250 : 0;
    const nextAt = reply[2] && reply[2].length ? Number(reply[2].toString()) : Infinity;
    for (let i = 0; i < got; i++) {
      const o = 3 + i * CLAIM_STRIDE;
      const s = (j: number) => (reply[o + j] ?? '').toString();
      const t: Claimed = {
        queue, id: s(0), attempt: Number(s(1)), type: s(2), objectId: s(3), action: s(4), args: reply[o + 5] ?? '',
        timeout: Number(s(6)) || 0, maxAttempts: Number(s(7)) || 1, backoff: s(8), stalled: Number(s(9)) || 0, released: Number(s(10)) || 0,
      };
      this.run(t);
    }
    return { got, nextAt };
  }

  private run(t: Claimed): void {
    const key = `${t.queue}:${t.id}`;
    this.running.set(key, t);
    if (this.active >= this.concurrency) {
      this.waiting.push({ t, since: performance.now() });
      if (this.prefetch === 'auto') this.armHandBack();
    } else this.begin(t, key);
  }

  /** Starts prefetched tasks while slots are free (never once stopping: those are handed back). */
  private startWaiting(): void {
    while (this.state === 'started' && this.waiting.length > 0 && this.active < this.concurrency) {
      const { t } = this.waiting.shift()!;
      const key = `${t.queue}:${t.id}`;
      if (this.running.get(key) === t) this.begin(t, key);
    }
  }

  private armHandBack(): void {
    if (this.handBackTimer || this.waiting.length === 0) return;
    const due = this.waiting[0].since + HAND_BACK_MS - performance.now();
    this.handBackTimer = setTimeout(() => { this.handBackTimer = undefined; this.handingBack ??= this.handBack().finally(() => { this.handingBack = null; }); }, Math.max(1, due));
  }

  /** Auto prefetch guessed wrong (the task ahead runs long): give the waiting ones back to the queue. */
  private async handBack(): Promise<void> {
    if (this.state !== 'started' || this.waiting.length === 0) return;
    if (performance.now() - this.waiting[0].since < HAND_BACK_MS) { this.armHandBack(); return; }
    const back = this.waiting.splice(0).map((w) => w.t).filter((t) => this.running.get(`${t.queue}:${t.id}`) === t);
    for (const t of back) this.running.delete(`${t.queue}:${t.id}`);
    // Tasks this slow are not short: claim no extra until the average says so again.
    this.avgMs = Math.max(this.avgMs, HAND_BACK_MS);
    for (const [q, ts] of groupByQueue(back, (t) => t.queue)) {
      try {
        await this.host.script('release', q, leaseTokens(ts));
      } catch (err) {
        // Still leased to us: keep them (renewed), start them when a slot frees, try again later.
        this.emitError(err);
        for (const t of ts) { this.running.set(`${t.queue}:${t.id}`, t); this.waiting.push({ t, since: performance.now() }); }
      }
    }
    this.startWaiting();
    this.armHandBack();
  }

  private begin(t: Claimed, key: string): void {
    this.active++;
    this.stats.running = this.active;
    const started = performance.now();
    this.startedAt.set(key, started);
    perform(this.host.registry, t).then((o) => {
      this.startedAt.delete(key);
      const ms = performance.now() - started;
      this.avgMs = this.avgMs === Infinity ? ms : this.avgMs * 0.8 + ms * 0.2;
      this.active--;
      this.stats.running = this.active;
      this.startWaiting();
      if (this.running.get(key) !== t) return; // handed back at shutdown: its outcome must not land
      this.running.delete(key);
      if (o.outcome === 'ok') this.stats.done++; else this.stats.failed++;
      this.finished.push({ t, o, ms });
      // Others still running: wait a turn so outcomes ending together share one finish.lua call.
      // None left (always so at concurrency 1): send at once.
      if (!this.flushing) this.flushing = (this.active > 0 ? new Promise((r) => setImmediate(r)) : Promise.resolve()).then(() => this.flush());
    });
  }

  /** Sends every outcome gathered since the last flush, one finish.lua per queue. */
  private async flush(): Promise<void> {
    try {
      while (this.finished.length > 0) {
        const batch = this.finished;
        this.finished = [];
        for (const [queue, items] of groupByQueue(batch, (f) => f.t.queue)) {
          // Claiming here keeps queue order strict: only the first queue is topped up in the same call.
          const want = this.state === 'started' && queue === this.queues[0] ? Math.max(0, this.free()) : 0;
          const argv: (string | number | Buffer)[] = [this.name, this.leaseMs, want, items.length];
          for (const { t, o } of items) argv.push(t.id, t.attempt, o.outcome, o.payload, o.retryAt);
          try {
            const r = await this.call('finish', queue, argv, want);
            this.report(items); // only once recorded: a retried flush must not report twice
            if (want > 0 && r.got < want && this.queues.length === 1) this.nextAt = r.nextAt;
            else if (this.free() > 0) this.kick();
          } catch (err) {
            this.emitError(err);
            if (err instanceof ReplyError) {
              // Redis answered with an error: sending the same again would fail forever. The tasks'
              // leases run out and the sweep queues them again (at-least-once), so nothing is lost.
            } else {
              // Redis unreachable: keep the outcomes and try again; the lease keeps the tasks ours meanwhile.
              this.finished.unshift(...items);
              await sleep(200);
            }
          }
        }
      }
    } finally {
      this.flushing = null;
    }
    if (this.state === 'started' && this.free() > 0 && !this.claiming) this.setIdle(true);
  }

  private report(items: Finished[]): void {
    if (this.listenerCount('task') === 0) return;
    for (const { t, o, ms } of items) {
      const ev: FinishedTaskEvent = { id: Number(t.id), queue: t.queue, objectType: t.type, objectId: t.objectId || null,
        action: t.action, success: o.outcome === 'ok', durationMs: ms, attempt: t.attempt, willRetry: o.outcome === 'retry' };
      if (o.outcome === 'retry') ev.retryAt = new Date(o.retryAt);
      if (o.error) ev.error = o.error as StoredError;
      this.emit('task', ev);
    }
  }

  private setIdle(idle: boolean): void {
    this.idle = idle;
    clearTimeout(this.dueTimer);
    if (!idle) return;
    for (const w of this.idleWaiters.splice(0)) w();
    // Redis times out blocked clients only on its cron tick (100 ms), too coarse for a scheduled
    // task: a timer of our own claims it on time.
    if (this.nextAt < Infinity && this.state === 'started') {
      this.dueTimer = setTimeout(() => { if (this.idle) this.kick(); }, Math.max(0, this.nextAt - Date.now()));
    }
  }

  private whenIdle(): Promise<void> {
    return this.idle ? Promise.resolve() : new Promise((r) => this.idleWaiters.push(r));
  }

  /** Per queue: while the worker is idle, wait on the queue's marker, then look for work. */
  private async waitLoop(queue: string): Promise<void> {
    const marker = this.host.keys(queue).marker;
    while (this.state === 'started') {
      await this.whenIdle();
      if (this.state !== 'started') break;
      const waitMs = Math.max(1, Math.min(IDLE_WAIT_MS, this.nextAt - Date.now()));
      const conn = this.blockers.get(queue);
      try {
        if (conn) {
          const popped = await conn.bzpopmin(marker, waitMs / 1000);
          // Woken while busy: pass the wake-up on to another worker.
          if (popped && this.free() <= 0) await this.host.redis.zadd(marker, 0, '0');
        } else {
          await sleep(Math.min(waitMs, MOCK_POLL_MS));
        }
      } catch (err) {
        if (this.state !== 'started') break;
        this.emitError(err);
        await sleep(200);
      }
      if (this.idle) await this.kick();
    }
  }

  /** The (id, attempt) lease tokens of what this worker holds, per queue. */
  private leases(): Map<string, (string | number)[]> {
    const out = new Map<string, (string | number)[]>();
    for (const [q, ts] of groupByQueue(this.running.values(), (t) => t.queue)) out.set(q, leaseTokens(ts));
    return out;
  }

  private async renew(): Promise<void> {
    for (const [q, pairs] of this.leases()) {
      try {
        const lost = String(await this.host.script('extend', q, [this.leaseMs, ...pairs]) ?? '');
        if (lost) {
          const e = new Error(`worker ${this.name}: lost the lease of task(s) ${lost} in ${q}`);
          // Another worker may run them now: tell methods that take a signal to stop.
          const ids = new Set(lost.split(','));
          for (const t of this.running.values()) if (t.queue === q && ids.has(t.id)) abortTask(t, e);
          this.emitError(e);
        }
      } catch (err) { this.emitError(err); }
    }
  }

  private async sweep(): Promise<void> {
    for (const q of this.queues) {
      try {
        await this.host.script('sweep', q, [this.maxStalls, this.sweepLostError, Math.max(100, Math.floor(this.leaseMs / 2)), this.name]);
      } catch (err) { this.emitError(err); }
    }
  }

  /** Stops claiming, waits up to graceMs for running tasks, hands the rest back to the queue. */
  async stop(opts: { graceMs?: number } = {}): Promise<void> {
    if (this.state === 'stopped' || this.state === 'new') { this.state = 'stopped'; this.emit('stopped'); return; }
    if (this.state === 'stopping') return new Promise((r) => this.once('stopped', () => r()));
    this.state = 'stopping';
    this.host.off('enqueued', this.onLocalEnqueue);
    await this.scheduler?.stop();
    this.setIdle(true); // release the wait loops
    for (const c of this.blockers.values()) c.disconnect();
    const until = Date.now() + (opts.graceMs ?? 30000);
    while ((this.active > 0 || this.claiming || this.reserved > 0) && Date.now() < until) await sleep(10);
    while (this.flushing || this.finished.length > 0) await (this.flushing ?? this.flush());
    clearTimeout(this.handBackTimer);
    await this.handingBack;
    if (this.running.size > 0) await this.release();
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.dueTimer);
    await Promise.all(this.loops);
    // Last: the mirror also records what release() just handed back.
    if (this.releaseMirror) await this.releaseMirror();
    this.state = 'stopped';
    this.emit('stopped');
  }

  private async release(): Promise<void> {
    const byQueue = this.leases();
    const handedBack = new Error(`worker ${this.name} stopped: the task was handed back to the queue`);
    for (const t of this.running.values()) abortTask(t, handedBack);
    this.running.clear();
    this.waiting = [];
    clearTimeout(this.handBackTimer);
    this.stats.running = 0;
    for (const [q, pairs] of byQueue) await this.host.script('release', q, pairs);
  }

  private emitError(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** (id, attempt) pairs: what extend.lua and release.lua take to know an attempt is still ours. */
const leaseTokens = (ts: Claimed[]) => ts.flatMap((t) => [t.id, t.attempt]);
