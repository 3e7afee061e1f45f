// sequelize-async: background tasks for Sequelize apps.
import type { SetupOptions } from '../types';
import { Queue } from './queue';
import { attachModels } from './sequelize';

export { Queue } from './queue';
export { Task } from './task';
export { Worker } from './worker';
export { TimeoutError, RecordNotFoundError, CorruptTaskError } from './errors';
export { MIN_PRIORITY, MAX_PRIORITY } from './enqueue';
export { runMirror, migrate } from './mirror';
export { MIGRATION_PATH, MIGRATIONS_DIR } from './mirror';
export { PendingTask } from './transaction';

/** Creates a queue; with `sequelize`, every model of it gets `async` and `schedule`. */
export function setup(opts: SetupOptions = {}): Queue {
  const queue = new Queue(opts);
  if (opts.sequelize) attachModels(queue, opts.sequelize);
  return queue;
}
