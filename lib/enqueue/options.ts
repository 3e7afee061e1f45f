// Enqueue options, checked up front: bad input is an error at enqueue naming what was wrong, and
// nothing is stored. buildSpec turns a call's options into the TaskSpec that enqueue.lua stores.
import type { EnqueueOptions } from '../../types';
import { encodeBackoff } from '../backoff';
import { encodeArgs } from '../codec';
import { checkQueueName } from '../keys';
import { uniqueFields } from '../unique';

export const MIN_PRIORITY = -2147483648;
export const MAX_PRIORITY = 2147483647;
export const ASYNC_PRIORITY = 10;
export const SCHEDULE_PRIORITY = 20;

const KNOWN = new Set(['args', 'priority', 'scheduledAt', 'queue', 'attempts', 'backoff', 'timeout', 'transaction', 'unique', 'uniqueUntil']);

/** A task ready for enqueue.lua, before it has an id. */
export interface TaskSpec {
  queue: string;
  type: string;
  objectId: string | null;
  action: string;
  args: Buffer | null;
  /** The caller's args, for the handle (so it needs no reload to show them). */
  argsValue: unknown[];
  priority: number;
  scheduledAt: number;
  /** Extra hash fields (max_attempts, backoff, timeout, unique, unique_until) as field/value pairs. */
  extra: string[];
}

export function checkPriority(p: unknown): number {
  if (typeof p !== 'number' || !Number.isInteger(p) || p < MIN_PRIORITY || p > MAX_PRIORITY) {
    throw new RangeError(`priority must be an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY} (got ${String(p)})`);
  }
  return p;
}

export function checkTime(t: unknown, what = 'scheduledAt'): number {
  const ms = t instanceof Date ? t.getTime() : t;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15) {
    throw new TypeError(`${what} must be a valid Date or a time in ms (got ${t instanceof Date ? 'Invalid Date' : String(t)})`);
  }
  return Math.floor(ms);
}

const NO_OPTIONS: EnqueueOptions = Object.freeze({});

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

/** Validates options and encodes args; throws TypeError/RangeError naming what was wrong. */
export function buildSpec(type: string, objectId: string | null, action: string, opts: EnqueueOptions | undefined,
  defaultPriority: number, defaults: Partial<EnqueueOptions> = {}): TaskSpec {
  if (opts !== undefined && (typeof opts !== 'object' || opts === null || Array.isArray(opts))) {
    throw new TypeError(`options must be an object like { args: [...], priority: 12 } (got ${Array.isArray(opts) ? 'an array' : String(opts)})`);
  }
  // Without per-method defaults a plain options object is read as it is (the copy is the same).
  const o: EnqueueOptions = !isEmpty(defaults) ? { ...defaults, ...opts } : opts === undefined ? NO_OPTIONS
    : Object.getPrototypeOf(opts) === Object.prototype ? opts : { ...opts };
  for (const k in o) {
    if (!KNOWN.has(k) && Object.prototype.hasOwnProperty.call(o, k)) throw new TypeError(`unknown option '${k}' (known: ${[...KNOWN].join(', ')})`);
  }
  const extra: string[] = [];
  if (o.attempts !== undefined) {
    if (!Number.isInteger(o.attempts) || o.attempts < 1) throw new RangeError(`attempts must be an integer >= 1 (got ${String(o.attempts)})`);
    if (o.attempts > 1) extra.push('max_attempts', String(o.attempts));
  }
  if (o.backoff !== undefined) {
    extra.push('backoff', encodeBackoff(o.backoff));
  }
  if (o.timeout !== undefined) {
    if (!Number.isInteger(o.timeout) || (o.timeout as number) < 1) throw new RangeError(`timeout must be a whole number of ms >= 1 (got ${String(o.timeout)})`);
    extra.push('timeout', String(o.timeout));
  }
  const args = encodeArgs(o.args);
  if (o.unique !== undefined || o.uniqueUntil !== undefined) extra.push(...uniqueFields(type, objectId, action, args, o.unique, o.uniqueUntil));
  return {
    queue: o.queue === undefined || o.queue === null ? 'default' : checkQueueName(o.queue),
    type,
    objectId,
    action,
    args,
    argsValue: o.args ?? [],
    priority: checkPriority(o.priority ?? defaultPriority),
    scheduledAt: o.scheduledAt === undefined ? Date.now() : checkTime(o.scheduledAt),
    extra,
  };
}
