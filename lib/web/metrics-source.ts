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
  private totalsCache?: { at: number; value: Promise<Totals> };
  private readonly stable = new Map<string, { from: number; at: number; n: number[]; f: number[] }>();

  /**
   * `cacheMs`: the totals (a COUNT over the whole history: about 250 ms at 1,000,000 rows) are
   * reused this long, so every open overview polling every 2 s does not repeat it.
   */
  constructor(private readonly sequelize: Sequelize, private readonly table = 'async_tasks', private readonly cacheMs = 5000) {}

  /** COUNT per queue and state (index queue, state, id). */
  totals(): Promise<Totals> {
    const now = Date.now();
    if (this.totalsCache && now - this.totalsCache.at < this.cacheMs) return this.totalsCache.value;
    const value = this.countTotals();
    this.totalsCache = { at: now, value };
    value.catch(() => { this.totalsCache = undefined; });
    return value;
  }

  private async countTotals(): Promise<Totals> {
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

  /** Processed and failed per bucket of `stepMs` from `from` (inclusive) to `until` (exclusive). */
  private async count(stepMs: number, from: number, until: number, buckets: number, queue?: string): Promise<{ n: number[]; f: number[] }> {
    const step = stepMs / 1000;
    const dialect = this.sequelize.getDialect();
    // The bucket is computed against a start time passed as a parameter, so the session's time
    // zone does not matter: both sides are stored and compared the same way.
    let bucket: string;
    if (dialect === 'mysql' || dialect === 'mariadb') bucket = `FLOOR(TIMESTAMPDIFF(SECOND, :from, finished_at) / ${step})`;
    else if (dialect === 'postgres') bucket = `FLOOR(EXTRACT(EPOCH FROM (finished_at - CAST(:from AS timestamptz))) / ${step})`;
    else bucket = `CAST((julianday(finished_at) - julianday(:from)) * 86400 / ${step} AS INTEGER)`;
    const where = `finished_at >= :from AND finished_at < :until AND state IN ('succeeded', 'failed')${queue !== undefined ? ' AND queue = :queue' : ''}`;
    const rows = await this.sequelize.query<{ b: number | string; n: number | string; f: number | string }>(
      `SELECT ${bucket} AS b, COUNT(*) AS n, SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) AS f FROM ${this.table} WHERE ${where} GROUP BY b`,
      { type: QueryTypes.SELECT, replacements: { from: new Date(from), until: new Date(until), queue } });
    const n = new Array(buckets).fill(0);
    const f = new Array(buckets).fill(0);
    for (const r of rows) {
      const b = Number(r.b);
      if (b >= 0 && b < buckets) { n[b] += Number(r.n); f[b] += Number(r.f); }
    }
    return { n, f };
  }

  async series(range: MetricsRange, queue?: string): Promise<MetricsSeries> {
    const { stepMs, from, buckets } = rangeSpec(range);
    const end = from + buckets * stepMs;
    const out: MetricsSeries = { stepMs, at: [], processed: [], failed: [] };
    for (let i = 0; i < buckets; i++) out.at.push(from + i * stepMs);
    if (range === 'hour') {
      const c = await this.count(stepMs, from, end, buckets, queue);
      return { ...out, processed: c.n, failed: c.f };
    }
    // Per hour over days: the hours before the last two change no more (the last two still get
    // rows the mirror writes late), so they are counted once an hour and only the tail each time.
    const fresh = 2;
    const key = queue ?? '';
    let st = this.stable.get(key);
    if (!st || st.from !== from || Date.now() - st.at > HOUR) {
      const c = await this.count(stepMs, from, end - fresh * stepMs, buckets - fresh, queue);
      st = { from, at: Date.now(), n: c.n, f: c.f };
      this.stable.set(key, st);
    }
    const tail = await this.count(stepMs, end - fresh * stepMs, end, fresh, queue);
    return { ...out, processed: [...st.n, ...tail.n], failed: [...st.f, ...tail.f] };
  }
}

/** No source: a queue that does not mirror, until the scripts record metrics. */
export class NoMetricsSource implements MetricsSource {
  readonly enabled = false;
  readonly unavailable = 'Metrics come from the SQL mirror: this queue does not mirror (setup with a sequelize and mirror on).';
  async series(): Promise<null> { return null; }
}
