// Event maps of Worker and Queue, in the tuple form Node's EventEmitter<T> takes
// (`class Worker extends EventEmitter<WorkerEvents>`), and typed on/once/off.
import type { StoredError } from './errors';

/** A worker's 'task' event: one attempt finished. */
export interface FinishedTaskEvent {
  id: number; queue: string; objectType: string; objectId: string | null; action: string;
  success: boolean; error?: StoredError; durationMs: number; attempt: number;
  /** A failed attempt that will run again (attempts/backoff), and when. */
  willRetry: boolean; retryAt?: Date;
}

/** A worker's 'swept' event: tasks of dead workers recovered (queued again) or failed (WorkerLostError). */
export interface SweptEvent { queue: string; recovered: number; failed: number }

/** A worker's 'reconnected' event: Redis answers again after a RedisUnreachableError was emitted. */
export interface ReconnectedEvent { downMs: number }

export interface WorkerEvents {
  task: [event: FinishedTaskEvent];
  /** LeaseLostError, FinishRefusedError, RedisUnreachableError, or another Error. */
  error: [err: Error];
  reconnected: [event: ReconnectedEvent];
  /** Only when something was recovered or failed. */
  swept: [event: SweptEvent];
  /** start() is done: the worker claims (and its recurring-task scheduler runs). */
  started: [];
  stopped: [];
}

export interface QueueEvents {
  /** Errors of the queue's own Redis connection (it reconnects by itself). */
  error: [err: Error];
  close: [];
}

/** on/once/off for the events of map E: a misspelled event name or a wrong listener fails to compile. */
export interface TypedEvents<E extends { [K in keyof E]: unknown[] }> {
  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this;
  once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this;
  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this;
}
