// Which columns the mirror can write: those of async_tasks as it is now. A table that a newer
// migration has not reached yet is still written (without the newer columns), and the mirror
// says once that `migrate` would add them.
import type { Sequelize } from 'sequelize';
import { COLUMNS, Column, LATER_COLUMNS } from './rows';
import { databaseError, databaseLabel, MIGRATE_HINT } from './db-error';

export interface Writable {
  columns: readonly Column[];
  /** Columns of newer migrations the table lacks. */
  missing: readonly Column[];
}

export async function writableColumns(seq: Sequelize, TABLE: string): Promise<Writable> {
  let have: Set<string>;
  try {
    have = new Set(Object.keys(await seq.getQueryInterface().describeTable(TABLE)));
  } catch (err) {
    // describeTable says "No description found" for a missing table (a plain Error).
    if (/No description found/.test((err as Error).message)) {
      throw new Error(`${databaseLabel(seq)}: there is no ${TABLE} table: ${MIGRATE_HINT}`);
    }
    throw databaseError(seq, err);
  }
  const lacking = COLUMNS.filter((c) => !have.has(c));
  const essential = lacking.filter((c) => !LATER_COLUMNS.includes(c));
  if (essential.length) throw new Error(`${databaseLabel(seq)}: ${TABLE} has no column ${essential.join(', ')}: it is not sequelize-async's table, or ${MIGRATE_HINT}`);
  return { columns: COLUMNS.filter((c) => have.has(c)), missing: lacking };
}
