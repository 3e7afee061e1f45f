// Leases: a worker renews the leases of the attempts it holds (extend.lua), and sweeps up the
// tasks of workers that died (sweep.lua: an expired lease goes back in line as a stall, or fails
// with "worker lost" past maxStalls). The sweep runs at start and every leaseMs/2, over every
// queue of the prefix with an expired lease, not only the worker's own: a queue no running worker
// serves must not keep tasks 'running' for ever. The per-queue `sweeper` lock keeps it to one
// sweep per queue per interval, however many workers run.
//
// abandonWorker() is for a supervisor that saw its worker die: abandon.lua expires that worker's
// leases now, and the sweep recovers them at once rather than when the leases run out.
import { queuesKey, groupByQueue } from '../keys';
import type { Claimed } from '../claim-reply';
import { encodeError } from '../codec';
import { LeaseLostError, WorkerLostError } from '../errors';
import { taskLabel } from '../label';
import { metricsFlag, type ScriptHost } from './host';
import type { SweptEvent } from './events';
import { leaseTokens } from './prefetch';

/** Stored as the error of a task failed by the sweep (its worker died more often than maxStalls allows). */
const WORKER_LOST = encodeError(Object.assign(
  new WorkerLostError('worker lost: the task was still running when its worker stopped renewing its lease (crashed or killed)'),
  { stack: 'WorkerLostError: worker lost' }));

export interface LeaseKeeperOptions {
  /** The worker's name: the holder of the sweeper lock. */
  name: string;
  leaseMs: number;
  maxStalls: number;
  /** The worker's own queues: always swept, even before the queue set lists them. */
  queues: string[];
}

export interface LeaseKeeperHooks {
  /** Every attempt the worker holds (running or prefetched). */
  held(): Iterable<Claimed>;
  /** Attempts whose lease is another worker's now: stop them, drop them. */
  lost(err: LeaseLostError): void;
  swept(ev: SweptEvent): void;
  /** A command got an answer (for the outage report). */
  answered(): void;
  error(err: unknown): void;
}

export class LeaseKeeper {
  private timers: NodeJS.Timeout[] = [];
  private renewing = false;
  private sweeping = false;

  constructor(private readonly host: ScriptHost, private readonly o: LeaseKeeperOptions, private readonly hooks: LeaseKeeperHooks) {}

  /** Sweeps at once (leases that ran out while no worker was up are recovered now), then renews and sweeps on timers. */
  start(): void {
    void this.sweep();
    this.timers.push(setInterval(() => void this.renew(), Math.max(50, Math.floor(this.o.leaseMs / 3))));
    this.timers.push(setInterval(() => void this.sweep(), sweepEvery(this.o.leaseMs)));
  }

  stop(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
  }

  /** Extends the lease of every held attempt; reports the ones that are no longer ours. */
  async renew(): Promise<void> {
    // While Redis is away the previous renewal is still waiting: do not queue up another.
    if (this.renewing) return;
    this.renewing = true;
    try {
      for (const [q, ts] of groupByQueue(this.hooks.held(), (t) => t.queue)) {
        try {
          const lost = String(await this.host.script('extend', q, [this.o.leaseMs, ...leaseTokens(ts)]) ?? '');
          this.hooks.answered();
          if (lost) this.hooks.lost(leaseLost(this.o.name, q, ts, lost.split(',')));
        } catch (err) { this.hooks.error(err); }
      }
    } finally {
      this.renewing = false;
    }
  }

  /** Recovers the expired leases of every queue of the prefix (throttled per queue by the sweeper lock). */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const queues = await queuesWithRunning(this.host, 'expired', this.o.queues);
      this.hooks.answered();
      for (const q of queues) {
        try {
          const r = await sweepQueue(this.host, q, this.o.maxStalls, sweepEvery(this.o.leaseMs), this.o.name);
          this.hooks.answered();
          if (r && (r.recovered > 0 || r.failed > 0)) this.hooks.swept(r);
        } catch (err) { this.hooks.error(err); }
      }
    } catch (err) {
      this.hooks.error(err);
    } finally {
      this.sweeping = false;
    }
  }
}

const sweepEvery = (leaseMs: number) => Math.max(100, Math.floor(leaseMs / 2));

