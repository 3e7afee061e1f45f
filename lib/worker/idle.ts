// Idle blocking: while a worker has free slots and nothing due, each of its queues waits on the
// queue's marker key (BZPOPMIN on a connection of its own), so an enqueue wakes it at once; a
// timer of its own wakes it when the earliest scheduled task becomes due. Before each wait it
// registers in the queue's `idlers` and waits on its handoff key too, so an enqueue can hand it a
// claimed task directly (handoff.ts). On ioredis-mock, which cannot block, it polls.
import type { Redis } from 'ioredis';
import { duplicate, addressOf } from '../redis';
import { sleep } from '../util/sleep';
import { handoffKey } from '../keys';
import type { Claimed } from '../claim-reply';
import type { WorkerHost } from './host';
import { parseHanded } from './handoff';

const IDLE_WAIT_MS = 5000;
/** How long past its wait's end an idlers entry still counts (the registration is renewed before each wait). */
const IDLER_SLACK_MS = 2000;
const MOCK_POLL_MS = 20;
const RETRY_MS = 200;
/** At stop: how long the loops may take to see idle-leave.lua's 'stop' before their connections are cut. */
const LEAVE_MS = 1000;

export interface IdleHooks {
  /** Look for work (the worker's claim loop). */
  wake(): Promise<void>;
  /** An enqueue handed this worker a task, claimed for it (leased to it already). */
  handed(t: Claimed): void;
  /** Every slot taken: a wake-up popped now belongs to another worker. */
  full(): boolean;
  /** A connection of ours was made (to watch for outages). */
  connection(c: Redis): void;
  answered(): void;
  failed(err: unknown): void;
  /** A blocking connection was rebuilt (the Error says why): for the worker's 'error' event. */
  rebuilt(err: Error): void;
}

// A blocking connection that cannot go on as it is: unblocked or refused by a node that is a
// replica now (failover), or closed for good by ioredis ('end': it will not reconnect).
function broken(err: unknown, conn: Redis): string | null {
  const msg = String((err as Error | null)?.message ?? err);
  if (conn.status === 'end') return `was closed for good (ioredis 'end' state; ${msg})`;
  if (/^(UNBLOCKED|READONLY)\b/.test(msg)) return `was cut off by a failover (${msg})`;
  return null;
}

export class IdleWait {
  /** When the earliest scheduled task is due (ms); the worker's claims keep it up to date. */
  nextAt = Infinity;
  private idle = false;
  private halted = false;
  private waiters: (() => void)[] = [];
  private dueTimer?: NodeJS.Timeout;
  private blockers = new Map<string, Redis>();
  /** Queues whose rebuilt connection has not had an answer yet: their next rebuilds are the same failover. */
  private rebuilding = new Set<string>();
  private loops: Promise<void>[] = [];
  private leaving: Promise<unknown> = Promise.resolve();

  /** `idler`: this worker's `idlers` member (handoff.ts), `worker` its name. */
  constructor(private readonly host: Pick<WorkerHost, 'redis' | 'mock' | 'keys' | 'script'>, private readonly queues: string[], private readonly hooks: IdleHooks,
    private readonly idler: string, private readonly worker: string) {}

  get isIdle(): boolean { return this.idle; }

  start(): void {
    for (const q of this.queues) {
      if (!this.host.mock) this.blockers.set(q, this.connect());
      this.loops.push(this.waitLoop(q));
    }
  }

  private connect(): Redis {
    const conn = duplicate(this.host.redis);
    conn.on('error', () => undefined); // it reconnects by itself; no "Unhandled error event" once unwatched
    this.hooks.connection(conn); // its failed attempts are an outage's signs
    return conn;
  }

  /** Replaces a queue's blocking connection that cannot go on, and says so. */
  private rebuild(queue: string, old: Redis, why: string): void {
    old.disconnect();
    this.blockers.set(queue, this.connect());
    // A server that stays a replica refuses every new connection's BZPOPMIN too: say it once.
    if (this.rebuilding.has(queue)) return;
    this.rebuilding.add(queue);
    this.hooks.rebuilt(new Error(`the blocking connection of queue ${queue} (Redis at ${addressOf(old)}) ${why}: a new one replaces it`));
  }

