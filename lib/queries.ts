// The read layer: what is in a queue, as plain data (BullMQ's queue-getters is the model). The
// CLI renders these as text; `queue.stats()` and `queue.task()` are these; a dashboard builds on
// them. Reads only: every change goes through a Lua script.
import type { QueueStats, TaskState } from '../types';
import type { QueueContext } from './context';
import { taskKey, dueKey, fifoKey } from './keys';
import { Task, fieldsFromHash, TaskFields } from './task';
import type { RawHash } from './util/values';
import { isFinal } from './states';
import { mirrorLag } from './mirror';
import { listWorkers, PresenceEntry } from './presence';
import { readFlow } from './flow';

type Ctx = QueueContext;

/** Due tasks of a queue: per priority, a list (in-order arrivals) and a zset (the rest). */
async function countQueued(ctx: Ctx, queue: string): Promise<number> {
  const k = ctx.keys(queue);
  const levels = await ctx.redis.zrange(k.levels, 0, -1);
  const counts = await Promise.all(levels.flatMap((p) => [ctx.redis.zcard(dueKey(k, p)), ctx.redis.llen(fifoKey(k, p)).catch(() => 0)]));
  return counts.reduce((a, b) => a + b, 0);
}

/** Per queue: queued, scheduled, running, finished (still in Redis), and the mirror's lag. */
export async function queueStats(ctx: Ctx): Promise<QueueStats> {
  const out: QueueStats = {};
  for (const queue of await ctx.queueNames()) {
    const k = ctx.keys(queue);
    // The script first: see runMirror in lib/mirror (ioredis auto-pipelining vs. scripts defined late).
    const [lag, scheduled, running, finished, queued, flow] = await Promise.all([mirrorLag(ctx, queue),
      ctx.redis.zcard(k.scheduled), ctx.redis.zcard(k.running), ctx.redis.zcard(k.finished), countQueued(ctx, queue), readFlow(ctx, queue)]);
    out[queue] = { queued, scheduled, running, finished, mirrorLag: lag, ...flow };
  }
  return out;
}

export interface FailedCount { failed: number; capped: boolean }

/** Failed tasks among the finished ones of a queue still in Redis (at most `cap` looked at: stays quick). */
export async function countFailed(ctx: Ctx, queue: string, cap = 100000): Promise<FailedCount> {
  const k = ctx.keys(queue);
  const ids = await ctx.redis.zrevrange(k.finished, 0, cap - 1);
  let failed = 0;
  for (let i = 0; i < ids.length; i += 1000) {
    const states = await Promise.all(ids.slice(i, i + 1000).map((id) => ctx.redis.hget(taskKey(k, id), 'state')));
    failed += states.filter((s) => s === 'failed').length;
  }
  return { failed, capped: ids.length >= cap };
}

/** A task as a listing shows it. */
export interface TaskRow extends TaskFields {
  id: number;
  /** Times the task was recovered after its worker died (lease expired or the worker known dead). */
  stalled: number;
  /** The worker known dead when it was recovered (set by abandonWorker), else null. */
  stalledBy: string | null;
}

export interface ListQuery {
  /** Only this state (default: all). */
  state?: Exclude<TaskState, 'pending'>;
  /** Only this queue (default: every queue of the prefix). */
  queue?: string;
  /** Page size (default 20). */
  limit?: number;
  /** Rows to skip, newest first (default 0). */
  offset?: number;
}

