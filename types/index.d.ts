// Public API of sequelize-async. lib/ implements these; a user's TypeScript app sees only these.
import type { Redis, RedisOptions } from 'ioredis';
import type { Sequelize, Transaction } from 'sequelize';

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
  /** Run the MySQL mirror loop inside this worker (default: when the queue mirrors). */
  mirror?: boolean;
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
}

export interface QueueStats {
  [queue: string]: { queued: number; scheduled: number; running: number; finished: number; mirrorLag: { events: number } };
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

export type Registered<T> = T & AsyncMixin;

export interface AsyncMixin {
  async(action: string, opts?: EnqueueOptions): Promise<Task>;
  schedule(at: Date | number, action: string, opts?: EnqueueOptions): Promise<Task>;
}

export interface Queue {
  readonly prefix: string;
  readonly redis: Redis;
  readonly sequelize: Sequelize | undefined;
  register<T extends object>(target: T): Registered<T>;
  register<T extends object>(name: string, target: T): Registered<T>;
  async(target: object, action: string, opts?: EnqueueOptions): Promise<Task>;
  schedule(target: object, at: Date | number, action: string, opts?: EnqueueOptions): Promise<Task>;
  task(id: number | string): Promise<Task | null>;
  worker(opts?: WorkerOptions): Worker;
  stats(): Promise<QueueStats>;
  close(): Promise<void>;
}

export declare function setup(opts?: SetupOptions): Queue;

export declare class TimeoutError extends Error {}
export declare class RecordNotFoundError extends Error {}

declare module 'sequelize' {
  interface Model {
    /** Run this instance's method in a background worker. */
    async(action: string, opts?: EnqueueOptions): Promise<Task>;
    /** Run this instance's method at a given time (default priority 20). */
    schedule(at: Date | number, action: string, opts?: EnqueueOptions): Promise<Task>;
  }
  // Static side: Order.async('purgeOld')
  namespace Model {
    function async(action: string, opts?: EnqueueOptions): Promise<Task>;
    function schedule(at: Date | number, action: string, opts?: EnqueueOptions): Promise<Task>;
  }
}
