// The Prometheus text of every queue of a prefix, through prom-client with a Registry of our own
// (never the global one, which the app may use for its own metrics). Counts and histograms come
// from what the scripts recorded (read.ts), so every process that scrapes gives the same numbers;
// the gauges are read from the queue's indexes at scrape time.
import { Registry, Counter, Gauge, Histogram } from 'prom-client';
import type { MetricObjectWithValues, MetricValueWithName } from 'prom-client';
import type { QueueContext } from '../context';
import { queueStats } from '../queries';
import { listWorkers } from '../presence';
import { oldestDue } from '../web/overview';
import { BUCKETS_MS, Histo, readTotals } from './read';

export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

type HistoLabels = Record<string, string>;
type HistoValues = MetricValueWithName<string>[];

/**
 * A histogram whose buckets are given as recorded, not observed one value at a time. prom-client's
 * Registry prints a histogram from getForPromString() (get() serves the JSON form), so both answer.
 */
class RecordedHistogram extends Histogram {
  private readonly recorded: { labels: HistoLabels; h: Histo }[] = [];

  record(labels: HistoLabels, h: Histo): void { this.recorded.push({ labels, h }); }

  async getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const { name, help } = this as unknown as { name: string; help: string };
    const values: HistoValues = [];
    for (const { labels, h } of this.recorded) {
      let cumulative = 0;
      BUCKETS_MS.forEach((le, i) => {
        cumulative += h.buckets[i];
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: le / 1000 }, value: cumulative });
      });
      values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count });
      values.push({ metricName: `${name}_sum`, labels, value: h.sumMs / 1000 });
      values.push({ metricName: `${name}_count`, labels, value: h.count });
    }
    return { name, help, type: 'histogram', values, aggregator: 'sum' } as unknown as MetricObjectWithValues<MetricValueWithName<string>>;
  }

  get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> { return this.getForPromString(); }
}

export async function prometheusText(ctx: QueueContext): Promise<string> {
  const registers = [new Registry()];
  const buckets = BUCKETS_MS.map((ms) => ms / 1000);
  const tasks = new Counter({ name: 'sequelize_async_tasks_total', help: 'Task attempts finished, by outcome (succeeded, failed, retried).', labelNames: ['queue', 'task', 'outcome'], registers });
  const duration = new RecordedHistogram({ name: 'sequelize_async_task_duration_seconds', help: 'How long an attempt ran.', labelNames: ['queue', 'task'], buckets, registers });
  const wait = new RecordedHistogram({ name: 'sequelize_async_task_wait_seconds', help: 'From when a task was due to when a worker started it.', labelNames: ['queue'], buckets, registers });
  const state = new Gauge({ name: 'sequelize_async_queue_tasks', help: 'Tasks in the queue now, by state (queued, scheduled, running).', labelNames: ['queue', 'state'], registers });
  const latency = new Gauge({ name: 'sequelize_async_queue_latency_seconds', help: 'Age of the oldest due task (0 when none is due).', labelNames: ['queue'], registers });
  const workers = new Gauge({ name: 'sequelize_async_workers', help: 'Live workers serving the queue.', labelNames: ['queue'], registers });
  const lag = new Gauge({ name: 'sequelize_async_mirror_lag', help: 'Task changes not yet written to SQL.', labelNames: ['queue'], registers });

  const now = Date.now();
  const [stats, live] = await Promise.all([queueStats(ctx), listWorkers(ctx.redis, ctx.prefix, now)]);
  for (const queue of Object.keys(stats).sort()) {
    const s = stats[queue];
    const [m, oldest] = await Promise.all([readTotals(ctx.redis, ctx.keys(queue)), oldestDue(ctx, queue, now)]);
    for (const [task, t] of [...m.tasks].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      for (const outcome of ['succeeded', 'failed', 'retried'] as const) tasks.inc({ queue, task, outcome }, t[outcome]);
      duration.record({ queue, task }, t.duration);
    }
    wait.record({ queue }, m.wait);
    for (const st of ['queued', 'scheduled', 'running'] as const) state.set({ queue, state: st }, s[st]);
    latency.set({ queue }, (oldest ?? 0) / 1000);
    workers.set({ queue }, live.filter((w) => w.queues.includes(queue)).length);
    lag.set({ queue }, s.mirrorLag.events);
  }
  return registers[0].metrics();
}