  /** Looking for work or running some: the wait loops hold still. */
  busy(): void { this.set(false); }

  /** Nothing more to claim now: wait on the markers (and for nextAt). */
  rest(): void { this.set(true); }

  /**
   * Ends the waits: leaves `idlers` and hands back what was handed and not read (idle-leave.lua,
   * which also ends a BZPOPMIN in flight); stopped() resolves when the loops are out. A task the
   * loops still read meanwhile goes to hooks.handed (the stopping worker releases it).
   */
  halt(): void {
    this.halted = true;
    this.set(true);
    clearTimeout(this.dueTimer);
    if (this.blockers.size === 0) return;
    const loops = Promise.all(this.loops);
    // Redis gone: no waiting beyond LEAVE_MS (the entries go stale, idlers' freshness bound).
    const left = Promise.all(this.queues.map((q) => this.host.script('idle-leave', q, [this.idler]))).then(() => loops);
    this.leaving = Promise.race([left, sleep(LEAVE_MS)]).catch((e) => this.hooks.failed(e))
      .finally(() => { for (const c of this.blockers.values()) c.disconnect(); });
  }

  async stopped(): Promise<void> {
    await this.leaving;
    await Promise.all(this.loops);
  }

  private set(idle: boolean): void {
    this.idle = idle;
    clearTimeout(this.dueTimer);
    if (!idle) return;
    for (const w of this.waiters.splice(0)) w();
    // Redis times out blocked clients only on its cron tick (100 ms), too coarse for a scheduled
    // task: a timer of our own claims it on time.
    if (this.nextAt < Infinity && !this.halted) {
      this.dueTimer = setTimeout(() => { if (this.idle) void this.hooks.wake(); }, Math.max(0, this.nextAt - Date.now()));
    }
  }

  private whenIdle(): Promise<void> {
    return this.idle || this.halted ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }

  /** Per queue: while the worker is idle, register for a hand-off and wait on the queue's marker and its handoff key, then look for work. */
  private async waitLoop(queue: string): Promise<void> {
    const k = this.host.keys(queue);
    const marker = k.marker, mine = handoffKey(k, this.worker);
    while (!this.halted) {
      await this.whenIdle();
      if (this.halted) break;
      const waitMs = Math.max(1, Math.min(IDLE_WAIT_MS, this.nextAt - Date.now()));
      const conn = this.blockers.get(queue);
      try {
        if (conn) {
          // Registered and blocked in one write (an enqueue that ran between the two leaves the task in its key: BZPOPMIN takes it at once).
          // The score says until when the entry counts, the wait's end and some slack: an enqueue drops an entry past it (a worker killed meanwhile).
          const until = Date.now() + waitMs + IDLER_SLACK_MS;
          const [reg, pop] = (await conn.pipeline().zadd(k.idlers, until, this.idler).bzpopminBuffer(mine, marker, waitMs / 1000).exec()) ?? [];
          if (reg?.[0]) throw reg[0];
          if (pop?.[0]) throw pop[0];
          const popped = pop?.[1] as [Buffer, Buffer, Buffer] | null;
          this.hooks.answered();
          this.rebuilding.delete(queue);
          if (popped && popped[0].toString() === mine) {
            const t = parseHanded(queue, popped[1]);
            if (t) this.hooks.handed(t);
            continue; // no claim: enqueue.lua set the marker if more are due
          }
          // Woken while busy: pass the wake-up on to another worker.
          if (popped && this.hooks.full()) await this.host.redis.zadd(marker, 0, '0');
        } else {
          await sleep(Math.min(waitMs, MOCK_POLL_MS));
        }
      } catch (err) {
        if (this.halted) break;
        const why = conn ? broken(err, conn) : null;
        if (conn && why) this.rebuild(queue, conn, why);
        this.hooks.failed(err);
        await sleep(RETRY_MS);
      }
      if (this.idle && !this.halted) await this.hooks.wake();
    }
  }
}
