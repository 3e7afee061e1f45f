// Finding tasks for the dashboard: by state, queue, type, action, object id and error text,
// newest first. With the mirror on the query goes to SQL (the indexed columns of async_tasks);
// without it, to the Redis indexes through the read layer (listTasks), looking at a bounded
// number of the newest tasks and never scanning every key.
import { Op } from 'sequelize';
import { errorCondition, errorMatches, hasFulltext } from './error-text';
import type { WhereOptions } from 'sequelize';
import type { TaskState } from '../../types';
import type { QueueContext } from '../context';
import type { AsyncTaskModel } from '../mirror/model';
import { listTasks, recovery, TaskRow } from '../queries';
import { QUEUE_NAME, taskKey } from '../keys';
import { fieldsFromHash } from '../task';
import type { RawHash } from '../util/values';
import { STATES } from '../states';
import { badRequest } from './http';

export type ListState = Exclude<TaskState, 'pending'>;

export interface Filter {
  state?: ListState;
  queue?: string;
  type?: string;
  action?: string;
  objectId?: string;
  error?: string;
}

export const PAGE_SIZE = 25;
/** Without the mirror, a filtered list looks at this many of the newest tasks (per queue) at most. */
export const REDIS_LOOK = 2000;

const TEXT = ['type', 'action', 'objectId', 'error'] as const;

/** The filter from a query string (or form); a bad value is a 400 naming it. */
export function parseFilter(q: URLSearchParams): Filter {
  const f: Filter = {};
  const state = q.get('state');
  if (state) {
    if (state === 'pending' || !(STATES as readonly string[]).includes(state)) throw badRequest(`unknown state '${state}' (known: ${STATES.join(', ')})`);
    f.state = state as ListState;
  }
  const queue = q.get('queue');
  if (queue) {
    if (!QUEUE_NAME.test(queue)) throw badRequest(`'${queue}' is not a queue name (1-64 characters of A-Z a-z 0-9 _ . -)`);
    f.queue = queue;
  }
  for (const k of TEXT) {
    const v = q.get(k);
    if (v === null || v === '') continue;
    if (v.length > 255) throw badRequest(`the ${k} filter is longer than 255 characters`);
    f[k] = v;
  }
  return f;
}

export function parsePage(q: URLSearchParams): number {
  const p = q.get('page');
  if (p === null || p === '') return 1;
  if (!/^\d{1,5}$/.test(p) || Number(p) < 1) throw badRequest(`page must be a whole number from 1 (got '${p}')`);
  return Number(p);
}

export const hasSearch = (f: Filter) => TEXT.some((k) => f[k] !== undefined);

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

async function where(model: AsyncTaskModel, f: Filter): Promise<WhereOptions> {
  const w: Record<string, unknown> = {};
  if (f.state) w.state = f.state;
  if (f.queue) w.queue = f.queue;
  if (f.type) w.object_type = f.type;
  if (f.action) w.action = f.action;
  if (f.objectId) w.object_id = f.objectId;
  if (f.error) return { [Op.and]: [w, errorCondition(model, f.error, await hasFulltext(model))] } as WhereOptions;
  return w as WhereOptions;
}

function matches(f: Filter, r: TaskRow): boolean {
  if (f.type && r.objectType !== f.type) return false;
  if (f.action && r.action !== f.action) return false;
  if (f.objectId && r.objectId !== f.objectId) return false;
  if (f.error) {
    const messages = [...r.errors, r.result].filter((e): e is Error => e instanceof Error).map((e) => e.message);
    if (!errorMatches(messages, f.error)) return false;
  }
  return true;
}

/** One page of tasks matching `f`, newest first. */
export async function search(h: SearchHost, f: Filter, page: number, size = PAGE_SIZE): Promise<Found> {
  const offset = (page - 1) * size;
  if (useSql(h)) {
    const model = h.model as AsyncTaskModel;
    const found = await model.findAll({ where: await where(model, f), order: [['id', 'DESC']], limit: size + 1, offset });
    const rows = found.map((m) => ({ ...m.toTaskFields(), id: Number(m.id) }) as TaskRow);
    return { rows: rows.slice(0, size), more: rows.length > size, source: 'sql' };
  }
  if (!hasSearch(f)) {
    const rows = await listTasks(h.ctx, { state: f.state, queue: f.queue, limit: size + 1, offset });
    return { rows: rows.slice(0, size), more: rows.length > size, source: 'redis' };
  }
  const all = (await listTasks(h.ctx, { state: f.state, queue: f.queue, limit: REDIS_LOOK })).filter((r) => matches(f, r));
  return { rows: all.slice(offset, offset + size), more: all.length > offset + size, source: 'redis' };
}

/** Ids (with their queue) of up to `cap` tasks matching `f`, newest first, and whether there are more. */
export async function matching(h: SearchHost, f: Filter, cap: number): Promise<{ tasks: { id: number; queue: string }[]; more: boolean }> {
  if (useSql(h)) {
    const model = h.model as AsyncTaskModel;
    const found = await model.findAll({ where: await where(model, f), attributes: ['id', 'queue'], order: [['id', 'DESC']], limit: cap + 1, raw: true });
    const tasks = (found as unknown as { id: number | string; queue: string }[]).map((r) => ({ id: Number(r.id), queue: r.queue }));
    return { tasks: tasks.slice(0, cap), more: tasks.length > cap };
  }
  const rows = (await listTasks(h.ctx, { state: f.state, queue: f.queue, limit: Math.max(cap + 1, hasSearch(f) ? REDIS_LOOK : 0) }))
    .filter((r) => matches(f, r));
  return { tasks: rows.slice(0, cap).map((r) => ({ id: r.id, queue: r.queue })), more: rows.length > cap };
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
