// The error classes lib/errors.ts exports: every one can be caught with `instanceof`. A stored
// error (a failed task's, read back from Redis or SQL) is a plain Error keeping the class's `name`.

/** An error as stored with a failed task: `name` and `message` kept, `backtrace` the frame lines. */
export interface StoredError extends Error {
  backtrace: string[];
  [key: string]: unknown;
}

/** Base of every error this library throws or stores by its own decision. */
export declare class AsyncError extends Error {
  constructor(message: string);
}
/** An attempt ran past its `timeout`. */
export declare class TimeoutError extends AsyncError {}
/** The model row a task was queued for is gone by the time a worker runs it. */
export declare class RecordNotFoundError extends AsyncError {}
/** A task whose hash cannot be run (missing fields, undecodable args, unknown target). */
export declare class CorruptTaskError extends AsyncError {}
/** Stored as a task's error when its worker died while running it more often than `maxStalls` allows. */
export declare class WorkerLostError extends AsyncError {}
/** The method ran, but what it returned cannot be stored (a function, a cycle, ...). Not retried. */
export declare class ResultNotStorableError extends AsyncError {}
/** Worker 'error': task(s) it runs are leased to someone else now (its renewals came too late). */
export declare class LeaseLostError extends AsyncError {
  constructor(message: string, queue: string, ids: string[]);
  readonly queue: string;
  readonly ids: string[];
}
/** Worker 'error': Redis refused outcomes because the attempts were no longer this worker's. */
export declare class FinishRefusedError extends AsyncError {
  constructor(message: string, queue: string, ids: string[]);
  readonly queue: string;
  readonly ids: string[];
}
/** setup({ replicas }): written on the master, but fewer replicas than asked confirmed it in time (an enqueue rejects; a worker's 'error'). */
export declare class NotReplicatedError extends AsyncError {
  constructor(message: string, queue: string, acked: number, wanted: number);
  readonly queue: string;
  readonly acked: number;
  readonly wanted: number;
}
/** Worker 'error': Redis cannot be reached (refused, timed out, DNS); `address` is host:port. */
export declare class RedisUnreachableError extends AsyncError {
  constructor(message: string, address: string);
  readonly address: string;
}
/** Throw from a task's method when a provider rate-limits you: the task goes back at its place without using up an attempt, and its queue starts nothing for `ms`. */
export declare class RateLimitedError extends AsyncError {
  constructor(ms: number, message?: string);
  readonly ms: number;
}

/** Mirror (migrate() rejects, the loop reports): prefix `owner` writes its task history into `table`, so `prefix` must not. */
export declare class TableTakenError extends AsyncError {
  constructor(message: string, table: string, owner: string, prefix: string);
  readonly table: string;
  readonly owner: string;
  readonly prefix: string;
}
