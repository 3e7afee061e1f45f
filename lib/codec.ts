// msgpack codec for args, results and errors. msgpackr writes Map as a plain msgpack map and
// cannot tell it from an object on the way back, so values are walked once before packing:
// the walk rejects what cannot round-trip (functions, symbols, cycles) with a TypeError naming
// the path, and boxes Maps, Sets and Errors into extension types of our own.
import { Packr, addExtension } from 'msgpackr';

const MAP_EXT = 0x10;
const SET_EXT = 0x11;
const ERROR_EXT = 0x12;

class MapBox { constructor(readonly entries: unknown[]) {} }
class SetBox { constructor(readonly items: unknown[]) {} }
class ErrorBox { constructor(readonly fields: Record<string, unknown>) {} }

addExtension({ Class: MapBox, type: MAP_EXT, write: (b: MapBox) => b.entries, read: (e: unknown[][]) => new Map(e as [unknown, unknown][]) });
addExtension({ Class: SetBox, type: SET_EXT, write: (b: SetBox) => b.items, read: (i: unknown[]) => new Set(i) });
addExtension({ Class: ErrorBox, type: ERROR_EXT, write: (b: ErrorBox) => b.fields, read: (f: Record<string, unknown>) => restoreError(f) });

const packr = new Packr({ useRecords: false, int64AsType: 'bigint', useBigIntExtension: true, mapsAsObjects: true });

/** Encodes a value for storage; TypeError (naming `what` and the path) when it cannot round-trip. */
export function encode(value: unknown, what = 'value'): Buffer {
  // Most args are plain data that box() would copy unchanged: pack those as they are.
  return packr.pack(plain(value, 0) ? value : box(value, what, new Set()));
}

/**
 * Whether box(v) would be an exact copy of v: only primitives, Dates, binary views, arrays and
 * plain objects without undefined values, Maps, Sets, Errors, functions or symbols. Deep values
 * (perhaps a cycle) and odd keys go the careful way, which also names any problem's path.
 */
function plain(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'function': case 'symbol': return false;
    case 'object': break;
    default: return true;
  }
  if (v === null) return true;
  if (depth > 16) return false;
  const proto = Object.getPrototypeOf(v);
  if (proto === Array.prototype) {
    const a = v as unknown[];
    for (let i = 0; i < a.length; i++) if (!plain(a[i], depth + 1)) return false;
    return true;
  }
  if (proto !== Object.prototype) return v instanceof Date || ArrayBuffer.isView(v);
  const o = v as Record<string, unknown>;
  for (const k in o) {
    if (!Object.prototype.hasOwnProperty.call(o, k)) return false;
    if (k === '__proto__' || k === 'hasOwnProperty') return false;
    const x = o[k];
    if (x === undefined || !plain(x, depth + 1)) return false;
  }
  return true;
}

export function decode(buf: Buffer | Uint8Array): unknown {
  return packr.unpack(buf);
}

/** Args as stored: null for none, so an empty call costs no bytes in Redis. */
export function encodeArgs(args: unknown): Buffer | null {
  if (args === undefined || args === null) return null;
  if (!Array.isArray(args)) throw new TypeError(`args must be an array (got ${typeof args})`);
  if (args.length === 0) return null;
  return encode(args, 'args');
}

function box(v: unknown, path: string, ancestors: Set<object>): unknown {
  switch (typeof v) {
    case 'function': throw new TypeError(`${path} is a function, which cannot be stored`);
    case 'symbol': throw new TypeError(`${path} is a symbol, which cannot be stored`);
    case 'object': break;
    default: return v;
  }
  if (v === null || v instanceof Date || Buffer.isBuffer(v) || ArrayBuffer.isView(v)) return v;
  if (ancestors.has(v)) throw new TypeError(`${path} is a circular reference, which cannot be stored`);
  ancestors.add(v);
  try {
    if (Array.isArray(v)) return v.map((x, i) => box(x, `${path}[${i}]`, ancestors));
    if (v instanceof Map) {
      let i = 0;
      return new MapBox([...v].map(([k, x]) => [box(k, `${path}.key(${i})`, ancestors), box(x, `${path}.get(${i++})`, ancestors)]));
    }
    if (v instanceof Set) return new SetBox([...v].map((x, i) => box(x, `${path}.item(${i})`, ancestors)));
    if (v instanceof Error) return new ErrorBox(errorFields(v, path, ancestors));
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      // Model instances and other classes that know their own plain form.
      return box((v as { toJSON(): unknown }).toJSON(), path, ancestors);
    }
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) {
      const x = (v as Record<string, unknown>)[k];
      if (x === undefined) continue;
      out[k] = box(x, `${path}.${k}`, ancestors);
    }
    return out;
  } finally {
    ancestors.delete(v);
  }
}

function errorFields(err: Error, path: string, ancestors: Set<object>): Record<string, unknown> {
  const fields: Record<string, unknown> = { name: err.name, message: err.message, stack: err.stack };
  for (const k of Object.keys(err)) {
    if (k in fields) continue;
    try {
      fields[k] = box((err as unknown as Record<string, unknown>)[k], `${path}.${k}`, ancestors);
    } catch {
      fields[k] = String((err as unknown as Record<string, unknown>)[k]);
    }
  }
  return fields;
}

/** An exception as stored: name, message, stack and own enumerable properties that can be stored. */
export function encodeError(err: unknown): Buffer {
  const e = err instanceof Error ? err : new Error(`non-Error thrown: ${safeString(err)}`);
  return packr.pack(new ErrorBox(errorFields(e, 'error', new Set())));
}

export function decodeError(buf: Buffer | Uint8Array): Error {
  const v = decode(buf);
  return v instanceof Error ? v : restoreError({ name: 'Error', message: safeString(v) });
}

function restoreError(f: Record<string, unknown>): Error {
  const e = new Error(String(f.message ?? '')) as Error & Record<string, unknown>;
  for (const [k, x] of Object.entries(f)) {
    if (k === 'message' || k === '__proto__' || k === 'constructor') continue;
    Object.defineProperty(e, k, { value: x, enumerable: k !== 'stack' && k !== 'name', writable: true, configurable: true });
  }
  if (typeof f.stack !== 'string') e.stack = `${e.name}: ${e.message}`;
  Object.defineProperty(e, 'backtrace', {
    value: backtrace(e.stack as string), enumerable: false, writable: true, configurable: true,
  });
  return e;
}

/** The stack's frame lines, like the seed's `result.backtrace`. */
export function backtrace(stack: string | undefined): string[] {
  if (!stack) return [];
  return stack.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('at '));
}

function safeString(v: unknown): string {
  try { return typeof v === 'string' ? v : JSON.stringify(v) ?? String(v); } catch { return String(v); }
}
