// Public API of sequelize-async. lib/ implements these (spec/fixtures/types/impl-check.ts has the
// compiler check it); a user's TypeScript app sees only these. Split by concern: options.d.ts,
// actions.d.ts (which method names and args a task may take), events.d.ts, errors.d.ts.
import type { Redis } from 'ioredis';
import type { Sequelize, Model, ModelStatic } from 'sequelize';
import type { EnqueueOptions, RegisterOptions, WorkerOptions, MirrorOptions, SetupOptions, WaitOptions, RecurringOptions } from './options';
import type { AsyncAction, AsyncArgs, AsyncOptionsArg } from './actions';
import type { StoredError } from './errors';
import type { TypedEvents, WorkerEvents, QueueEvents } from './events';
import type { DashboardOptions, DashboardHandler } from './dashboard';

export type { BackoffOptions, EnqueueOptions, WaitOptions, WorkerOptions, MirrorOptions, SetupOptions, MethodDefaults, RegisterOptions, RecurringOptions } from './options';
export type { AsyncAction, AsyncArgs, AsyncOptionsArg, MixinName } from './actions';
export type { DashboardOptions, DashboardHandler, DashboardAccess, MetricsSource, MetricsSeries } from './dashboard';
export type { FinishedTaskEvent, SweptEvent, ReconnectedEvent, WorkerEvents, QueueEvents, TypedEvents } from './events';
export { StoredError, AsyncError, TimeoutError, RecordNotFoundError, CorruptTaskError, WorkerLostError, ResultNotStorableError,
  LeaseLostError, FinishRefusedError, RedisUnreachableError, NotReplicatedError, RateLimitedError, TableTakenError } from './errors';

export type TaskState = 'pending' | 'queued' | 'scheduled' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** Smallest and largest priority accepted (a larger priority runs first). */
export declare const MIN_PRIORITY: -2147483648;
export declare const MAX_PRIORITY: 2147483647;

/** A handle on one task (what async/schedule return and `queue.task(id)` finds). */
export interface Task {
  readonly id: number;
  readonly queue: string;
  readonly objectType: string;
  readonly objectId: string | null;
  readonly action: string;
  readonly args: unknown[];
  readonly priority: number;
  readonly scheduledAt: Date;
  readonly state: TaskState;
  /** true | false once finished; null before. */
  readonly success: boolean | null;
  /** The return value, or the stored Error for a failure; undefined when nothing was stored. */
  readonly result: unknown;
  /** Every failed attempt's error, oldest first. */
  readonly errors: StoredError[];
  readonly attempts: number;
  readonly cancelled: boolean;
  readonly worker: string | null;
  readonly createdAt: Date | null;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  /** The recurring schedule whose tick stored this task (null: none). */
  readonly recurrence: string | null;
  /** Its unique key (null: not a unique task). */
  readonly unique: string | null;
  /** true on the handle an enqueue returned instead of storing a duplicate of this (unique) task. */
  readonly duplicate: boolean;
  reload(): Promise<this>;
  /** Resolves when the task has finished (or was cancelled); rejects with a TimeoutError after opts.timeout ms. */
  wait(opts?: WaitOptions): Promise<this>;
  /** Returns the state after cancelling: 'cancelled', or 'running' when it was already running (it is marked, not interrupted). */
  cancel(): Promise<TaskState>;
}

/** The handle of a task enqueued inside a transaction: state 'pending' until the commit. */
export interface PendingTask extends Task {
  /** true when the transaction rolled back (or the task was cancelled before the commit): it was never queued. */
  readonly dropped: boolean;
}

export interface WorkerStats { done: number; failed: number; running: number }

export interface Worker extends TypedEvents<WorkerEvents> {
  readonly name: string;
  readonly stats: WorkerStats;
  start(): Promise<void>;
  /** Stop claiming, let running tasks finish within graceMs (default 30000), then hand back what still runs. */
  stop(opts?: { graceMs?: number }): Promise<void>;
}

export interface QueueStats {
  [queue: string]: { queued: number; scheduled: number; running: number; finished: number; mirrorLag: MirrorLag;
    /** No task of the queue starts (queue.pause). */
    paused: boolean; limits: QueueLimits | null;
    /** A RateLimitedError holds the queue's starts until this time (ms), else null. */
    heldUntil: number | null };
}

