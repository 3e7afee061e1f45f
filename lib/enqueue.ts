// Turns `order.async('sendMail', opts)` into a stored task: validates everything up front
// (bad input is an error at enqueue, and nothing is stored), then one enqueue.lua call.
import type { EnqueueOptions, BackoffOptions } from '../types';
import { encodeArgs } from './codec';
import { checkQueueName } from './keys';

export const MIN_PRIORITY = -2147483648;
export const MAX_PRIORITY = 2147483647;
export const ASYNC_PRIORITY = 10;
export const SCHEDULE_PRIORITY = 20;

const KNOWN = new Set(['args', 'priority', 'scheduledAt', 'queue', 'attempts', 'backoff', 'timeout', 'transaction']);

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
  /** Extra hash fields (max_attempts, backoff, timeout) as field/value pairs. */
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

function checkBackoff(b: unknown): BackoffOptions {
  const o = b as BackoffOptions;
  if (typeof o !== 'object' || o === null || (o.type !== 'fixed' && o.type !== 'exponential')) {
    throw new TypeError(`backoff must be { type: 'fixed' | 'exponential', delay, jitter? } (got ${JSON.stringify(b)})`);
  }
  if (typeof o.delay !== 'number' || !(o.delay >= 0) || !Number.isFinite(o.delay)) throw new RangeError(`backoff.delay must be a number of ms >= 0 (got ${String(o.delay)})`);
  if (o.jitter !== undefined && (typeof o.jitter !== 'number' || !(o.jitter >= 0 && o.jitter <= 1))) throw new RangeError(`backoff.jitter must be from 0 to 1 (got ${String(o.jitter)})`);
  return o;
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
    const b = checkBackoff(o.backoff);
    extra.push('backoff', `${b.type}:${b.delay}:${b.jitter ?? 0}`);
  }
  if (o.timeout !== undefined) {
    if (!Number.isInteger(o.timeout) || (o.timeout as number) < 1) throw new RangeError(`timeout must be a whole number of ms >= 1 (got ${String(o.timeout)})`);
    extra.push('timeout', String(o.timeout));
  }
  return {
    queue: o.queue === undefined || o.queue === null ? 'default' : checkQueueName(o.queue),
    type,
    objectId,
    action,
    args: encodeArgs(o.args),
    argsValue: o.args ?? [],
    priority: checkPriority(o.priority ?? defaultPriority),
    scheduledAt: o.scheduledAt === undefined ? Date.now() : checkTime(o.scheduledAt),
    extra,
  };
}

/**
 * ARGV for enqueue.lua after the common four: count, layout, then the tasks. On real Redis
 * ('blob') every task goes into one Buffer that the script reads with struct.unpack: one argument
 * per call instead of ~9 per task, which is what ioredis and Redis spend most on. ioredis-mock's
 * Lua has no struct (and sees Buffers as objects), so there each field is its own argument ('list').
 */
export function enqueueArgs(specs: TaskSpec[], ids: number[], list = false): (string | Buffer)[] {
  return list ? listArgs(specs, ids) : [String(specs.length), 'blob', blobArgs(specs, ids)];
}

function listArgs(specs: TaskSpec[], ids: number[]): (string | Buffer)[] {
  const argv: (string | Buffer)[] = [String(specs.length), 'list'];
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i];
    argv.push(String(ids[i]), s.type, s.objectId ?? '', s.action, s.args ?? '', String(s.priority),
      String(s.scheduledAt), String(s.extra.length / 2));
    for (const x of s.extra) argv.push(x);
  }
  return argv;
}

/** Writes `str` (utf8) after a 4-byte little-endian length; returns the next position. */
function put4(buf: Buffer, pos: number, str: string): number {
  const len = str.length;
  let n = 0;
  if (len <= 64) {
    // Short ASCII (names, ids) byte by byte: cheaper than a call into Buffer.write.
    for (; n < len; n++) {
      const c = str.charCodeAt(n);
      if (c >= 0x80) break;
      buf[pos + 4 + n] = c;
    }
  }
  if (n < len) n = buf.write(str, pos + 4, 'utf8');
  buf.writeUInt32LE(n, pos);
  return pos + 4 + n;
}

/** Writes an integer in decimal after a 1-byte length (as String(n) would, for |n| < 2^53). */
function putInt(buf: Buffer, pos: number, n: number): number {
  let p = pos + 1;
  if (n < 0) { buf[p++] = 45; n = -n; }
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  for (let i = digits - 1; i >= 0; i--) {
    buf[p + i] = 48 + (n % 10);
    n = Math.floor(n / 10);
  }
  p += digits;
  buf[pos] = p - pos - 1;
  return p;
}

/** Writes a short ASCII string (option names) after a 1-byte length. */
function put1(buf: Buffer, pos: number, str: string): number {
  const n = buf.write(str, pos + 1, 'latin1');
  buf[pos] = n;
  return pos + 1 + n;
}

// Layout per task (see lib/lua/enqueue.lua): id (B), type, object_id, action, args (I4 each),
// priority, scheduled_at (B), n (B), then n pairs of name (B) and value (I4).
function blobArgs(specs: TaskSpec[], ids: number[]): Buffer {
  let size = 0;
  for (const s of specs) {
    // utf8 takes at most 3 bytes per UTF-16 unit; numbers at most 24 characters.
    size += 96 + 3 * (s.type.length + (s.objectId?.length ?? 0) + s.action.length) + (s.args?.length ?? 0);
    for (let j = 0; j < s.extra.length; j += 2) size += 5 + s.extra[j].length + 3 * s.extra[j + 1].length;
  }
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i];
    pos = putInt(buf, pos, ids[i]);
    pos = put4(buf, pos, s.type);
    pos = put4(buf, pos, s.objectId ?? '');
    pos = put4(buf, pos, s.action);
    const a = s.args;
    if (a) {
      buf.writeUInt32LE(a.length, pos);
      buf.set(a, pos + 4);
      pos += 4 + a.length;
    } else {
      buf.writeUInt32LE(0, pos);
      pos += 4;
    }
    pos = putInt(buf, pos, s.priority);
    pos = putInt(buf, pos, s.scheduledAt);
    const x = s.extra;
    buf[pos++] = x.length / 2;
    for (let j = 0; j < x.length; j += 2) {
      pos = put1(buf, pos, x[j]);
      pos = put4(buf, pos, x[j + 1]);
    }
  }
  return buf.subarray(0, pos);
}

/** Delay before attempt `failures + 1`, from a stored "type:delay:jitter". */
export function backoffDelay(backoff: string, failures: number): number {
  const [type, d, j] = backoff.split(':');
  const delay = Number(d) || 0;
  const base = type === 'exponential' ? delay * 2 ** Math.max(0, failures - 1) : delay;
  const jitter = Number(j) || 0;
  return Math.max(0, Math.round(base * (1 + jitter * (Math.random() * 2 - 1))));
}
