// Loading the user's app module (the queue it exports from setup()), and running a command
// against it: the queue is closed afterwards, and what goes wrong on the way (Redis unreachable,
// MySQL refusing, the history table missing) is said in words naming where it came from.
import { databaseError as describeDbError } from '../mirror/db-error';
import minimist from 'minimist';
import { resolve } from 'path';
import type { Queue } from '../queue';
import { CliError } from './parse';
import { RedisUnreachableError } from '../errors';

/** Where the app module is: --app, else $ASYNC_APP, else ./async.config.js. */
export function appPath(o: minimist.ParsedArgs, env = process.env): { path: string; from: string } {
  if (o.app !== undefined) return { path: resolve(String(o.app)), from: '--app' };
  if (env.ASYNC_APP) return { path: resolve(env.ASYNC_APP), from: 'ASYNC_APP' };
  return { path: resolve('async.config.js'), from: 'the default ./async.config.js' };
}

function isQueue(x: unknown): x is Queue {
  const q = x as Queue;
  return typeof x === 'object' && x !== null && typeof q.worker === 'function' && typeof q.task === 'function'
    && typeof q.stats === 'function' && typeof q.prefix === 'string' && typeof q.redis === 'object';
}

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (typeof x === 'object') return Object.keys(x).length ? `an object with ${Object.keys(x).slice(0, 5).join(', ')}` : 'an empty object';
  return typeof x;
}

// Dynamic import that the CommonJS output keeps as a real import() (for ESM app modules).
const importESM = new Function('u', 'return import(u)') as (u: string) => Promise<Record<string, unknown>>;

/**
 * Loads the app module. It exports the queue (module.exports = queue, exports.queue or the
 * default export), or a function returning the queue or a promise of it, or a promise of it.
 */
export async function loadApp(o: minimist.ParsedArgs, env = process.env): Promise<Queue> {
  const { path, from } = appPath(o, env);
  let file: string;
  try { file = require.resolve(path); } catch {
    throw new CliError(`app module ${path} (from ${from}) not found. Give --app ./path/to/module, set ASYNC_APP, or create async.config.js exporting the queue from setup()`);
  }
  let mod: unknown;
  try {
    mod = require(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_REQUIRE_ESM') {
      try { mod = await importESM(require('url').pathToFileURL(file).href); } catch (e2) { throw broken(file, e2); }
    } else throw broken(file, e);
  }
  let x: unknown = mod;
  try {
    const m = x as { default?: unknown; queue?: unknown; __esModule?: boolean };
    if (!isQueue(x) && m && typeof m === 'object' && 'default' in m && m.default !== undefined) x = m.default;
    if (typeof x === 'function') x = await (x as () => unknown)();
    x = await x;
    if (!isQueue(x) && x && typeof x === 'object' && isQueue((x as { queue?: unknown }).queue)) x = (x as { queue: unknown }).queue;
  } catch (e) { throw broken(file, e); }
  if (!isQueue(x)) {
    throw new CliError(`app module ${file} must export the queue from setup() (module.exports = queue), or a function or promise giving it; it gave ${describe(x)}`);
  }
  return x;
}

function broken(file: string, e: unknown): CliError {
  const err = e as Error;
  // The app's own frames are the cause; the loader's and ours are noise.
  const stack = (err?.stack ?? String(e)).split('\n').filter((l) => !/\(node:internal|dist[\\/]lib[\\/]cli[\\/]/.test(l)).join('\n');
  return new CliError(`loading the app module ${file} failed: ${stack}`);
}


/** Loads the app, waits for its Redis (bounded by the connect timeout), runs fn, closes the queue. */
export async function withQueue<T>(o: minimist.ParsedArgs, fn: (q: Queue) => Promise<T>): Promise<T> {
  const queue = await loadApp(o);
  try {
    await ready(queue);
    return await fn(queue).catch((e) => { throw explain(e, queue); });
  } finally { await closeSoon(queue); }
}

/** A queue closed within ms whatever Redis does (quit waits for queued commands; then it is cut). */
export async function closeSoon(q: Queue, ms = 1000): Promise<void> {
  const closed = q.close().catch(() => undefined);
  const t = new Promise((r) => setTimeout(r, ms).unref());
  if (await Promise.race([closed.then(() => true), t.then(() => false)])) return;
  q.redis.disconnect();
}


/** The queue's Redis answers, or a CliError saying it does not (RedisUnreachableError's message). */
export async function ready(queue: Queue): Promise<void> {
  // A queue made by another copy of the library may lack connected(): its first command tells then.
  if (typeof queue.connected === 'function') await queue.connected().catch((e) => { throw explain(e, queue); });
}

/** A Sequelize error (from the app's database) in words naming the database and its address, else null. */
export function databaseError(e: unknown, queue: Queue): string | null {
  if (!queue.sequelize || !/^Sequelize/.test((e as { name?: string })?.name ?? '')) return null;
  return describeDbError(queue.sequelize, e).message;
}

/** Errors in words saying where they came from: Redis unreachable, or the SQL database. */
export function explain(e: unknown, queue?: Queue): unknown {
  if (e instanceof CliError) return e;
  if (e instanceof RedisUnreachableError) return new CliError(e.message);
  const db = queue ? databaseError(e, queue) : null;
  return db ? new CliError(db) : e;
}