/** Flow limits of a queue, shared by every worker (queue.limit). */
export interface QueueLimits {
  /** At most `max` task starts in any window of `duration` ms (a sliding log of start times). */
  rate?: { max: number; duration: number };
  /** At most this many of the queue's tasks running (leased) at once. */
  concurrency?: number;
}

export interface MirrorLag {
  /** Mirror events waiting in Redis: task changes not yet written to MySQL (a task enqueued, run and finished counts three). */
  events: number;
  /** About how long the oldest waiting event has waited, in ms (sampled by the mirror loop, so a lower bound); null when none wait. */
  oldestAgeMs: number | null;
}

/** A row of `async_tasks`: the MySQL history of one task. */
export interface AsyncTaskAttributes {
  /** The task id (as in Redis). */
  id: number;
  queue: string;
  object_type: string;
  object_id: string | null;
  action: string;
  /** Decoded args (the stored msgpack is `row.getDataValue('args')`). */
  args: unknown[];
  /** Decoded: the return value, the stored Error (with `backtrace`) for a failure, undefined for none. */
  result: unknown;
  error_name: string | null;
  error_message: string | null;
  /** Frame lines of the last error, newline-separated. */
  backtrace: string | null;
  priority: number;
  state: TaskState;
  success: boolean | null;
  cancelled: boolean;
  attempts: number;
  worker: string | null;
  scheduled_at: Date | null;
  /** The task's first scheduled time: `retry` and backoff retries change scheduled_at, not this. */
  first_scheduled_at: Date | null;
  /** The recurring schedule (queue.every) that queued the task, else null. */
  recurrence: string | null;
  /** A unique task's key, else null. */
  unique_key: string | null;
  started_at: Date | null;
  finished_at: Date | null;
  created_at: Date | null;
  /** The args as JSON (see README, "History in SQL", for BigInt, Buffer, Map, Set, Date, Error). */
  args_json: unknown;
  /** The result (or a failure's error) as JSON; null when none was stored. */
  result_json: unknown;
}

/** What `migrate()` did. */
export interface MigrateResult {
  table: string;
  /** The table did not exist and was created. */
  created: boolean;
  /** Columns added to an existing table (none when it was created). */
  addedColumns: string[];
  /** Indexes added to an existing table (none when it was created). */
  addedIndexes: string[];
  /** One line for a person: "created async_tasks", "async_tasks: added columns a, b", "async_tasks is up to date". */
  summary: string;
}

export interface AsyncTask extends Model<AsyncTaskAttributes>, AsyncTaskAttributes {}

/**
 * `async` and `schedule` of a registered class or object T: `action` is one of T's own methods,
 * `args` its parameters (a trailing AbortSignal left out); opts may be left out when the method
 * has no required parameters. A recurring `every(pattern, action, ...opts)` takes the same pair.
 */
export interface AsyncMixin<T = any> {
  async<A extends AsyncAction<T>>(action: A, ...opts: AsyncOptionsArg<T, A>): Promise<Task>;
  schedule<A extends AsyncAction<T>>(at: Date | number, action: A, ...opts: AsyncOptionsArg<T, A>): Promise<Task>;
  /** A recurring task on a cron pattern, upserted by name (README "Recurring tasks"). */
  every<A extends AsyncAction<T>>(pattern: string, action: A, opts?: RecurringOptions<AsyncArgs<T, A>>): Promise<RecurringSchedule>;
}

export type Registered<T> = T & AsyncMixin<T>;

/** What every() resolves to; `changed` is false when the same schedule was stored already. */
export interface RecurringSchedule { name: string; queue: string; pattern: string; tz: string; next: Date | null; changed: boolean }

/** One schedule as `queue.recurring()` lists it. */
export interface RecurringInfo {
  name: string; queue: string; pattern: string; tz: string; target: string; action: string;
  next: Date | null; last: Date | null; lastTaskId: number | null; lastState: TaskState | null; lastError: string | null; problem?: string;
}

