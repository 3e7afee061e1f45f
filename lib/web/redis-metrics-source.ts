// The overview chart and totals from the metrics the scripts record in Redis (lib/metrics/read.ts):
// works with or without the SQL mirror, and its totals keep counting after finished tasks expire.
import type { QueueContext } from '../context';
import { readSeries, readTotals } from '../metrics/read';
import { MetricsSource, MetricsRange, MetricsSeries, Totals, rangeSpec } from './metrics-source';

export class RedisMetricsSource implements MetricsSource {
  readonly enabled = true;
  readonly unavailable = 'No finished tasks in this period.';
  readonly totalsFrom = 'the metrics recorded in Redis';

  constructor(private readonly ctx: Pick<QueueContext, 'redis' | 'keys' | 'queueNames'>) {}

  async totals(): Promise<Totals> {
    const out: Totals = new Map();
    for (const queue of await this.ctx.queueNames()) {
      const m = await readTotals(this.ctx.redis, this.ctx.keys(queue));
      const e = { succeeded: 0, failed: 0 };
      for (const t of m.tasks.values()) { e.succeeded += t.succeeded; e.failed += t.failed; }
      out.set(queue, e);
    }
    return out;
  }

  async series(range: MetricsRange, queue?: string): Promise<MetricsSeries> {
    const now = Date.now();
    const { stepMs, from, buckets } = rangeSpec(range, now);
    const out: MetricsSeries = { stepMs, at: [], processed: new Array(buckets).fill(0), failed: new Array(buckets).fill(0) };
    for (let i = 0; i < buckets; i++) out.at.push(from + i * stepMs);
    const queues = queue !== undefined ? [queue] : await this.ctx.queueNames();
    for (const q of queues) {
      const s = await readSeries(this.ctx.redis, this.ctx.keys(q), range === 'hour' ? 'minute' : 'hour', buckets, now);
      s.forEach((c, i) => { out.processed[i] += c.succeeded + c.failed; out.failed[i] += c.failed; });
    }
    return out;
  }
}
