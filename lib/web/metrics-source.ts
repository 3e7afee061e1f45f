// Where the overview chart's numbers come from. Today: the SQL history (finished tasks grouped by
// minute or hour of finished_at), when the queue mirrors. When the scripts record metrics in Redis
// (issue 12, "Metrics"), a Redis-backed MetricsSource takes this one's place behind the same
// interface, and works without the mirror.
import { QueryTypes } from 'sequelize';
import type { Sequelize } from 'sequelize';

export type MetricsRange = 'hour' | 'days';

/** Processed (succeeded + failed) and failed counts per bucket, oldest first; `at` in ms (bucket start). */
export interface MetricsSeries {
  stepMs: number;
  at: number[];
  processed: number[];
  failed: number[];
}

/** Succeeded and failed tasks per queue since the start (what the overview's counts show). */
export type Totals = Map<string, { succeeded: number; failed: number }>;

export interface MetricsSource {
  /** Where the totals come from, as the overview says it (e.g. 'the SQL history'). */
  readonly totalsFrom?: string;
  /**
   * Per queue totals that do not depend on finished tasks still being in Redis; undefined when
   * the source has none (the overview then counts the finished tasks still in Redis).
   */
  totals?(): Promise<Totals>;
  /** Null when the source cannot answer (the chart then says why: `unavailable`). */
  series(range: MetricsRange, queue?: string): Promise<MetricsSeries | null>;
  /** False when this source never has data (the page shows `unavailable` instead of a chart). */
  readonly enabled: boolean;
  /** What the chart shows when there are no metrics. */
  readonly unavailable: string;
}

const MINUTE = 60000;
const HOUR = 3600000;
/** The per-hour chart covers this many days. */
export const DAYS = 7;

export function rangeSpec(range: MetricsRange, now = Date.now()): { stepMs: number; from: number; buckets: number } {
  const stepMs = range === 'hour' ? MINUTE : HOUR;
  const buckets = range === 'hour' ? 60 : DAYS * 24;
  const end = Math.floor(now / stepMs) * stepMs + stepMs;
  return { stepMs, from: end - buckets * stepMs, buckets };
}

/** Counts from `async_tasks` (finished_at is indexed by the dashboard's migration). */
export class SqlMetricsSource implements MetricsSource {
  readonly enabled = true;
  readonly unavailable = 'No finished tasks in this period.';

  readonly totalsFrom = 'the SQL history';

  constructor(private readonly sequelize: Sequelize, private readonly table = 'async_tasks') {}

  /** COUNT per queue and state (index queue, state, id). */
  async totals(): Promise<Totals> {
    const rows = await this.sequelize.query<{ queue: string; state: string; n: number | string }>(
      `SELECT queue, state, COUNT(*) AS n FROM ${this.table} WHERE state IN ('succeeded', 'failed') GROUP BY queue, state`,
      { type: QueryTypes.SELECT });
    const out: Totals = new Map();
    for (const r of rows) {
      const e = out.get(r.queue) ?? { succeeded: 0, failed: 0 };
      if (r.state === 'succeeded') e.succeeded = Number(r.n); else e.failed = Number(r.n);
      out.set(r.queue, e);
    }
    return out;
  }

  async series(range: MetricsRange, queue?: string): Promise<MetricsSeries> {
    const { stepMs, from, buckets } = rangeSpec(range);
    const step = stepMs / 1000;
    const dialect = this.sequelize.getDialect();
    // The bucket is computed against a start time passed as a parameter, so the session's time
    // zone does not matter: both sides are stored and compared the same way.
    let bucket: string;
    if (dialect === 'mysql' || dialect === 'mariadb') bucket = `FLOOR(TIMESTAMPDIFF(SECOND, :from, finished_at) / ${step})`;
    else if (dialect === 'postgres') bucket = `FLOOR(EXTRACT(EPOCH FROM (finished_at - CAST(:from AS timestamptz))) / ${step})`;
    else bucket = `CAST((julianday(finished_at) - julianday(:from)) * 86400 / ${step} AS INTEGER)`;
    const where = `finished_at >= :from AND state IN ('succeeded', 'failed')${queue !== undefined ? ' AND queue = :queue' : ''}`;
    const rows = await this.sequelize.query<{ b: number | string; n: number | string; f: number | string }>(
      `SELECT ${bucket} AS b, COUNT(*) AS n, SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) AS f FROM ${this.table} WHERE ${where} GROUP BY b`,
      { type: QueryTypes.SELECT, replacements: { from: new Date(from), queue } });
    const out: MetricsSeries = { stepMs, at: [], processed: new Array(buckets).fill(0), failed: new Array(buckets).fill(0) };
    for (let i = 0; i < buckets; i++) out.at.push(from + i * stepMs);
    for (const r of rows) {
      const b = Number(r.b);
      if (b >= 0 && b < buckets) { out.processed[b] += Number(r.n); out.failed[b] += Number(r.f); }
    }
    return out;
  }
}

/** No source: a queue that does not mirror, until the scripts record metrics. */
export class NoMetricsSource implements MetricsSource {
  readonly enabled = false;
  readonly unavailable = 'Metrics come from the SQL mirror: this queue does not mirror (setup with a sequelize and mirror on).';
  async series(): Promise<null> { return null; }
}
