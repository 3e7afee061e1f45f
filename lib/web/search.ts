// Finding tasks for the dashboard: by state, queue, type, action, object id and error text,
// newest first. With the mirror on the query goes to SQL (the indexed columns of async_tasks,
// lib/web/sql-search.ts); without it, to the Redis indexes (lib/web/redis-search.ts), walked only
// as far as the page needs and never scanning every key.
import type { QueueContext } from '../context';
import type { AsyncTaskModel } from '../mirror/model';
import { listTasks, recovery, TaskRow } from '../queries';
import { taskKey } from '../keys';
import { fieldsFromHash } from '../task';
import type { RawHash } from '../util/values';
import { Filter, hasSearch, PAGE_SIZE } from './filter';
import { sqlHits } from './sql-search';
import { redisHits, redisRows, Hit } from './redis-search';

export { parseFilter, parsePage, hasSearch, PAGE_SIZE } from './filter';
export type { Filter, ListState } from './filter';
export { REDIS_LOOK } from './redis-search';

export interface Found {
  rows: TaskRow[];
  /** Whether a next page exists. */
  more: boolean;
  /** Where the rows came from, as the page says it. */
  source: 'sql' | 'redis';
}

/** Where a search goes: SQL when the queue mirrors and has a model, else Redis. */
export interface SearchHost {
  ctx: QueueContext;
  model: AsyncTaskModel | undefined;
}

const useSql = (h: SearchHost) => h.ctx.mirror && h.model !== undefined;

async function sqlRows(model: AsyncTaskModel, hits: Hit[]): Promise<TaskRow[]> {
  if (hits.length === 0) return [];
  const found = await model.findAll({ where: { id: hits.map((x) => x.id) }, order: [['id', 'DESC']] });
  return found.map((m) => ({ ...m.toTaskFields(), id: Number(m.id) }) as TaskRow);
}

/** One page of tasks matching `f`, newest first. */
export async function search(h: SearchHost, f: Filter, page: number, size = PAGE_SIZE): Promise<Found> {
  const offset = (page - 1) * size;
  if (useSql(h)) {
    const model = h.model as AsyncTaskModel;
    const hits = await sqlHits(model, f, offset, size);
    return { rows: await sqlRows(model, hits.slice(0, size)), more: hits.length > size, source: 'sql' };
  }
  if (!hasSearch(f)) {
    const rows = await listTasks(h.ctx, { state: f.state, queue: f.queue, limit: size + 1, offset });
    return { rows: rows.slice(0, size), more: rows.length > size, source: 'redis' };
  }
  const hits = await redisHits(h.ctx, f, offset, size);
  return { rows: await redisRows(h.ctx, hits.slice(0, size)), more: hits.length > size, source: 'redis' };
}

/** Ids (with their queue) of up to `cap` tasks matching `f`, newest first, and whether there are more. */
export async function matching(h: SearchHost, f: Filter, cap: number): Promise<{ tasks: Hit[]; more: boolean }> {
  let tasks: Hit[];
  if (useSql(h)) tasks = await sqlHits(h.model as AsyncTaskModel, f, 0, cap);
  else if (hasSearch(f)) tasks = await redisHits(h.ctx, f, 0, cap);
  else tasks = (await listTasks(h.ctx, { state: f.state, queue: f.queue, limit: cap + 1 })).map((r) => ({ id: r.id, queue: r.queue }));
  return { tasks: tasks.slice(0, cap), more: tasks.length > cap };
}

/** Scheduled tasks of every queue (or one), soonest first, one page. */
export async function scheduledTasks(ctx: QueueContext, queue: string | undefined, page: number, size = PAGE_SIZE): Promise<Found> {
  const n = page * size + 1;
  const entries: { queue: string; id: string; at: number }[] = [];
  for (const q of queue ? [queue] : await ctx.queueNames()) {
    const z = await ctx.redis.zrange(ctx.keys(q).scheduled, 0, n - 1, 'WITHSCORES');
    for (let i = 0; i < z.length; i += 2) entries.push({ queue: q, id: z[i], at: Number(z[i + 1]) });
  }
  entries.sort((a, b) => a.at - b.at || Number(a.id) - Number(b.id));
  const slice = entries.slice((page - 1) * size, page * size + 1);
  const hashes = await Promise.all(slice.map((e) => ctx.redis.hgetallBuffer(taskKey(ctx.keys(e.queue), e.id)) as unknown as Promise<RawHash>));
  const rows: TaskRow[] = [];
  slice.forEach((e, i) => { if (hashes[i] && Object.keys(hashes[i]).length) rows.push({ ...fieldsFromHash(e.queue, hashes[i]), id: Number(e.id), ...recovery(hashes[i]) }); });
  return { rows: rows.slice(0, size), more: rows.length > size, source: 'redis' };
}
