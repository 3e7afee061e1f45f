// Reads what lib/lua/include/metrics.lua records: the totals hash (counts, duration and wait
// buckets since the start) and the per-minute / per-hour ring of outcome counts.
import type { Redis } from 'ioredis';
import type { QueueKeys } from '../keys';

/** Upper bounds (ms) of the duration and wait buckets: the same list as METRIC_BUCKETS in metrics.lua. */
export const BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000];
/** Slots of the rings: 24 h of minutes, 30 days of hours. */
export const MINUTE_SLOTS = 1440;
export const HOUR_SLOTS = 720;

/** Counts per bucket (not cumulative; the last one is +Inf), sum in ms. */
export interface Histo { buckets: number[]; sumMs: number; count: number }

export interface TaskTotals { succeeded: number; failed: number; retried: number; duration: Histo }

export interface QueueMetrics {
  /** Per `Type#action`. */
  tasks: Map<string, TaskTotals>;
  wait: Histo;
}

const emptyHisto = (): Histo => ({ buckets: new Array(BUCKETS_MS.length + 1).fill(0), sumMs: 0, count: 0 });
const OUTCOME = { s: 'succeeded', f: 'failed', r: 'retried' } as const;

function addTo(h: Histo, kind: string, n: number): void {
  if (kind === 'ds' || kind === 'ws') { h.sumMs += n; return; }
  const b = Number(kind.slice(1)) - 1;
  if (b >= 0 && b < h.buckets.length) { h.buckets[b] += n; h.count += n; }
}

/** The totals of one queue (one HGETALL). */
export async function readTotals(redis: Redis, k: QueueKeys): Promise<QueueMetrics> {
  const raw = await redis.hgetall(k.metrics);
  const out: QueueMetrics = { tasks: new Map(), wait: emptyHisto() };
  for (const [field, value] of Object.entries(raw)) {
    const n = Number(value) || 0;
    const colon = field.indexOf(':');
    if (colon < 0) { addTo(out.wait, field, n); continue; }
    const kind = field.slice(0, colon);
    const label = field.slice(colon + 1);
    let t = out.tasks.get(label);
    if (!t) { t = { succeeded: 0, failed: 0, retried: 0, duration: emptyHisto() }; out.tasks.set(label, t); }
    if (kind in OUTCOME) t[OUTCOME[kind as keyof typeof OUTCOME]] += n;
    else addTo(t.duration, kind, n);
  }
  return out;
}

export interface SlotCounts { succeeded: number; failed: number; retried: number }

/**
 * Outcome counts of `buckets` consecutive minutes ('minute') or hours ('hour') ending with the one
 * holding `now`, oldest first; a slot written in another turn of the ring counts 0.
 */
export async function readSeries(redis: Redis, k: QueueKeys, unit: 'minute' | 'hour', buckets: number, now = Date.now()): Promise<SlotCounts[]> {
  const stepMs = unit === 'minute' ? 60000 : 3600000;
  const slots = unit === 'minute' ? MINUTE_SLOTS : HOUR_SLOTS;
  const last = Math.floor(now / stepMs);
  const n = Math.min(buckets, slots);
  const numbers = Array.from({ length: n }, (_, i) => last - n + 1 + i);
  const fields = numbers.map((x) => (unit === 'minute' ? 'm' : 'h') + (x % slots));
  const values = fields.length ? await redis.hmget(k.metricsSeries, ...fields) : [];
  const out: SlotCounts[] = numbers.map((x, i) => {
    const m = /^(\d+):(\d+):(\d+):(\d+)$/.exec(values[i] ?? '');
    return m && Number(m[1]) === x ? { succeeded: Number(m[2]), failed: Number(m[3]), retried: Number(m[4]) } : { succeeded: 0, failed: 0, retried: 0 };
  });
  // Older than the ring holds: zeros in front.
  return [...Array.from({ length: buckets - n }, () => ({ succeeded: 0, failed: 0, retried: 0 })), ...out];
}
