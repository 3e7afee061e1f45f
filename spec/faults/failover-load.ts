// Load for the failover specs: producers enqueue without pause, in-process workers run the tasks,
// and every enqueue that resolved is checked to have run. A task records its token when it runs.
import { setup, Queue, Worker } from '../../lib';
import type { SetupOptions } from '../../types';

export interface LoadResult {
  /** Enqueues that resolved (the caller was told: stored). */
  resolved: number;
  /** Enqueues that rejected (the caller was told: not stored, or not replicated). */
  rejected: number;
  rejections: string[];
  /** Resolved, and never ran: acknowledged tasks the failover lost. */
  lost: number;
  /** Resolved after the fault, all ran (the workers resumed by themselves). */
  afterFault: number;
  afterFaultRan: number;
  /** Worker 'error' messages, counted by their first words. */
  workerErrors: Map<string, number>;
  /** Distinct rebuilds of a blocking connection that the workers reported. */
  rebuilt: number;
}

export const Probe = {
  ran: new Set<string>(),
  /** Set by underLoad: how long a task takes (0: at once; more: the queues keep a backlog). */
  ms: 0,
  async hit(token: string) {
    if (Probe.ms) await new Promise((r) => setTimeout(r, Probe.ms));
    Probe.ran.add(token);
    return token;
  },
};

/**
 * Enqueues into `queues` from `producers` loops while `workers` workers run them; runs `fault()`
 * after `beforeMs`, keeps the load on for `afterMs` after it, then waits up to `drainMs` for every
 * resolved task to run.
 */
export async function underLoad(redis: SetupOptions['redis'], o: {
  prefix: string; queues: string[]; replicas?: number; fault: () => Promise<void>;
  beforeMs?: number; afterMs?: number; drainMs?: number; producers?: number; workers?: number; taskMs?: number;
}): Promise<LoadResult> {
  Probe.ran = new Set();
  Probe.ms = o.taskMs ?? 0;
  const opts = { redis, prefix: o.prefix, replicas: o.replicas ?? 0, replicaTimeoutMs: 1000 };
  const producerQ = setup(opts);
  producerQ.on('error', () => undefined);
  producerQ.register('Probe', Probe);
  const workerQs: Queue[] = [];
  const workers: Worker[] = [];
  const workerErrors = new Map<string, number>();
  let rebuilt = 0;
  for (let i = 0; i < (o.workers ?? 2); i++) {
    const q = setup(opts);
    q.on('error', () => undefined);
    q.register('Probe', Probe);
    const w = q.worker({ queues: o.queues, concurrency: 4, leaseMs: 2000, name: `fo-${i}` });
    w.on('error', (e) => {
      const k = e.message.replace(/\d+/g, 'N').slice(0, 90);
      workerErrors.set(k, (workerErrors.get(k) ?? 0) + 1);
      if (/blocking connection .* a new one replaces it/.test(e.message)) rebuilt++;
    });
    await w.start();
    workerQs.push(q);
    workers.push(w);
  }
  const resolved: string[] = [];
  const afterFault: string[] = [];
  const rejections: string[] = [];
  let rejected = 0;
  let faulted = false;
  let producing = true;
  let n = 0;
  const produce = async () => {
    while (producing) {
      const token = `t${n++}`;
      const queue = o.queues[n % o.queues.length];
      try {
        await producerQ.async(Probe, 'hit', { args: [token], queue });
        resolved.push(token);
        if (faulted) afterFault.push(token);
      } catch (e) {
        rejected++;
        if (rejections.length < 5) rejections.push((e as Error).message);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  const loops = Array.from({ length: o.producers ?? 4 }, produce);
  try {
    await new Promise((r) => setTimeout(r, o.beforeMs ?? 1000));
    await o.fault();
    faulted = true;
    await new Promise((r) => setTimeout(r, o.afterMs ?? 2000));
    producing = false;
    await Promise.all(loops);
    const end = Date.now() + (o.drainMs ?? 20000);
    while (Date.now() < end && resolved.some((t) => !Probe.ran.has(t))) await new Promise((r) => setTimeout(r, 100));
    return {
      resolved: resolved.length, rejected, rejections,
      lost: resolved.filter((t) => !Probe.ran.has(t)).length,
      afterFault: afterFault.length, afterFaultRan: afterFault.filter((t) => Probe.ran.has(t)).length,
      workerErrors, rebuilt,
    };
  } finally {
    producing = false;
    await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
    await Promise.all([producerQ, ...workerQs].map((q) => q.close().catch(() => undefined)));
  }
}

/** One line for the log and docs. */
export function describeResult(what: string, r: LoadResult): string {
  const errs = [...r.workerErrors].map(([k, v]) => `${v}x ${k}`).join('; ');
  return `${what}: ${r.resolved} enqueues resolved, ${r.rejected} rejected${r.rejections[0] ? ` (e.g. ${r.rejections[0].slice(0, 120)})` : ''}, `
    + `${r.lost} acknowledged lost; after the fault ${r.afterFaultRan}/${r.afterFault} ran; blocking connections rebuilt: ${r.rebuilt}; worker errors: ${errs || 'none'}`;
}
