// A task hash as an `async_tasks` row: always the task's full current state, so writing it again
// is harmless and a late write never regresses a row.
import { fieldsFromHash } from '../task';
import { str, RawHash, HashValue } from '../util/values';
import { jsonFromMsgpack, JsonOptions } from './json';

export const COLUMNS = ['id', 'queue', 'object_type', 'object_id', 'action', 'args', 'result', 'error_name', 'error_message',
  'backtrace', 'priority', 'state', 'success', 'cancelled', 'attempts', 'worker', 'scheduled_at', 'started_at',
  'finished_at', 'created_at', 'args_json', 'result_json', 'first_scheduled_at', 'recurrence', 'unique_key'] as const;
export type Column = (typeof COLUMNS)[number];
export type Row = Record<Column, unknown>;
/** The columns a later migration added: a table not migrated yet is written without them. */
export const LATER_COLUMNS: readonly Column[] = ['args_json', 'result_json', 'first_scheduled_at', 'recurrence', 'unique_key'];

/** The task hash fields a row is made of. */
export const ROW_FIELDS = ['type', 'object_id', 'action', 'args', 'result', 'error', 'priority', 'state', 'success',
  'cancelled', 'attempts', 'worker', 'scheduled_at', 'started_at', 'finished_at', 'created_at', 'first_scheduled_at', 'recurrence', 'unique'];

// A value larger than this is not copied (MySQL's max_allowed_packet would refuse the row and
// stall the mirror); the row says so in error_message.
export const MAX_BLOB = 4 << 20;
const MAX_TEXT = 1 << 20;
// DATETIME's range.
const MIN_MS = -30610224000000;
const MAX_MS = 253402300799999;

const cut = (s: string | undefined | null, n: number) => (s === undefined || s === null ? null : s.length > n ? s.slice(0, n) : s);
function int(v: HashValue | undefined, dflt = 0): number {
  const n = Number(str(v));
  return Number.isFinite(n) ? Math.max(-2147483648, Math.min(2147483647, Math.trunc(n))) : dflt;
}
/** A stored time as a Date within DATETIME's range; null when absent or not a number. */
function sqlDate(v: HashValue | undefined): Date | null {
  const s = str(v);
  if (s === undefined || s === '') return null;
  const n = Number(s);
  return Number.isFinite(n) ? new Date(Math.max(MIN_MS, Math.min(MAX_MS, Math.trunc(n)))) : null;
}

export interface RowOptions extends JsonOptions {
  /** Render args_json and result_json (false: the table has no such columns yet). */
  json?: boolean;
}

/** The row for a task hash: always the full current state. */
export function rowFromHash(queue: string, id: number, h: RawHash, o: RowOptions = {}): Row {
  const success = str(h.success) === '1' ? true : str(h.success) === '0' ? false : null;
  const notes: string[] = [];
  const blob = (what: string, v: HashValue | undefined) => {
    if (v === undefined || v.length === 0) return null;
    if (v.length > MAX_BLOB) { notes.push(`${what} (${v.length} bytes) too large to mirror`); return null; }
    return Buffer.isBuffer(v) ? v : Buffer.from(v, 'binary');
  };
  const args = blob('args', h.args);
  const result = success === true ? blob('result', h.result) : success === false ? blob('error', h.error) : null;
  const json = (what: string, v: Buffer | null) => {
    if (o.json === false) return null;
    const t = jsonFromMsgpack(v, o);
    if (t !== null && t.length > MAX_BLOB) { notes.push(`${what} (${t.length} characters) too large to mirror`); return null; }
    return t;
  };
  const argsJson = json('args_json', args);
  const scheduledAt = sqlDate(h.scheduled_at);
  const resultJson = json('result_json', result);
  // The last failure, decoded by the handle's own code (never throws).
  const err = h.error !== undefined ? fieldsFromHash(queue, { error: h.error }).errors[0] : undefined;
  return {
    id,
    queue,
    object_type: cut(str(h.type) ?? '', 255),
    object_id: cut(str(h.object_id), 255),
    action: cut(str(h.action) ?? '', 255),
    args,
    result,
    error_name: err ? cut(err.name, 255) : null,
    error_message: err || notes.length ? cut([err?.message, ...notes].filter((x) => x !== undefined).join('; '), MAX_TEXT) : null,
    backtrace: err ? cut(err.backtrace.join('\n'), MAX_TEXT) : null,
    priority: int(h.priority),
    state: cut(str(h.state) ?? 'queued', 16),
    success,
    cancelled: str(h.cancelled) === '1',
    attempts: int(h.attempts),
    worker: cut(str(h.worker), 255),
    scheduled_at: scheduledAt,
    started_at: sqlDate(h.started_at),
    finished_at: sqlDate(h.finished_at),
    created_at: sqlDate(h.created_at),
    args_json: argsJson,
    result_json: resultJson,
    // A retry overwrites scheduled_at; the first time it was due stays in first_scheduled_at.
    first_scheduled_at: h.first_scheduled_at === undefined ? scheduledAt : sqlDate(h.first_scheduled_at) ?? scheduledAt,
    recurrence: cut(str(h.recurrence), 255),
    unique_key: cut(str(h.unique), 255),
  };
}
