// Errors a user may catch by class (`instanceof`), and the operational conditions a worker
// reports on its 'error' event, typed so metrics and the dashboard can count them by class
// rather than by message text. A stored error keeps its `name`, so a failed task's error read
// back from Redis or SQL says which of these it was.

/** Base of every error this library throws or stores by its own decision. */
export class AsyncError extends Error {
  constructor(message: string) { super(message); this.name = new.target.name; }
}

/** An attempt ran past its `timeout`. */
export class TimeoutError extends AsyncError {}

/** The model row a task was queued for is gone by the time a worker runs it. */
export class RecordNotFoundError extends AsyncError {}

/** A task whose hash cannot be run (missing fields, undecodable args, unknown target). */
export class CorruptTaskError extends AsyncError {}

/** Stored as a task's error when its worker died while running it more often than `maxStalls` allows. */
export class WorkerLostError extends AsyncError {}

/** The method ran, but what it returned cannot be stored (a function, a cycle, ...). Not retried: it would run again. */
export class ResultNotStorableError extends AsyncError {}

/** A worker found that task(s) it runs are leased to someone else now (its renewals came too late). */
export class LeaseLostError extends AsyncError {
  constructor(message: string, readonly queue: string, readonly ids: string[]) { super(message); }
}

/** finish.lua refused outcomes because the attempts were no longer this worker's. */
export class FinishRefusedError extends AsyncError {
  constructor(message: string, readonly queue: string, readonly ids: string[]) { super(message); }
}

/** setup({ replicas }): the write is on the master, but fewer replicas than asked confirmed it in time (a failover now could lose it). */
export class NotReplicatedError extends AsyncError {
  constructor(message: string, readonly queue: string, readonly acked: number, readonly wanted: number) { super(message); }
}

/** Redis cannot be reached (refused, timed out, DNS): `address` is host:port, the message names the cause. */
export class RedisUnreachableError extends AsyncError {
  constructor(message: string, readonly address: string) { super(message); }
}

/**
 * Thrown by a task's method when a provider says "slow down": the task goes back to the queue at
 * its place without using up an attempt, and the queue starts nothing for `ms`.
 */
export class RateLimitedError extends AsyncError {
  readonly ms: number;
  constructor(ms: number, message?: string) {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new RangeError(`RateLimitedError: ms must be a number of ms >= 0 (got ${String(ms)})`);
    super(message ?? `rate limited: the queue starts nothing for ${ms} ms`);
    this.ms = ms;
  }
}

/** Mirror: another prefix writes its history into this table (ids are unique per prefix only). */
export class TableTakenError extends AsyncError {
  constructor(message: string, readonly table: string, readonly owner: string, readonly prefix: string) { super(message); }
}
