// Releasing a worker known to be dead (its supervisor saw it die, or `stop` had to kill it): its
// running tasks are recovered at once, as the sweep would after their leases ran out (stalled
// count +1, or failed with WorkerLostError past maxStalls), and its presence entry is removed so
// `status` drops it. Runs in a short `__recover` process (lib/cli/commands.ts), because the
// supervisor does not load the app.
//
// MERGE NOTE: lib/worker/lease-keeper.ts (worker engineer) provides abandonWorker(host, name),
// running lib/lua/abandon.lua on every queue then sweeping. It is not on this branch, so
// abandonTasks() below is a minimal stand-in with the same effect: replace its body by
// `return abandonWorker(queue, name)` when merging.
import { hostname } from 'os';
import type { Queue } from '../queue';
import { encodeError } from '../codec';
import { WorkerLostError } from '../errors';
import { workersKey, taskKey } from '../keys';
import { listWorkers, PresenceEntry } from '../presence';
import { alive } from './daemon';

export interface Released { worker: string; recovered: number; failed: number }

/** What a dead worker held: released in every queue, its presence entry removed. */
export async function releaseDeadWorker(queue: Queue, name: string): Promise<Released> {
  const r = await abandonTasks(queue, name);
  await queue.redis.hdel(workersKey(queue.prefix), name);
  return { worker: name, ...r };
}

/** The presence entries of this host with the given uid whose process is gone. */
export async function deadWorkersOf(queue: Queue, uid: number): Promise<PresenceEntry[]> {
  const me = hostname();
  const raw = await queue.redis.hgetall(workersKey(queue.prefix));
  const out: PresenceEntry[] = [];
  for (const json of Object.values(raw)) {
    try {
      const e = JSON.parse(json) as PresenceEntry;
      if (e.host === me && e.uid === uid && !alive(e.pid)) out.push(e);
    } catch { /* unreadable: listWorkers drops it */ }
  }
  await listWorkers(queue.redis, queue.prefix);
  return out;
}

/**
 * Stand-in for abandonWorker (see the note above): marks the dead worker's leases as expired
 * (score 0 in each queue's running zset, only for tasks whose hash still names that worker),
 * lifts the sweep throttle and sweeps. A task that another worker claimed meanwhile names that
 * worker and is left alone.
 */
async function abandonTasks(queue: Queue, name: string): Promise<{ recovered: number; failed: number }> {
  const lost = encodeError(new WorkerLostError(`worker lost: ${name} died while the task ran`));
  let recovered = 0;
  let failed = 0;
  for (const q of await queue.queueNames()) {
    const k = queue.keys(q);
    const ids = await queue.redis.zrange(k.running, 0, -1);
    if (ids.length === 0) continue;
    const owners = await Promise.all(ids.map((id) => queue.redis.hget(taskKey(k, id), 'worker')));
    const mine = ids.filter((_, i) => owners[i] === name);
    if (mine.length === 0) continue;
    await queue.redis.zadd(k.running, 'XX', ...mine.flatMap((id) => [0, id]));
    await queue.redis.del(k.sweeper);
    const r = await queue.script('sweep', q, [1, lost, 100, `recover:${name}`]) as [string, string];
    recovered += Math.max(0, Number(r[0]));
    failed += Math.max(0, Number(r[1]));
  }
  return { recovered, failed };
}
