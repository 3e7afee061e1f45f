// A worker's options, checked once, with their defaults.
import { hostname } from 'os';
import type { WorkerOptions } from '../../types';
import { checkQueueName } from '../keys';
import type { PrefetchSetting } from './prefetch';

const KNOWN = ['queues', 'concurrency', 'name', 'leaseMs', 'mirror', 'maxStalls', 'prefetch'];
let seq = 0;

export interface Settings {
  name: string;
  queues: string[];
  concurrency: number;
  prefetch: PrefetchSetting;
  leaseMs: number;
  maxStalls: number;
  /** Run the mirror loop here: undefined = when the queue mirrors. */
  mirror: boolean | undefined;
}

export function workerSettings(opts: WorkerOptions): Settings {
  for (const k of Object.keys(opts)) if (!KNOWN.includes(k)) throw new TypeError(`worker: unknown option '${k}'`);
  const queues = opts.queues ?? ['default'];
  if (!Array.isArray(queues) || queues.length === 0) throw new TypeError('worker: queues must be a non-empty array of queue names');
  const concurrency = opts.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`worker: concurrency must be an integer >= 1 (got ${String(opts.concurrency)})`);
  const prefetch = opts.prefetch ?? 'auto';
  if (prefetch !== 'auto' && (!Number.isInteger(prefetch) || prefetch < 0)) throw new RangeError(`worker: prefetch must be 'auto' or an integer >= 0 (got ${String(opts.prefetch)})`);
  const leaseMs = opts.leaseMs ?? 30000;
  if (!Number.isInteger(leaseMs) || leaseMs < 100) throw new RangeError(`worker: leaseMs must be an integer >= 100 (got ${String(opts.leaseMs)})`);
  const maxStalls = opts.maxStalls ?? 1;
  if (!Number.isInteger(maxStalls) || maxStalls < 0) throw new RangeError(`worker: maxStalls must be an integer >= 0 (got ${String(opts.maxStalls)})`);
  if (opts.mirror !== undefined && typeof opts.mirror !== 'boolean') throw new TypeError(`worker: mirror must be true or false (got ${String(opts.mirror)})`);
  return {
    name: opts.name ?? `${hostname()}:${process.pid}:${++seq}`,
    queues: [...new Set(queues.map((q) => checkQueueName(q)))],
    concurrency, prefetch, leaseMs, maxStalls, mirror: opts.mirror,
  };
}
