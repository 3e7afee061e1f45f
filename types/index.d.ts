// Public API of sequelize-async. lib/ implements these; a user's TypeScript app sees only these.
import type { Redis, RedisOptions } from 'ioredis';
import type { Sequelize, Transaction, Model, ModelStatic } from 'sequelize';

export type TaskState = 'pending' | 'queued' | 'scheduled' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** Smallest and largest priority accepted (a larger priority runs first). */
export declare const MIN_PRIORITY: -2147483648;
export declare const MAX_PRIORITY: 2147483647;

export interface BackoffOptions {
  type: 'fixed' | 'exponential';
  /** Milliseconds before the 2nd attempt (exponential doubles it each time). */
  delay: number;
  /** 0..1: each delay is spread by ±jitter of itself. */
  jitter?: number;
}

export interface EnqueueOptions {
  args?: unknown[];
  /** Integer in MIN_PRIORITY..MAX_PRIORITY; larger runs first. Default 10 (async) or 20 (schedule). */
  priority?: number;
  /** When the task becomes due; default now. */
  scheduledAt?: Date | number;
  /** Queue name, default 'default'. */
  queue?: string;
  /** Attempts in all (default 1: the seed's single attempt). */
  attempts?: number;
  backoff?: BackoffOptions;
  /** Milliseconds an attempt may run before it fails with a TimeoutError. */
  timeout?: number;
  /** Queue after this transaction commits, drop it on rollback. */
  transaction?: Transaction | null;
  /** true (key: type, object id, action, args) or a key: while such a task waits, another enqueue returns it (task.duplicate). */
  unique?: boolean | string;
  /** How long the lock holds: until the task 'started' (default) or 'finished'. */
  uniqueUntil?: 'started' | 'finished';
}

export interface StoredError extends Error {
  backtrace: string[];
  [key: string]: unknown;
}

export interface WaitOptions { timeout?: number }

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

export interface WorkerOptions {
  queues?: string[];
  concurrency?: number;
  /** A name for this worker in task hashes and `status` (default host:pid:n). */
  name?: string;
  /** Lease length in ms (renewed while a task runs). Default 30000. */
  leaseMs?: number;
  /**
   * Tasks to claim beyond `concurrency` and hold (leased) in this process, so the next one starts
   * without a Redis round trip. Default 'auto': only while draining a backlog of tasks that average
   * under 2 ms, as many as finish within about 2 ms (at most 16 or `concurrency`); one that waits
   * 10 ms anyway (the task ahead ran long) goes back to the queue. A number N always holds N (they
   * wait behind a long task); 0 claims one task per free slot. A prefetched task shows as running
   * before it starts.
   */
  prefetch?: number | 'auto';
  /** Run the MySQL mirror loop inside this worker (default: when the queue mirrors). */
  mirror?: boolean;
  /** Re-runs allowed after a task's worker died (lease expired) before it fails with "worker lost". Default 1. The worker that sweeps applies its own value: give all workers the same. */
  maxStalls?: number;
}

export interface WorkerStats { done: number; failed: number; running: number }

export interface Worker {
  readonly name: string;
  readonly stats: WorkerStats;
  start(): Promise<void>;
  /** Stop claiming, let running tasks finish within graceMs (default 30000), then hand back what still runs. */
  stop(opts?: { graceMs?: number }): Promise<void>;
  on(event: 'task', fn: (task: FinishedTaskEvent) => void): this;
  on(event: 'error', fn: (err: Error) => void): this;
}

export interface FinishedTaskEvent {
  id: number; queue: string; objectType: string; objectId: string | null; action: string;
  success: boolean; error?: StoredError; durationMs: number; attempt: number;
  /** A failed attempt that will run again (attempts/backoff), and when. */
  willRetry: boolean; retryAt?: Date;
}

export interface QueueStats {
  [queue: string]: { queued: number; scheduled: number; running: number; finished: number; mirrorLag: MirrorLag };
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
  started_at: Date | null;
  finished_at: Date | null;
  created_at: Date | null;
}

export interface AsyncTask extends Model<AsyncTaskAttributes>, AsyncTaskAttributes {}

export interface MirrorOptions {
  /** Stops the loop (after the batch in flight and a last drain of up to drainMs). */
  signal?: AbortSignal;
  /** Each failure (MySQL unreachable, ...); the loop retries with backoff (up to 5 s) either way. */
  onError?: (err: Error) => void;
  /** Events per batch, default 500. */
  batch?: number;
  /** On stop, keep mirroring what waits for up to this long (default 2000 ms). */
  drainMs?: number;
  /**
   * Behind while a worker of the same queue object has a backlog and every slot busy, pause up to
   * this long before catching up flat out (default 5000 ms; 0 never pauses).
   */
  yieldMs?: number;
}

export interface SetupOptions {
  sequelize?: Sequelize;
  /** A redis:// URL, ioredis options, an ioredis instance, or 'mock' for an in-process Redis. Default REDIS_URL or the local Redis. */
  redis?: string | RedisOptions | Redis;
  /** Key prefix, default 'async'. Every key of a queue carries the hash tag {prefix:queue}. */
  prefix?: string;
  /** Mirror tasks to MySQL through the AsyncTask model (default: when sequelize is given). */
  mirror?: boolean;
  /** How long finished tasks stay in Redis, in ms (default 24 h; 0 = drop once recorded). */
  retention?: number;
}

