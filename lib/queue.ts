// The queue: what `setup()` returns, and the whole public surface of the library besides the
// exported errors. Its parts live elsewhere: the shared internals in context.ts, the enqueue
// pipeline in enqueue/, workers in worker/, the SQL history in mirror/, reads in queries.ts.
import { EventEmitter } from 'events';
import type { Redis } from 'ioredis';
import type { Sequelize } from 'sequelize';
import type { SetupOptions, EnqueueOptions, WorkerOptions, QueueStats, QueueLimits, Registered, RegisterOptions, Queue as PublicQueue } from '../types';
import { connect } from './redis';
import { durability } from './durability';
import { defineScripts } from './scripts';
import { setDefaults } from './registry';
import { ASYNC_PRIORITY, SCHEDULE_PRIORITY, checkTime } from './enqueue/options';
import { Enqueuer } from './enqueue/enqueuer';
import { Task } from './task';
import { Worker } from './worker/worker';
import { QueueContext } from './context';
import { addMixin, attachModels } from './mixin';
import { defineAsyncTask, AsyncTaskModel } from './mirror/model';
import { TABLE } from './mirror/migrations';
import { historyReader, migrate, acquireMirror, MigrateResult } from './mirror';
import { trackTransactions } from './transaction';
import { queueStats, findTask } from './queries';
import { prometheusText } from './metrics/prometheus';
import { dashboard, DashboardOptions, Handler } from './web/dashboard';
import * as recurring from './recurring/api';
import { pauseQueue, resumeQueue, limitQueue } from './flow';

const DAY = 24 * 3600 * 1000;
const OPTIONS = ['sequelize', 'redis', 'prefix', 'mirror', 'retention', 'connectTimeoutMs', 'replicas', 'replicaTimeoutMs', 'metrics'];
let hooks = 0;

/** `mirror`: true | false | { table } (an object mirrors, into that table). */
function mirrorOption(m: SetupOptions['mirror']): { mirror: boolean | undefined; table: string } {
  if (m === undefined || typeof m === 'boolean') return { mirror: m, table: TABLE };
  if (typeof m !== 'object' || m === null || Object.keys(m).some((k) => k !== 'table')) {
    throw new TypeError(`setup: mirror must be true, false or { table: 'name' } (got ${typeof m === 'object' ? JSON.stringify(m) : String(m)})`);
  }
  const table = m.table ?? TABLE;
  if (typeof table !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(table)) {
    throw new TypeError(`setup: mirror.table must be a table name of 1-63 characters A-Z a-z 0-9 _, not starting with a digit (got ${JSON.stringify(table)})`);
  }
  return { mirror: true, table };
}

export class Queue extends EventEmitter implements PublicQueue {
  readonly prefix: string;
  readonly redis: Redis;
  readonly sequelize: Sequelize | undefined;
  /** The history model over `async_tasks` (with a sequelize). */
  readonly AsyncTask: AsyncTaskModel | undefined;
  /** @internal What the queue's parts share (connection, keys, scripts, registry). */
  readonly internals: QueueContext;
  /** @internal The enqueue pipeline. */
  readonly enqueuer: Enqueuer;
  private readonly owned: boolean;
  private readonly workers = new Set<Worker>();
  private closed = false;

