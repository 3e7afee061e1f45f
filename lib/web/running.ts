// What each worker runs now: the running index of every queue (bounded), grouped by the worker
// name the claim wrote into each task hash.
import type { QueueContext } from '../context';
import { taskKey } from '../keys';
import { taskLabel } from '../label';

/** Looked at per queue at most (a worker runs `concurrency` tasks: this is plenty). */
const LOOK = 1000;

export interface RunningTask { id: number; queue: string; label: string }

export async function runningByWorker(ctx: QueueContext): Promise<Map<string, RunningTask[]>> {
  const out = new Map<string, RunningTask[]>();
  for (const queue of await ctx.queueNames()) {
    const k = ctx.keys(queue);
    const ids = await ctx.redis.zrange(k.running, 0, LOOK - 1);
    if (ids.length === 0) continue;
    const p = ctx.redis.pipeline();
    for (const id of ids) p.hmget(taskKey(k, id), 'worker', 'type', 'object_id', 'action');
    const replies = (await p.exec()) ?? [];
    ids.forEach((id, i) => {
      const [worker, type, objectId, action] = (replies[i]?.[1] ?? []) as (string | null)[];
      if (!worker) return;
      const list = out.get(worker) ?? [];
      list.push({ id: Number(id), queue, label: taskLabel(type ?? '', objectId, action ?? '') });
      out.set(worker, list);
    });
  }
  return out;
}