/** Candidate ids of one queue in the wanted states, at most `n` of each index. */
async function candidates(ctx: Ctx, queue: string, state: string | undefined, n: number): Promise<{ id: string; h: RawHash }[]> {
  const k = ctx.keys(queue);
  const r = ctx.redis;
  const want = (s: string) => state === undefined || state === s;
  const ids: string[] = [];
  if (want('running')) ids.push(...await r.zrange(k.running, 0, n - 1));
  if (want('scheduled')) ids.push(...await r.zrange(k.scheduled, 0, n - 1));
  if (want('queued')) {
    for (const p of await r.zrevrange(k.levels, 0, -1)) {
      if (ids.length >= 3 * n) break;
      ids.push(...(await r.lrange(fifoKey(k, p), 0, n - 1).catch(() => [] as string[])).map((e) => e.slice(e.indexOf(':') + 1)));
      ids.push(...(await r.zrange(dueKey(k, p), 0, n - 1)).map((m) => m.slice(1)));
    }
  }
  const rows: { id: string; h: RawHash }[] = [];
  const read = async (list: string[]) => {
    const hs = await Promise.all(list.map((id) => r.hgetallBuffer(taskKey(k, id)) as unknown as Promise<RawHash>));
    list.forEach((id, i) => { if (hs[i] && Object.keys(hs[i]).length) rows.push({ id, h: hs[i] }); });
  };
  await read(ids);
  if (state === undefined || isFinal(state)) {
    // Finished, newest first, until enough of the wanted state.
    let found = 0;
    for (let off = 0; found < n; off += 500) {
      const page = await r.zrevrange(k.finished, off, off + 499);
      if (page.length === 0) break;
      const before = rows.length;
      await read(page);
      const added = rows.splice(before).filter((x) => want(String(x.h.state)));
      rows.push(...added.slice(0, n - found));
      found += added.length;
      if (off > 100000) break;
    }
  }
  return rows;
}

/** Tasks in Redis, newest (highest id) first, one page. */
export async function listTasks(ctx: Ctx, q: ListQuery = {}): Promise<TaskRow[]> {
  const limit = q.limit ?? 20;
  const offset = q.offset ?? 0;
  const queues = q.queue !== undefined ? [q.queue] : await ctx.queueNames();
  const rows: TaskRow[] = [];
  for (const queue of queues) {
    for (const { id, h } of await candidates(ctx, queue, q.state, limit + offset)) {
      const f = fieldsFromHash(queue, h);
      if (q.state === undefined || f.state === q.state) rows.push({ ...f, id: Number(id), ...recovery(h) });
    }
  }
  rows.sort((a, b) => b.id - a.id);
  return rows.slice(offset, offset + limit);
}

/** How often a task was recovered after its worker died, and which worker was known dead. */
export function recovery(h: RawHash | null): { stalled: number; stalledBy: string | null } {
  return { stalled: Number(h?.stalled?.toString() ?? 0) || 0, stalledBy: h?.stalled_by?.toString() ?? null };
}

/** Hash fields a task may carry besides the handle's (options and recovery counts), as stored. */
const EXTRA_FIELDS = ['max_attempts', 'backoff', 'timeout', 'stalled', 'stalled_by', 'released', 'first_scheduled_at'];

export interface TaskDetail {
  task: Task;
  /** Whether the task hash is still in Redis (false: read from the SQL history). */
  inRedis: boolean;
  /** Options and counts stored with the task (max_attempts, backoff, timeout, stalled, released, ...). */
  extra: Record<string, string>;
}

/** Everything known of one task, or null. */
export async function taskDetail(ctx: Ctx, id: number | string): Promise<TaskDetail | null> {
  const task = await findTask(ctx, id);
  if (!task) return null;
  const raw = await ctx.readHash(task.queue, task.id);
  const extra: Record<string, string> = {};
  for (const f of EXTRA_FIELDS) if (raw && raw[f] !== undefined) extra[f] = raw[f].toString();
  return { task, inRedis: raw !== null, extra };
}

/** A handle for a task id, found in whichever queue holds it (or in the SQL history), else null. */
export async function findTask(ctx: Ctx, id: number | string): Promise<Task | null> {
  const n = Number(id);
  if (!Number.isSafeInteger(n) || n < 1) throw new TypeError(`task id must be a positive integer (got ${JSON.stringify(id)})`);
  for (const queue of await ctx.queueNames()) {
    const h = await ctx.readHash(queue, n);
    if (h) return new Task(ctx, n, fieldsFromHash(queue, h));
  }
  const row = await ctx.readHistory(n);
  return row ? new Task(ctx, n, row) : null;
}

/** Live workers of every host (presence entries in Redis), oldest first. */
export function workers(ctx: Ctx): Promise<PresenceEntry[]> {
  return listWorkers(ctx.redis, ctx.prefix);
}

