// What the dashboard changes: retry, cancel and delete of one task, and retry or delete of every
// task matching a filter (capped per request). Each change of a task is one Lua script; a delete
// also removes the task's SQL history row when the queue mirrors.
import type { QueueContext } from '../context';
import type { AsyncTaskModel } from '../mirror/model';
import { groupByQueue } from '../keys';
import { findTask } from '../queries';
import { notFound } from './http';
import { Filter, matching, SearchHost } from './search';

/** A bulk action changes at most this many tasks per request (the confirm page says so). */
export const BULK_CAP = 1000;

export type Action = 'retry' | 'cancel' | 'delete';
export const ACTIONS: readonly Action[] = ['retry', 'cancel', 'delete'];

export interface Outcome { ok: boolean; message: string }

async function locate(ctx: QueueContext, id: number): Promise<{ queue: string; inRedis: boolean }> {
  const t = await findTask(ctx, id);
  if (!t) throw notFound(`there is no task ${id}`);
  return { queue: t.queue, inRedis: (await ctx.readHash(t.queue, id)) !== null };
}

/** delete.lua (the script runner knows scripts by file; the union of names in scripts.ts predates it). */
export async function deleteTask(ctx: QueueContext, model: AsyncTaskModel | undefined, queue: string, id: number): Promise<string> {
  const r = String(await ctx.script('delete', queue, [String(id)]) ?? '');
  if (r === 'running') return r;
  let rows = 0;
  if (model) rows = await model.destroy({ where: { id } });
  return r === 'deleted' || rows > 0 ? 'deleted' : '';
}

export async function actOn(ctx: QueueContext, model: AsyncTaskModel | undefined, action: Action, id: number): Promise<Outcome> {
  const { queue, inRedis } = await locate(ctx, id);
  if (action === 'delete') {
    const r = await deleteTask(ctx, model, queue, id);
    if (r === 'running') return { ok: false, message: `Task ${id} is running: it cannot be deleted until it finishes (cancel it first).` };
    return { ok: true, message: `Task ${id} deleted.` };
  }
  if (!inRedis) return { ok: false, message: `Task ${id} is no longer in Redis (only its history is kept): it cannot be ${action === 'retry' ? 'retried' : 'cancelled'}.` };
  if (action === 'retry') {
    const r = await ctx.retry(queue, id);
    if (r === 'queued') return { ok: true, message: `Task ${id} queued again.` };
    return { ok: false, message: `Task ${id} is ${r || 'gone'}: only a failed task can be retried.` };
  }
  const r = await ctx.cancel(queue, id);
  if (r === 'cancelled') return { ok: true, message: `Task ${id} cancelled.` };
  if (r === 'running') return { ok: true, message: `Task ${id} is running: it is marked cancelled and ends so once its attempt is over.` };
  return { ok: false, message: `Task ${id} is ${r || 'gone'}: it cannot be cancelled.` };
}

export type BulkAction = 'retry' | 'delete';

/** A bulk retry looks only at failed tasks: no other state can be retried. */
export function bulkFilter(action: BulkAction, f: Filter): Filter {
  return action === 'retry' ? { ...f, state: 'failed' } : f;
}

/** How many tasks a bulk action would change now (up to the cap), for the confirm page. */
export async function bulkCount(h: SearchHost, action: BulkAction, f: Filter): Promise<{ count: number; more: boolean }> {
  const m = await matching(h, bulkFilter(action, f), BULK_CAP);
  return { count: m.tasks.length, more: m.more };
}

export async function bulk(h: SearchHost, action: BulkAction, f: Filter): Promise<Outcome> {
  const m = await matching(h, bulkFilter(action, f), BULK_CAP);
  let done = 0;
  let refused = 0;
  for (const [queue, tasks] of groupByQueue(m.tasks, (t) => t.queue)) {
    for (const t of tasks) {
      const r = action === 'retry' ? await h.ctx.retry(queue, t.id) : await deleteTask(h.ctx, h.model, queue, t.id);
      if (r === 'queued' || r === 'deleted') done += 1; else refused += 1;
    }
  }
  const verb = action === 'retry' ? 'queued again' : 'deleted';
  let message = `${done} task${done === 1 ? '' : 's'} ${verb}.`;
  if (refused) message += ` ${refused} skipped (${action === 'retry' ? 'no longer failed or no longer in Redis' : 'running, or already gone'}).`;
  if (m.more) message += ` More match: at most ${BULK_CAP} are changed per request; run it again for the next ones.`;
  return { ok: done > 0 || refused === 0, message };
}
