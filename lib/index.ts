// sequelize-async: background tasks for Sequelize apps.
import type { SetupOptions, MirrorOptions, Queue as PublicQueue } from '../types';
import { Queue } from './queue';
import { runMirror as runMirrorOf, MigrateResult } from './mirror';

export { Queue } from './queue';
export { Task } from './task';
export { Worker } from './worker/worker';
export {
  AsyncError, TimeoutError, RecordNotFoundError, CorruptTaskError, WorkerLostError, ResultNotStorableError,
  LeaseLostError, FinishRefusedError, RedisUnreachableError, NotReplicatedError, RateLimitedError, TableTakenError,
} from './errors';
export { MIN_PRIORITY, MAX_PRIORITY } from './enqueue/options';
export { MIGRATION_PATH, MIGRATIONS_DIR } from './mirror';
export { PendingTask } from './transaction';

/** Creates a queue; with `sequelize`, every model of it gets `async` and `schedule`. */
export function setup(opts: SetupOptions = {}): Queue {
  return new Queue(opts);
}

/** Runs the SQL mirror loop for every queue of `queue` until `opts.signal` aborts (workers run it by default). */
export function runMirror(queue: PublicQueue, opts?: MirrorOptions): Promise<void> {
  const internals = (queue as Partial<Queue>).internals;
  if (!internals) throw new TypeError('runMirror: give it the queue setup() returned');
  return runMirrorOf(internals, opts);
}

/** Creates or updates the `async_tasks` table (queue.migrate()); says what it did. */
export function migrate(queue: PublicQueue): Promise<MigrateResult> {
  return queue.migrate();
}