  constructor(opts: SetupOptions = {}) {
    super();
    this.setMaxListeners(0);
    for (const k of Object.keys(opts)) if (!OPTIONS.includes(k)) throw new TypeError(`setup: unknown option '${k}' (known: ${OPTIONS.join(', ')})`);
    this.prefix = opts.prefix ?? 'async';
    if (/[{}]/.test(String(this.prefix))) throw new TypeError(`setup: prefix ${JSON.stringify(this.prefix)} contains a brace: keys carry the Redis Cluster hash tag {prefix:queue}, and a brace inside would put a queue's keys in different slots`);
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(this.prefix)) throw new TypeError(`setup: prefix must be 1-64 characters of A-Z a-z 0-9 _ . - (got ${JSON.stringify(opts.prefix)})`);
    const retention = opts.retention ?? DAY;
    if (typeof retention !== 'number' || !Number.isInteger(retention) || retention < 0) throw new RangeError(`setup: retention must be a whole number of ms >= 0 (got ${String(opts.retention)})`);
    const { mirror: mirrorOpt, table } = mirrorOption(opts.mirror);
    if (opts.metrics !== undefined && typeof opts.metrics !== 'boolean') throw new TypeError(`setup: metrics must be true or false (got ${String(opts.metrics)})`);
    this.sequelize = opts.sequelize;
    const mirror = mirrorOpt ?? this.sequelize !== undefined;
    if (mirror && !this.sequelize) throw new TypeError('setup: mirror needs a sequelize instance');
    const dur = durability(opts.replicas, opts.replicaTimeoutMs, opts.redis === 'mock');
    const conn = connect(opts.redis, { connectTimeoutMs: opts.connectTimeoutMs });
    this.redis = conn.client;
    this.owned = conn.owned;
    defineScripts(this.redis);
    // ioredis reconnects by itself and failed commands reject; without a listener it would print
    // "Unhandled error event" on every reconnect attempt. Ours go to the queue's 'error' listeners.
    if (conn.owned) this.redis.on('error', (e: Error) => this.report(e));
    this.internals = new QueueContext({ redis: this.redis, mock: conn.mock, prefix: this.prefix, mirror, table, retention, sequelize: this.sequelize,
      durability: dur, metrics: opts.metrics });
    const ctx = this.internals;
    ctx.connected = conn.connected;
    ctx.workersSaturated = () => [...this.workers].some((w) => w.saturated);
    ctx.acquireMirror = (want, onError) => (ctx.mirror && want !== false ? acquireMirror(ctx, onError) : null);
    this.enqueuer = new Enqueuer(this.internals, () => this.closed, (e) => this.report(e, true));
    if (this.sequelize) {
      this.AsyncTask = defineAsyncTask(this.sequelize, table);
      this.internals.historyReader = historyReader(this.AsyncTask);
      this.once('close', trackTransactions(this.sequelize));
      attachModels(this, this.sequelize, `sequelize-async-${++hooks}`);
    }
  }

  /** Registers a class or object whose methods tasks may call; gives it `async` and `schedule`. */
  register<T extends object>(nameOrTarget: string | T, targetOrOpts?: T | RegisterOptions, maybeOpts?: RegisterOptions): Registered<T> {
    const named = typeof nameOrTarget === 'string';
    const target = (named ? targetOrOpts : nameOrTarget) as T;
    const opts = (named ? maybeOpts : targetOrOpts) as RegisterOptions | undefined;
    const name = named ? nameOrTarget : (target as { name?: unknown })?.name;
    if (typeof name !== 'string' || name === '') throw new TypeError('register: give a name, register(name, target), for an object without one');
    if (opts !== undefined) {
      if (typeof opts !== 'object' || opts === null || Object.keys(opts).some((k) => k !== 'defaults')) throw new TypeError(`register ${name}: options must be { defaults: { method: {...} } }`);
      if (opts.defaults !== undefined) setDefaults(target, opts.defaults, `register ${name}`);
    }
    this.internals.registry.register(name, target);
    addMixin(this, target);
    return target as Registered<T>;
  }

  async(target: object, action: string, opts?: EnqueueOptions): Promise<Task> {
    return this.enqueuer.enqueue(target, action, opts, ASYNC_PRIORITY);
  }

  schedule(target: object, at: Date | number, action: string, opts?: EnqueueOptions): Promise<Task> {
    try {
      return this.enqueuer.enqueue(target, action, { ...opts, scheduledAt: checkTime(at, 'schedule time') }, SCHEDULE_PRIORITY);
    } catch (e) { return Promise.reject(e); }
  }

  /** A recurring task (cron `pattern`, 5 or 6 fields or '@daily'), upserted by name: call it in every process at boot. */
  every(target: object, pattern: string, action: string, opts?: recurring.RecurringOptions): Promise<recurring.RecurringSchedule> {
    return recurring.every(this.internals, target, pattern, action, opts);
  }

  /** Every recurring schedule with its next and last tick. */
  recurring(): Promise<recurring.RecurringInfo[]> { return recurring.recurring(this.internals); }

  /** Removes a recurring schedule by name; false when there was none. */
  unschedule(name: string): Promise<boolean> { return recurring.unschedule(this.internals, name); }

  /** Many tasks at once: all entries are checked first (one bad entry stores nothing), then stored in batches. */
  bulk(entries: [target: object, action: string, opts?: EnqueueOptions][]): Promise<Task[]> {
    return this.enqueuer.bulk(entries);
  }

  /** A handle for a task id, found in whichever queue holds it (or in the SQL history), else null. */
  task(id: number | string): Promise<Task | null> {
    return findTask(this.internals, id);
  }

  worker(opts: WorkerOptions = {}): Worker {
    if (opts.mirror === true && !this.internals.mirror) throw new TypeError('worker: mirror: true needs a queue that mirrors (setup with sequelize, and mirror not false)');
    const w = new Worker(this.internals, opts);
    recurring.attachScheduler(this.internals, w);
    this.workers.add(w);
    w.once('stopped', () => this.workers.delete(w));
    return w;
  }

  /** Resolves once Redis has answered; rejects with a RedisUnreachableError after the connect timeout. */
  connected(): Promise<void> {
    return this.internals.connected();
  }

  /** The web dashboard as a plain Node handler: `app.use('/async', queue.dashboard())` or `http.createServer(queue.dashboard())`. */
  dashboard(options?: DashboardOptions): Handler {
    return dashboard(this, options);
  }

  stats(): Promise<QueueStats> {
    return queueStats(this.internals);
  }

  /** No worker starts a task of `queue` until resume() (stored in Redis; see README "Flow control"). */
  pause(queue: string): Promise<void> {
    try { return pauseQueue(this.internals, queue); } catch (e) { return Promise.reject(e); }
  }

  resume(queue: string): Promise<void> {
    try { return resumeQueue(this.internals, queue); } catch (e) { return Promise.reject(e); }
  }

  /** Replaces the queue's rate limit and concurrency cap, shared by every worker (null removes them). */
  limit(queue: string, limits: QueueLimits | null): Promise<void> {
    try { return limitQueue(this.internals, queue, limits); } catch (e) { return Promise.reject(e); }
  }

  /** Every queue's metrics in the Prometheus text format (for an app that already serves /metrics). */
  metrics(): Promise<string> { return prometheusText(this.internals); }

  /** Creates the `async_tasks` table and its indexes when missing; safe to run again. */
  migrate(): Promise<MigrateResult> {
    return migrate(this.internals);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.workers].map((w) => w.stop()));
    this.emit('close');
    this.internals.emit('close');
    if (this.owned) await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** To 'error' listeners if there are any (`warn`: else as a process warning, for errors nobody awaits). */
  private report(e: Error, warn = false): void {
    if (this.listenerCount('error') > 0) this.emit('error', e);
    else if (warn) process.emitWarning(e.message);
  }
}
