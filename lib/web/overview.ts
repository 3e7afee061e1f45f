// The overview's numbers per queue: queued, scheduled, running (Redis indexes), succeeded and
// failed (the MetricsSource's totals: the SQL history when the queue mirrors, which keeps counting
// after finished tasks expire from Redis; else the finished tasks still in Redis), paused (the
// queue's flow flag, as queue.stats() gives it), and the age of the oldest due task.
import type { QueueContext } from '../context';
import type { MetricsSource } from './metrics-source';
import { queueStats } from '../queries';
import { dueKey, fifoKey, taskKey } from '../keys';

export interface QueueOverview {
  queue: string;
  queued: number;
  scheduled: number;
  running: number;
  succeeded: number;
  failed: number;
  /** The counts of finished tasks are lower bounds (more finished tasks in Redis than were looked at). */
  finishedCapped: boolean;
  /** No task of the queue starts (queue.pause). */
  paused: boolean;
  /** Age in ms of the oldest due task, null when none is due. */
  oldestDueMs: number | null;
  mirrorLag: number;
}

/** `finishedFrom`: where succeeded and failed come from ('redis': the finished tasks still there). */
export interface Overview { queues: QueueOverview[]; at: number; finishedFrom: string }

/** Without the mirror: the states of at most this many of the newest finished tasks per queue. */
const REDIS_FINISHED_LOOK = 5000;

export async function oldestDue(ctx: QueueContext, queue: string, now: number): Promise<number | null> {
  const k = ctx.keys(queue);
  let oldest = Infinity;
  for (const p of await ctx.redis.zrange(k.levels, 0, -1)) {
    const [z, l] = await Promise.all([ctx.redis.zrange(dueKey(k, p), 0, 0, 'WITHSCORES'), ctx.redis.lindex(fifoKey(k, p), 0).catch(() => null)]);
    if (z[1] !== undefined) oldest = Math.min(oldest, Number(z[1]));
    const t = l ? Number(l.slice(0, l.indexOf(':'))) : NaN;
    if (Number.isFinite(t)) oldest = Math.min(oldest, t);
  }
  return oldest === Infinity ? null : Math.max(0, now - oldest);
}

async function redisFinished(ctx: QueueContext, queue: string): Promise<{ succeeded: number; failed: number; capped: boolean }> {
  const k = ctx.keys(queue);
  const ids = await ctx.redis.zrevrange(k.finished, 0, REDIS_FINISHED_LOOK);
  const capped = ids.length > REDIS_FINISHED_LOOK;
  const p = ctx.redis.pipeline();
  for (const id of ids.slice(0, REDIS_FINISHED_LOOK)) p.hget(taskKey(k, id), 'state');
  const states = ids.length ? ((await p.exec()) ?? []).map(([, s]) => s) : [];
  return { succeeded: states.filter((s) => s === 'succeeded').length, failed: states.filter((s) => s === 'failed').length, capped };
}

export async function overview(ctx: QueueContext, metrics: MetricsSource): Promise<Overview> {
  const now = Date.now();
  const [stats, finished] = await Promise.all([queueStats(ctx), metrics.totals ? metrics.totals() : Promise.resolve(null)]);
  const queues: QueueOverview[] = [];
  for (const queue of Object.keys(stats).sort()) {
    const s = stats[queue];
    const f = finished ? { ...(finished.get(queue) ?? { succeeded: 0, failed: 0 }), capped: false } : await redisFinished(ctx, queue);
    const row: QueueOverview = { queue, queued: s.queued, scheduled: s.scheduled, running: s.running, succeeded: f.succeeded, failed: f.failed,
      finishedCapped: f.capped, paused: s.paused, oldestDueMs: await oldestDue(ctx, queue, now), mirrorLag: s.mirrorLag.events };
    queues.push(row);
  }
  return { queues, at: now, finishedFrom: finished ? metrics.totalsFrom ?? 'metrics' : 'redis' };
}
