// The argument enqueue.lua reads: every task of a call in one Buffer (real Redis), or one ARGV per
// field (ioredis-mock). The layout is in lib/lua/enqueue.lua's header.
import type { TaskSpec } from './options';

/**
 * ARGV for enqueue.lua after the common four: count, layout, then the tasks. On real Redis
 * ('blob') every task goes into one Buffer that the script reads with struct.unpack: one argument
 * per call instead of ~9 per task, which is what ioredis and Redis spend most on. ioredis-mock's
 * Lua has no struct (and sees Buffers as objects), so there each field is its own argument ('list').
 */
export function enqueueArgs(specs: TaskSpec[], ids: number[], list = false, lockBase?: string): (string | Buffer)[] {
  if (list) return listArgs(specs, ids);
  const argv: (string | Buffer)[] = [String(specs.length), 'blob', blobArgs(specs, ids)];
  if (lockBase !== undefined) lockPairs(specs, ids, lockBase, argv);
  return argv;
}

/**
 * After the blob, one Buffer of the lock key (`lockBase` + key) and id of each unique task, when the
 * batch holds two or more and no key twice, so that enqueue.lua takes every lock with one MSETNX (it
 * falls back to one SET NX per task when any is held). A batch with a key twice sends none: the
 * second must meet the first's lock. Layout: the pair count (2 bytes), then per pair the key (2-byte
 * length) and the id (1-byte length), little-endian: one argument, which ioredis and Redis pass far
 * more cheaply than two per task.
 */
function lockPairs(specs: TaskSpec[], ids: number[], lockBase: string, argv: (string | Buffer)[]): void {
  let keys: string[] | null = null;
  let of: number[] | null = null;
  for (let i = 0; i < specs.length; i++) {
    const x = specs[i].extra;
    for (let j = 0; j < x.length; j += 2) {
      if (x[j] === 'unique') { (keys ??= []).push(x[j + 1]); (of ??= []).push(ids[i]); break; }
    }
  }
  if (!keys || !of || keys.length < 2 || new Set(keys).size !== keys.length) return;
  let size = 2;
  for (const k of keys) size += 3 + 24 + 3 * (lockBase.length + k.length);
  const buf = Buffer.allocUnsafe(size);
  buf.writeUInt16LE(keys.length, 0);
  let pos = 2;
  for (let j = 0; j < keys.length; j++) {
    // The key after its 2-byte length: the base, then the key (put4's way for short ASCII).
    let n = putText(buf, pos + 2, lockBase);
    n += putText(buf, pos + 2 + n, keys[j]);
    buf.writeUInt16LE(n, pos);
    pos = put1(buf, pos + 2 + n, String(of[j]));
  }
  argv.push(buf.subarray(0, pos));
}

/** Writes `str` as utf8 at `pos`; returns the bytes written. Short ASCII (names, ids) goes byte by byte: cheaper than a call into Buffer.write. */
function putText(buf: Buffer, pos: number, str: string): number {
  const len = str.length;
  if (len <= 64) {
    let n = 0;
    for (; n < len; n++) {
      const c = str.charCodeAt(n);
      if (c >= 0x80) break;
      buf[pos + n] = c;
    }
    if (n === len) return len;
  }
  return buf.write(str, pos, 'utf8');
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
  const n = putText(buf, pos + 4, str);
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
  const n = str.length; // (ASCII names and decimal ids: one byte each, written without a call into Buffer)
  for (let j = 0; j < n; j++) buf[pos + 1 + j] = str.charCodeAt(j);
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
