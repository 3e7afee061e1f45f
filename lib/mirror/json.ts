// Readable JSON renderings of stored values (args_json, result_json), so SQL can search them:
// `WHERE JSON_EXTRACT(args_json, '$[0]') = 42` (MySQL/MariaDB), `args_json->>0` (PostgreSQL).
// The msgpack columns stay the exact value; this is the same value decoded, in a JSON form that
// keeps what JSON has no type for (README "History in SQL" documents it):
//   BigInt      {"$bigint": "123"}            Buffer / binary  {"$binary": "<base64>"}
//   Date        {"$date": "<ISO 8601>"}        (an invalid Date: {"$date": null})
//   Map         {"$map": [[key, value], ...]}  Set  {"$set": [item, ...]}
//   Error       {"$error": {"name": ..., "message": ..., "stack": ..., own properties}}
//   undefined   {"$undefined": true}           NaN, Infinity, -Infinity  {"$number": "NaN"} ...
//   a plain object with one key starting with "$"   {"$object": {...}} (so it reads as itself)
//   a value that cannot be decoded                  {"$undecodable": "<why>"}
import { decode } from '../codec';

export interface JsonOptions {
  /** Replace NUL characters in strings by U+FFFD (PostgreSQL's jsonb refuses \u0000). */
  noNul?: boolean;
}

const text = (s: string, o: JsonOptions) => (o.noNul && s.includes('\0') ? s.replace(/\0/g, '\ufffd') : s);

/** A decoded value in the JSON form above (a JSON-able plain value). */
export function toJsonValue(v: unknown, o: JsonOptions = {}): unknown {
  switch (typeof v) {
    case 'string': return text(v, o);
    case 'number': return Number.isFinite(v) ? v : { $number: String(v) };
    case 'boolean': return v;
    case 'bigint': return { $bigint: v.toString() };
    case 'undefined': return { $undefined: true };
    case 'object': break;
    default: return { $undecodable: `a ${typeof v}` };
  }
  if (v === null) return null;
  if (Array.isArray(v)) return v.map((x) => toJsonValue(x, o));
  if (v instanceof Date) return { $date: Number.isNaN(v.getTime()) ? null : v.toISOString() };
  if (ArrayBuffer.isView(v)) return { $binary: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
  if (v instanceof Map) return { $map: [...v].map(([k, x]) => [toJsonValue(k, o), toJsonValue(x, o)]) };
  if (v instanceof Set) return { $set: [...v].map((x) => toJsonValue(x, o)) };
  if (v instanceof Error) {
    // name and stack are not enumerable on a restored error; message first, as people read it.
    const e = v as Error & Record<string, unknown>;
    const f = fields({ name: e.name, message: e.message, ...(e.stack !== undefined ? { stack: e.stack } : {}) }, e, o);
    return { $error: f };
  }
  const out = fields(Object.create(null) as Record<string, unknown>, v as Record<string, unknown>, o);
  const keys = Object.keys(out);
  return keys.length === 1 && keys[0].startsWith('$') ? { $object: out } : out;
}

function fields(into: Record<string, unknown>, from: Record<string, unknown>, o: JsonOptions): Record<string, unknown> {
  // A null-prototype object: a "__proto__" key stays a plain key.
  const out = Object.assign(Object.create(null) as Record<string, unknown>, into);
  for (const k of Object.keys(from)) {
    if (k === 'backtrace') continue; // derived from stack when an error is restored, not stored
    out[text(k, o)] = toJsonValue(from[k], o);
  }
  return out;
}

/**
 * Whether JSON.stringify(v) already is the form above: only strings, finite numbers, booleans,
 * null, arrays and plain objects, none of them one that toJsonValue would wrap. Most args are,
 * and checking is cheaper than copying them (the mirror renders every row it writes).
 */
function plainJson(v: unknown, o: JsonOptions, depth: number): boolean {
  switch (typeof v) {
    case 'string': return !o.noNul || !v.includes('\0');
    case 'number': return Number.isFinite(v);
    case 'boolean': return true;
    case 'object': break;
    default: return false;
  }
  if (v === null) return true;
  if (depth > 32) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!plainJson(v[i], o, depth + 1)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  const keys = Object.keys(v);
  if (keys.length === 1 && keys[0].startsWith('$')) return false;
  for (const k of keys) {
    if (k === '__proto__' || (o.noNul && k.includes('\0'))) return false;
    if (!plainJson((v as Record<string, unknown>)[k], o, depth + 1)) return false;
  }
  return true;
}

/** The JSON text for a stored msgpack value (null for none); never throws. */
export function jsonFromMsgpack(raw: Buffer | null, o: JsonOptions = {}): string | null {
  if (raw === null || raw.length === 0) return null;
  let v: unknown;
  try {
    v = decode(raw);
  } catch (e) {
    return JSON.stringify({ $undecodable: (e as Error).message });
  }
  try {
    return JSON.stringify(plainJson(v, o, 0) ? v : toJsonValue(v, o));
  } catch (e) {
    // Deeper than the stack allows: still a valid JSON value, saying so.
    return JSON.stringify({ $undecodable: (e as Error).message });
  }
}
