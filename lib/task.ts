// A task handle: what `order.async(...)` returns and `queue.task(id)` finds. It reads the task
// hash; every field is a plain string except args, result and errors (msgpack).
import type { Task as TaskApi, TaskState, StoredError, WaitOptions } from '../types';
import { decode, decodeError } from './codec';
import { TimeoutError } from './errors';
import { str, date, buf, RawHash } from './util/values';
import { isFinal } from './states';

export type { RawHash } from './util/values';

/** What a handle needs from its queue (kept narrow so task.ts does not import queue.ts). */
export interface TaskSource {
  readHash(queue: string, id: number): Promise<RawHash | null>;
  /** Where a task is no longer in Redis (expired after it finished): the mirror row, if any. */
  readHistory?(id: number): Promise<Partial<TaskFields> | null>;
  cancel(queue: string, id: number): Promise<TaskState | ''>;
}

export interface TaskFields {
  queue: string; objectType: string; objectId: string | null; action: string; args: unknown[];
  priority: number; scheduledAt: Date; state: TaskState; success: boolean | null; result: unknown;
  errors: StoredError[]; attempts: number; cancelled: boolean; worker: string | null;
  createdAt: Date | null; startedAt: Date | null; finishedAt: Date | null;
  /** The recurring schedule whose tick stored the task (null: none). */
  recurrence: string | null;
  /** Its unique key (null: not a unique task). */
  unique: string | null;
}

const NO_FIELDS: Partial<TaskFields> = Object.freeze({});

/** Decodes a task hash into handle fields; undecodable fields become Errors, never throws. */
export function fieldsFromHash(queue: string, h: RawHash): TaskFields {
  const state = (str(h.state) ?? 'queued') as TaskState;
  const success = h.success === undefined ? null : str(h.success) === '1';
  const errors = Object.keys(h)
    .filter((k) => /^error:\d+$/.test(k))
    .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))
    .map((k) => safeError(h[k]));
  if (errors.length === 0 && h.error !== undefined) errors.push(safeError(h.error));
  let result: unknown;
  if (success === true && h.result !== undefined) result = safeDecode(h.result);
  else if (success === false && h.error !== undefined) result = safeError(h.error);
  let args: unknown[] = [];
  if (h.args !== undefined) {
    const a = safeDecode(h.args);
    args = Array.isArray(a) ? a : [a];
  }
  return {
    queue,
    objectType: str(h.type) ?? '',
    objectId: str(h.object_id) ?? null,
    action: str(h.action) ?? '',
    args,
    priority: Number(str(h.priority) ?? 0),
    scheduledAt: date(h.scheduled_at) ?? new Date(NaN),
    state,
    success,
    result,
    errors,
    attempts: Number(str(h.attempts) ?? 0),
    cancelled: str(h.cancelled) === '1',
    worker: str(h.worker) ?? null,
    createdAt: date(h.created_at),
    startedAt: date(h.started_at),
    finishedAt: date(h.finished_at),
    recurrence: str(h.recurrence) ?? null,
    unique: str(h.unique) ?? null,
  };
}

function safeDecode(v: Buffer | string): unknown {
  try { return decode(buf(v)); } catch (e) { return new Error(`undecodable stored value: ${(e as Error).message}`); }
}

function safeError(v: Buffer | string): StoredError {
  try { return decodeError(buf(v)) as StoredError; } catch (e) {
    const err = new Error(`undecodable stored error: ${(e as Error).message}`) as StoredError;
    err.backtrace = [];
    return err;
  }
}

export class Task implements TaskApi {
  queue!: string; objectType!: string; objectId!: string | null; action!: string; args!: unknown[];
  priority!: number; scheduledAt!: Date; state!: TaskState; success!: boolean | null; result: unknown;
  errors!: StoredError[]; attempts!: number; cancelled!: boolean; worker!: string | null;
  createdAt!: Date | null; startedAt!: Date | null; finishedAt!: Date | null;
  /** The recurring schedule whose tick stored the task (null: none). */
  recurrence: string | null = null;
  unique: string | null = null;
  /** true: an enqueue returned this task instead of storing a duplicate of it (unique). */
  duplicate = false;

  // A private field (not an own property): invisible to Object.keys, JSON and inspect, and cheap
  // to set, unlike a property made non-enumerable per handle (bulk builds 1,000 handles a call).
  readonly #source: TaskSource;

  constructor(source: TaskSource, readonly id: number, fields: Partial<TaskFields>) {
    this.#source = source;
    this.assign(fields);
  }

  /** @internal A handle for a task just stored (the enqueue path: set field by field, no fields object). */
  static stored(source: TaskSource, id: number, queue: string, objectType: string, objectId: string | null, action: string,
    args: unknown[], priority: number, scheduledAt: Date, createdAt: Date, state: TaskState): Task {
    const t = new Task(source, id, NO_FIELDS);
    t.queue = queue;
    t.objectType = objectType;
    t.objectId = objectId;
    t.action = action;
    t.args = args;
    t.priority = priority;
    t.scheduledAt = scheduledAt;
    t.createdAt = createdAt;
    t.state = state;
    return t;
  }

  /** @internal Sets the fields given; the ones not given fall back to their empty values. */
  assign(fields: Partial<TaskFields>): void {
    this.errors = [];
    this.args = [];
    this.success = null;
    this.cancelled = false;
    this.worker = null;
    this.createdAt = null;
    this.startedAt = null;
    this.finishedAt = null;
    this.attempts = 0;
    this.recurrence = null;
    this.unique = null;
    Object.assign(this, fields);
  }

  async reload(): Promise<this> {
    if (this.state === 'pending') return this;
    const h = await this.#source.readHash(this.queue, this.id);
    if (h) this.assign(fieldsFromHash(this.queue, h));
    else {
      const row = this.#source.readHistory ? await this.#source.readHistory(this.id) : null;
      if (row) this.assign(row);
      else throw new Error(`task ${this.id} is no longer stored (it finished and expired, and no history is kept)`);
    }
    return this;
  }

  async wait(opts: WaitOptions = {}): Promise<this> {
    const timeout = opts.timeout ?? Infinity;
    const until = Date.now() + timeout;
    let pause = 2;
    for (;;) {
      if (this.state !== 'pending') await this.reload();
      if (isFinal(this.state)) return this;
      if (Date.now() >= until) throw new TimeoutError(`task ${this.id} still ${this.state} after ${timeout} ms`);
      await new Promise((r) => setTimeout(r, Math.min(pause, Math.max(1, until - Date.now()))));
      pause = Math.min(pause * 2, 100);
    }
  }

  async cancel(): Promise<TaskState> {
    const s = await this.#source.cancel(this.queue, this.id);
    if (s === '') throw new Error(`task ${this.id} is no longer stored`);
    if ((s as string) === 'corrupt') throw new Error(`task ${this.id} cannot be cancelled: its Redis key is not a task hash`);
    await this.reload().catch(() => undefined);
    return s;
  }

  toJSON() {
    const { id, queue, objectType, objectId, action, args, priority, scheduledAt, state, success, attempts, cancelled, worker, createdAt, startedAt, finishedAt } = this;
    const result = this.result instanceof Error ? { name: this.result.name, message: this.result.message } : this.result;
    return { id, queue, objectType, objectId, action, args, priority, scheduledAt, state, success, result, attempts, cancelled, worker, createdAt, startedAt, finishedAt };
  }
}
