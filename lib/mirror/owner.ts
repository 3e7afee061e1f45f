// Which prefix writes into a history table. Task ids are unique per prefix only, so two prefixes
// writing into one table would overwrite each other's rows by id. A small table of its own,
// `sequelize_async_tables` (table_name primary key, prefix, renewed_ms), holds one row per table:
// the prefix whose mirror loop writes there, renewed by that loop while it runs (a lease). A loop
// or migrate() of another prefix is refused, with an error naming both, while that lease is live.
// (A row per table rather than a column per row: one look-up per pass, nothing per write, and it
// holds for an empty table too.) A loop that stops gives its lease up; one that was killed holds
// it for LEASE_MS (meanwhile the other prefix's loop reports the error and retries).
import { QueryTypes, DataTypes } from 'sequelize';
import type { Sequelize } from 'sequelize';
import { databaseLabel } from './db-error';
import { TableTakenError } from '../errors';

export { TableTakenError };

export const OWNERS_TABLE = 'sequelize_async_tables';
/** A loop renews its lease every pass, at most every RENEW_MS; this long unrenewed, it lapses. */
export const LEASE_MS = 10000;
export const RENEW_MS = 2000;

const ready = new WeakSet<Sequelize>();
const q = (seq: Sequelize, n: string) => seq.getQueryInterface().quoteIdentifier(n);

async function ensureTable(seq: Sequelize): Promise<void> {
  if (ready.has(seq)) return;
  // createTable is CREATE TABLE IF NOT EXISTS on every dialect.
  await seq.getQueryInterface().createTable(OWNERS_TABLE, {
    table_name: { type: DataTypes.STRING(191), primaryKey: true, allowNull: false },
    prefix: { type: DataTypes.STRING(64), allowNull: false },
    renewed_ms: { type: DataTypes.BIGINT, allowNull: false },
  });
  ready.add(seq);
}

async function holder(seq: Sequelize, table: string): Promise<{ prefix: string; renewed: number } | undefined> {
  const [row] = await seq.query<{ prefix: string; renewed_ms: string | number }>(
    `SELECT ${q(seq, 'prefix')}, ${q(seq, 'renewed_ms')} FROM ${q(seq, OWNERS_TABLE)} WHERE ${q(seq, 'table_name')} = ?`,
    { replacements: [table], type: QueryTypes.SELECT });
  return row ? { prefix: row.prefix, renewed: Number(row.renewed_ms) } : undefined;
}

function taken(seq: Sequelize, table: string, owner: string, prefix: string): TableTakenError {
  return new TableTakenError(`${databaseLabel(seq)}: prefix '${owner}' is writing its task history into ${table}, so this queue's prefix `
    + `'${prefix}' must not: task ids are unique per prefix only, and two prefixes in one table overwrite each other's rows. `
    + `Give this queue a table of its own: setup({ mirror: { table: '${table}_${prefix.replace(/[^A-Za-z0-9_]/g, '_')}' } }).`,
  table, owner, prefix);
}

/** Throws TableTakenError when another prefix holds a live lease on `table` (migrate() checks this). */
export async function checkTable(seq: Sequelize, table: string, prefix: string, now = Date.now()): Promise<void> {
  await ensureTable(seq);
  const h = await holder(seq, table);
  if (h && h.prefix !== prefix && now - h.renewed < LEASE_MS) throw taken(seq, table, h.prefix, prefix);
}

/** Takes or renews `prefix`'s lease on `table`; throws TableTakenError when another prefix holds it. */
export async function claimTable(seq: Sequelize, table: string, prefix: string, now = Date.now()): Promise<void> {
  await ensureTable(seq);
  const h = await holder(seq, table);
  if (h && h.prefix !== prefix && now - h.renewed < LEASE_MS) throw taken(seq, table, h.prefix, prefix);
  if (!h) {
    try {
      await seq.query(`INSERT INTO ${q(seq, OWNERS_TABLE)} (${q(seq, 'table_name')}, ${q(seq, 'prefix')}, ${q(seq, 'renewed_ms')}) VALUES (?, ?, ?)`,
        { replacements: [table, prefix, now] });
      return;
    } catch (e) {
      // Another process inserted it at the same moment: whose it is now decides.
      const again = await holder(seq, table);
      if (!again) throw e;
      if (again.prefix !== prefix) throw taken(seq, table, again.prefix, prefix);
      return;
    }
  }
  // Ours, or a lapsed lease of another prefix (taken over only if it is still the one we read).
  await seq.query(`UPDATE ${q(seq, OWNERS_TABLE)} SET ${q(seq, 'prefix')} = ?, ${q(seq, 'renewed_ms')} = ? WHERE ${q(seq, 'table_name')} = ? AND ${q(seq, 'prefix')} = ?`,
    { replacements: [prefix, now, table, h.prefix] });
  if (h.prefix !== prefix) {
    const after = await holder(seq, table);
    if (after && after.prefix !== prefix) throw taken(seq, table, after.prefix, prefix);
  }
}

/** Gives `prefix`'s lease on `table` up (a loop that stops). */
export async function releaseTable(seq: Sequelize, table: string, prefix: string): Promise<void> {
  if (!ready.has(seq)) return;
  await seq.query(`DELETE FROM ${q(seq, OWNERS_TABLE)} WHERE ${q(seq, 'table_name')} = ? AND ${q(seq, 'prefix')} = ?`, { replacements: [table, prefix] });
}
