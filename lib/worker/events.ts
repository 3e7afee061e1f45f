// The events a Worker emits, as one typed map, so a listener's argument is checked by the
// compiler and metrics/dashboards can subscribe by name without reading the source; and the
// payloads the worker builds for them.
import { EventEmitter } from 'events';
import type { FinishedTaskEvent, StoredError } from '../../types';
import type { Claimed } from '../claim-reply';
import type { Outcome } from '../perform';
import { FinishRefusedError } from '../errors';
import { taskLabel } from '../label';

/** What one sweep of a queue did: tasks of dead workers put back in line, or failed ("worker lost", or cancelled while they ran). */
export interface SweptEvent { queue: string; recovered: number; failed: number }

/** Redis answers again after an outage was reported (an 'error' with a RedisUnreachableError). */
export interface ReconnectedEvent { downMs: number }

export interface WorkerEvents {
  /** An attempt finished and its outcome is recorded in Redis. */
  task: [task: FinishedTaskEvent];
  /** LeaseLostError, FinishRefusedError, RedisUnreachableError (once per outage), or another error. Emitted only while someone listens. */
  error: [err: Error];
  reconnected: [info: ReconnectedEvent];
  /** Only when the sweep recovered or failed something. */
  swept: [info: SweptEvent];
  /** start() is done: claiming (the recurring scheduler starts on it). */
  started: [];
  stopped: [];
}

/** An EventEmitter whose on/once/off/emit only take the events of map E, with their arguments. */
export declare interface TypedEmitter<E extends Record<keyof E, unknown[]>> {
  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this;
  once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this;
  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this;
  addListener<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this;
  removeListener<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this;
  emit<K extends keyof E & string>(event: K, ...args: E[K]): boolean;
  listenerCount<K extends keyof E & string>(event: K): number;
}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class TypedEmitter<E extends Record<keyof E, unknown[]>> extends EventEmitter {}

/** An attempt that ended here, with its outcome and how long it ran. */
export interface Finished { t: Claimed; o: Outcome; ms: number }

export function finishedTaskEvent(t: Claimed, o: Outcome, ms: number): FinishedTaskEvent {
  const ev: FinishedTaskEvent = { id: Number(t.id), queue: t.queue, objectType: t.type, objectId: t.objectId || null,
    action: t.action, success: o.outcome === 'ok', durationMs: ms, attempt: t.attempt, willRetry: o.outcome === 'retry' };
  if (o.outcome === 'retry') ev.retryAt = new Date(o.retryAt);
  if (o.error) ev.error = o.error as StoredError;
  return ev;
}

/** finish.lua refused these outcomes: the attempts were no longer this worker's. */
export function finishRefused(worker: string, queue: string, ids: string[], items: Finished[]): FinishRefusedError {
  const byId = new Map(items.map((f) => [f.t.id, f.t]));
  const which = ids.map((id) => { const t = byId.get(id); return t ? `${id} ${taskLabel(t.type, t.objectId, t.action)}` : id; });
  return new FinishRefusedError(`worker ${worker}: finish refused for task(s) ${which.join(', ')} in queue ${queue}: `
    + 'their lease was taken over (the outcome was not recorded; another attempt owns the task)', queue, ids);
}
