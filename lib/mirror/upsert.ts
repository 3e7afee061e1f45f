// Rows into `async_tasks`: multi-row upserts by id, escaped fast where that is safe.
import type { Sequelize, Transaction } from 'sequelize';
import { isMysql } from './host';
import { TABLE } from './migrations';
import { COLUMNS, Column, Row } from './rows';

const CHUNK_BYTES = 1 << 20;

// Sequelize's escape formats every date through moment: a large share of the mirror's CPU. On
// MySQL/MariaDB with Sequelize's default UTC timezone the values are escaped here instead
// (strings and blobs by mysql2's own escape); on PostgreSQL always (times carry their offset,
// so the session's timezone does not matter; strings and bytea as Sequelize writes them); any
// other dialect keeps Sequelize's.
const pad = (n: number, w = 2) => String(n).padStart(w, '0');
function utcDatetime(d: Date): string {
  return `'${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}'`;
}

// mysql2 is the app's own driver choice: an app on the 'mariadb' driver may not have it, and then
// keeps Sequelize's escaping.
let mysqlEscapeFn: ((v: unknown) => string) | null | undefined;
function mysqlEscape(): ((v: unknown) => string) | null {
  if (mysqlEscapeFn === undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    try { mysqlEscapeFn = (require('mysql2') as { escape: (v: unknown) => string }).escape; } catch { mysqlEscapeFn = null; }
  }
  return mysqlEscapeFn;
}

// As Sequelize's own PostgreSQL escape: '' for a quote, NUL (which text cannot hold) as \0, a
// standard string (standard_conforming_strings, on since 9.1, keeps backslashes literal).
function pgEscape(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'NULL';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'NULL' : `${utcDatetime(v).slice(0, -1)}+00:00'`;
  if (Buffer.isBuffer(v)) return `E'\\\\x${v.toString('hex')}'`;
  return `'${String(v).replace(/'/g, "''").replace(/\0/g, '\\0')}'`;
}

function escaper(seq: Sequelize): (v: unknown) => string {
  if (seq.getDialect() === 'postgres') return pgEscape;
  const tz = (seq as unknown as { options: { timezone?: string } }).options.timezone ?? '+00:00';
  const escape = mysqlEscape();
  if (!escape || !isMysql(seq) || (tz !== '+00:00' && tz !== 'Z' && tz !== 'UTC')) return (v) => seq.escape(v as string);
  return (v) => {
    if (v === null || v === undefined) return 'NULL';
    if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'NULL';
    if (typeof v === 'boolean') return v ? '1' : '0';
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'NULL' : utcDatetime(v);
    return escape(v);
  };
}

/** The upsert of rows by id; `columns` (id first) are the ones the table has. */
export function upsertSql(seq: Sequelize, rows: Row[], columns: readonly Column[] = COLUMNS, table = TABLE): string {
  const q = (n: string) => seq.getQueryInterface().quoteIdentifier(n);
  const cols = columns.map(q).join(',');
  const esc = escaper(seq);
  const values = rows.map((r) => `(${columns.map((c) => esc(r[c])).join(',')})`).join(',');
  const rest = columns.slice(1);
  if (isMysql(seq)) {
    return `INSERT INTO ${q(table)} (${cols}) VALUES ${values} ON DUPLICATE KEY UPDATE ${rest.map((c) => `${q(c)}=VALUES(${q(c)})`).join(',')}`;
  }
  return `INSERT INTO ${q(table)} (${cols}) VALUES ${values} ON CONFLICT (${q('id')}) DO UPDATE SET ${rest.map((c) => `${q(c)}=excluded.${q(c)}`).join(',')}`;
}

const len = (v: unknown) => (v === null || v === undefined ? 0 : (v as { length: number }).length);
const rowBytes = (r: Row) => 600 + 2 * (len(r.args) + len(r.result) + len(r.error_message) + len(r.backtrace))
  + 4 * (len(r.args_json) + len(r.result_json));

/** Upserts rows by id in statements of about CHUNK_BYTES. */
export async function writeRows(seq: Sequelize, rows: Row[], transaction?: Transaction, columns: readonly Column[] = COLUMNS, table = TABLE): Promise<void> {
  let chunk: Row[] = [];
  let bytes = 0;
  const flush = async () => {
    if (chunk.length) await seq.query(upsertSql(seq, chunk, columns, table), { transaction, raw: true });
    chunk = [];
    bytes = 0;
  };
  for (const r of rows) {
    chunk.push(r);
    bytes += rowBytes(r);
    if (bytes >= CHUNK_BYTES) await flush();
  }
  await flush();
}