function leaseLost(worker: string, queue: string, ts: Claimed[], ids: string[]): LeaseLostError {
  const lost = new Set(ids);
  const which = ts.filter((t) => lost.has(t.id)).map((t) => `${t.id} ${taskLabel(t.type, t.objectId, t.action)}`);
  return new LeaseLostError(`worker ${worker} lost the lease of task(s) ${which.join(', ') || ids.join(', ')} in queue ${queue}: `
    + 'another worker may run them now (the renewal came too late)', queue, ids);
}

/**
 * Queue names of the prefix (and `also`) with running tasks: 'expired' only those with a lease
 * that has run out (what a sweep would recover), 'any' every one with a running task.
 */
export async function queuesWithRunning(host: ScriptHost, which: 'expired' | 'any', also: string[] = []): Promise<string[]> {
  const names = [...new Set([...also, ...await host.redis.smembers(queuesKey(host.prefix))])];
  if (names.length === 0) return [];
  const now = Date.now();
  // One command per queue, not one pipeline: on a Redis Cluster the queues live in different slots
  // (auto-pipelining still batches them per node).
  const replies = await Promise.all(names.map((q) => (which === 'expired'
    ? host.redis.zrangebyscore(host.keys(q).running, '-inf', now, 'LIMIT', 0, 1) : host.redis.zcard(host.keys(q).running))));
  return names.filter((_q, i) => {
    const v = replies[i];
    return Array.isArray(v) ? v.length > 0 : Number(v) > 0;
  });
}

/** One sweep.lua on a queue: what it recovered and failed, or null when another sweeper holds the lock. */
export async function sweepQueue(host: ScriptHost, queue: string, maxStalls: number, throttleMs: number, sweeper: string): Promise<SweptEvent | null> {
  const r = await host.script('sweep', queue, [maxStalls, WORKER_LOST, throttleMs, sweeper, metricsFlag(host)]) as (string | number)[];
  const recovered = Number(r?.[0]);
  const failed = Number(r?.[1]);
  if (!(recovered >= 0) || !(failed >= 0)) return null;
  return { queue, recovered, failed };
}

/** What abandonWorker did on one queue: leases expired, and what the sweep then recovered and failed. */
export interface AbandonedQueue extends SweptEvent {
  /** The dead worker's attempts whose lease abandon.lua expired. */
  abandoned: number;
  /** False when another worker's sweep took them first (its counts are not known here). */
  sweptHere: boolean;
}

/**
 * For a supervisor (or anyone) that knows a worker is dead: takes it out of the idle workers an
 * enqueue hands tasks to, expires the leases of its running tasks on every queue of the prefix and
 * sweeps them at once, so they run again now (as stalls,
 * counted in `stalled`, failing with "worker lost" past maxStalls) instead of when the leases run
 * out. Each recovered task's hash gets `stalled_by` = the dead worker's name. Returns one entry
 * per queue where the worker held something. Do not call it for a worker that may still be alive:
 * its tasks would run twice.
 */
export async function abandonWorker(host: ScriptHost, workerName: string, opts: { maxStalls?: number } = {}): Promise<AbandonedQueue[]> {
  if (typeof workerName !== 'string' || workerName === '') throw new TypeError('abandonWorker: give the dead worker\'s name');
  const maxStalls = opts.maxStalls ?? 1;
  if (!Number.isInteger(maxStalls) || maxStalls < 0) throw new RangeError(`abandonWorker: maxStalls must be an integer >= 0 (got ${String(opts.maxStalls)})`);
  const out: AbandonedQueue[] = [];
  // Every queue, not only those with running tasks: an idle worker's hand-off entry goes too.
  for (const q of (await host.redis.smembers(queuesKey(host.prefix))).sort()) {
    const abandoned = Number(await host.script('abandon', q, [workerName]));
    if (!(abandoned > 0)) continue;
    // abandon.lua dropped the sweeper lock, so this sweep runs now unless another worker's just took it.
    const r = await sweepQueue(host, q, maxStalls, 1000, `abandon:${workerName}`);
    out.push({ queue: q, abandoned, recovered: r?.recovered ?? 0, failed: r?.failed ?? 0, sweptHere: r !== null });
  }
  return out;
}