/** Defaults for one method, applied at enqueue (per-call options win) and, for `signal`, by the worker. */
export interface MethodDefaults {
  attempts?: number;
  backoff?: BackoffOptions;
  timeout?: number;
  priority?: number;
  queue?: string;
  /** Pass an AbortSignal after the stored args; aborted on timeout, on hand-back at shutdown and when the lease is lost. */
  signal?: boolean;
}

export interface RegisterOptions {
  /** Per-method defaults, e.g. { deliver: { attempts: 5, backoff: { type: 'exponential', delay: 1000 } } }. A class or model may declare `static asyncDefaults` instead. */
  defaults?: Record<string, MethodDefaults>;
}

export type Registered<T> = T & AsyncMixin;

export interface AsyncMixin {
  async(action: string, opts?: EnqueueOptions): Promise<Task>;
  schedule(at: Date | number, action: string, opts?: EnqueueOptions): Promise<Task>;
  /** A recurring task on a cron pattern, upserted by name (see README "Recurring tasks"). */
  every(pattern: string, action: string, opts?: RecurringOptions): Promise<RecurringSchedule>;
}

/** every()'s options: those of async (but scheduledAt and transaction) plus the schedule's own. */
export interface RecurringOptions extends Omit<EnqueueOptions, 'scheduledAt' | 'transaction'> {
  /** Default 'Type#action', or 'Type(id)#action' for a model instance. */
  name?: string;
  /** IANA time zone of the pattern; default 'UTC'. */
  tz?: string;
  /** Ticks that passed while no scheduler ran: 'skip', 'latest' (default: run once for the newest), 'all' (each, at most 1,000). */
  missed?: 'skip' | 'latest' | 'all';
  /** false: skip a tick while the previous task of this schedule is still queued, scheduled or running. */
  overlap?: boolean;
}

export interface RecurringSchedule { name: string; queue: string; pattern: string; tz: string; next: Date | null; changed: boolean }

export interface RecurringInfo {
  name: string; queue: string; pattern: string; tz: string; target: string; action: string;
  next: Date | null; last: Date | null; lastTaskId: number | null; lastState: TaskState | null; lastError: string | null; problem?: string;
}

export interface Queue {
  readonly prefix: string;
  readonly redis: Redis;
  readonly sequelize: Sequelize | undefined;
  register<T extends object>(target: T, opts?: RegisterOptions): Registered<T>;
  register<T extends object>(name: string, target: T, opts?: RegisterOptions): Registered<T>;
  async(target: object, action: string, opts?: EnqueueOptions): Promise<Task>;
  schedule(target: object, at: Date | number, action: string, opts?: EnqueueOptions): Promise<Task>;
  /** Many tasks at once: all entries are checked first (one bad entry stores nothing), then stored in batches. */
  bulk(entries: [target: object, action: string, opts?: EnqueueOptions][]): Promise<Task[]>;
  every(target: object, pattern: string, action: string, opts?: RecurringOptions): Promise<RecurringSchedule>;
  recurring(): Promise<RecurringInfo[]>;
  unschedule(name: string): Promise<boolean>;
  task(id: number | string): Promise<Task | null>;
  worker(opts?: WorkerOptions): Worker;
  stats(): Promise<QueueStats>;
  close(): Promise<void>;
  /** The history model over `async_tasks` (defined on the sequelize given to setup). */
  readonly AsyncTask: ModelStatic<AsyncTask> | undefined;
  /** Creates `async_tasks` and its indexes when missing; safe to run any number of times. */
  migrate(): Promise<void>;
}

/** Runs the MySQL mirror loop for every queue of `queue` until `opts.signal` aborts (workers run it by default). */
export declare function runMirror(queue: Queue, opts?: MirrorOptions): Promise<void>;
/** Path of the shipped `async_tasks` migration (sequelize-cli: copy it into your migrations folder; umzug: list it). */
export declare const MIGRATION_PATH: string;

export declare function setup(opts?: SetupOptions): Queue;

export declare class TimeoutError extends Error {}
export declare class RecordNotFoundError extends Error {}

declare module 'sequelize' {
  interface Model {
    /** Run this instance's method in a background worker. */
    async(action: string, opts?: EnqueueOptions): Promise<Task>;
    /** Run this instance's method at a given time (default priority 20). */
    schedule(at: Date | number, action: string, opts?: EnqueueOptions): Promise<Task>;
    /** This row's method on a cron pattern (see README "Recurring tasks"). */
    every(pattern: string, action: string, opts?: RecurringOptions): Promise<RecurringSchedule>;
  }
  // Static side: Order.async('purgeOld')
  namespace Model {
    function async(action: string, opts?: EnqueueOptions): Promise<Task>;
    function schedule(at: Date | number, action: string, opts?: EnqueueOptions): Promise<Task>;
    function every(pattern: string, action: string, opts?: RecurringOptions): Promise<RecurringSchedule>;
  }
}
