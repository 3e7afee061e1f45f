// Releasing a worker known to be dead (its supervisor saw it die, or `stop` had to kill it): its
// running tasks are recovered at once, as the sweep would after their leases ran out (stalled
// count +1, or failed with WorkerLostError past maxStalls), and its presence entry is removed so
// `status` drops it. Runs in a short `__recover` process (lib/cli/commands.ts), because the
// supervisor does not load the app.
// The release itself is abandonWorker (lib/worker/lease-keeper.ts: abandon.lua on every queue
// with running tasks, then a sweep).
import { hostname } from 'os';
import type { Queue } from '../queue';
import { workersKey } from '../keys';
import { abandonWorker } from '../worker/lease-keeper';
import { listWorkers, PresenceEntry } from '../presence';
import { alive } from './daemon';

export interface Released { worker: string; recovered: number; failed: number }

/** What a dead worker held: released in every queue, its presence entry removed. */
export async function releaseDeadWorker(queue: Queue, name: string): Promise<Released> {
  const per = await abandonWorker(queue.internals, name);
  await queue.redis.hdel(workersKey(queue.prefix), name);
  return { worker: name, recovered: per.reduce((n, r) => n + r.recovered, 0), failed: per.reduce((n, r) => n + r.failed, 0) };
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