export interface Queue extends TypedEvents<QueueEvents> {
  readonly prefix: string;
  readonly redis: Redis;
  readonly sequelize: Sequelize | undefined;
  register<T extends object>(target: T, opts?: RegisterOptions): Registered<T>;
  register<T extends object>(name: string, target: T, opts?: RegisterOptions): Registered<T>;
  /** Like `target.async(action, opts)`, for a model instance, a model or a registered class/object. */
  async<T extends object, A extends AsyncAction<T>>(target: T, action: A, ...opts: AsyncOptionsArg<T, A>): Promise<Task>;
  schedule<T extends object, A extends AsyncAction<T>>(target: T, at: Date | number, action: A, ...opts: AsyncOptionsArg<T, A>): Promise<Task>;
  /**
   * Many tasks at once: all entries are checked first (one bad entry stores nothing), then stored
   * in batches. Entries are not checked per method at compile time (the worker checks them).
   */
  bulk(entries: [target: object, action: string, opts?: EnqueueOptions][]): Promise<Task[]>;
  every<T extends object, A extends AsyncAction<T>>(target: T, pattern: string, action: A, opts?: RecurringOptions<AsyncArgs<T, A>>): Promise<RecurringSchedule>;
  recurring(): Promise<RecurringInfo[]>;
  unschedule(name: string): Promise<boolean>;
  task(id: number | string): Promise<Task | null>;
  worker(opts?: WorkerOptions): Worker;
  stats(): Promise<QueueStats>;
  /** No worker starts a task of this queue until resume(); running ones finish, prefetched ones go back. Stored in Redis. */
  pause(queue: string): Promise<void>;
  resume(queue: string): Promise<void>;
  /** Replaces the queue's limits (null removes them). Stored in Redis, shared by every worker. */
  limit(queue: string, limits: QueueLimits | null): Promise<void>;
  /** Every queue's metrics in the Prometheus text format (for an app that already serves /metrics). */
  metrics(): Promise<string>;
  close(): Promise<void>;
  /** The history model over `async_tasks` (defined on the sequelize given to setup). */
  readonly AsyncTask: ModelStatic<AsyncTask> | undefined;
  /** Resolves once Redis has answered; rejects with a RedisUnreachableError after the connect timeout. */
  connected(): Promise<void>;
  /** The web dashboard as a plain Node handler: `app.use('/async', queue.dashboard())`, `http.createServer(queue.dashboard())`. */
  dashboard(options?: DashboardOptions): DashboardHandler;
  /** Creates `async_tasks`, or adds the columns and indexes a newer version needs; safe to run any number of times. */
  migrate(): Promise<MigrateResult>;
}

/** Runs the SQL mirror loop for every queue of `queue` until `opts.signal` aborts (workers run it by default). */
export declare function runMirror(queue: Queue, opts?: MirrorOptions): Promise<void>;
/** Creates `async_tasks` and its indexes on the queue's sequelize when missing (what `queue.migrate()` does). */
export declare function migrate(queue: Queue): Promise<MigrateResult>;
/** Path of the shipped `async_tasks` migration (sequelize-cli: copy it into your migrations folder; umzug: list it). */
export declare const MIGRATION_PATH: string;
/** The folder holding the shipped migrations (umzug: `glob: join(MIGRATIONS_DIR, '*.js')`). */
export declare const MIGRATIONS_DIR: string;

export declare function setup(opts?: SetupOptions): Queue;

// The classes behind the handles, for `instanceof` (create them with setup(), queue.worker(), queue.task()).
export declare const Queue: abstract new (...args: never[]) => Queue;
export declare const Worker: abstract new (...args: never[]) => Worker;
export declare const Task: abstract new (...args: never[]) => Task;
export declare const PendingTask: abstract new (...args: never[]) => PendingTask;

declare module 'sequelize' {
  interface Model {
    /** Run this instance's method `action` in a background worker (`args`: its parameters). */
    async<A extends AsyncAction<this>>(action: A, ...opts: AsyncOptionsArg<this, A>): Promise<Task>;
    /** Run this instance's method at a given time (default priority 20). */
    schedule<A extends AsyncAction<this>>(at: Date | number, action: A, ...opts: AsyncOptionsArg<this, A>): Promise<Task>;
    /** This row's method on a cron pattern (README "Recurring tasks"). */
    every<A extends AsyncAction<this>>(pattern: string, action: A, opts?: RecurringOptions<AsyncArgs<this, A>>): Promise<RecurringSchedule>;
  }
  // Static side: Order.async('purgeOld', { args: [30] })
  namespace Model {
    function async<M, A extends AsyncAction<M>>(this: M, action: A, ...opts: AsyncOptionsArg<M, A>): Promise<Task>;
    function schedule<M, A extends AsyncAction<M>>(this: M, at: Date | number, action: A, ...opts: AsyncOptionsArg<M, A>): Promise<Task>;
    function every<M, A extends AsyncAction<M>>(this: M, pattern: string, action: A, opts?: RecurringOptions<AsyncArgs<M, A>>): Promise<RecurringSchedule>;
  }
}
