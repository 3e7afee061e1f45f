// queue.migrate(): runs every shipped migration of `async_tasks` in order (each leaves what is
// already there alone, so this is safe to run any number of times) and says what it did.
import type { Sequelize } from 'sequelize';
import type { MirrorHost } from './host';
import { mirrorSequelize } from './host';
import { MIGRATIONS } from './migrations';
import { checkTable } from './owner';
import { describingErrors } from './db-error';
import type { MigrateResult } from '../../types';

export type { MigrateResult };

interface Shape { exists: boolean; columns: Set<string>; indexes: Set<string> }

async function shape(seq: Sequelize, TABLE: string): Promise<Shape> {
  const qi = seq.getQueryInterface();
  const tables = (await qi.showAllTables()) as unknown[];
  const exists = tables.some((t) => (typeof t === 'string' ? t : (t as { tableName: string }).tableName) === TABLE);
  if (!exists) return { exists, columns: new Set(), indexes: new Set() };
  const columns = new Set(Object.keys(await qi.describeTable(TABLE)));
  const indexes = new Set(((await qi.showIndex(TABLE)) as { name: string }[]).map((i) => i.name));
  return { exists, columns, indexes };
}

export function summarize(r: Omit<MigrateResult, 'summary'>): string {
  if (r.created) return `created ${r.table}`;
  const parts: string[] = [];
  if (r.addedColumns.length) parts.push(`added column${r.addedColumns.length > 1 ? 's' : ''} ${r.addedColumns.join(', ')}`);
  if (r.addedIndexes.length) parts.push(`added index${r.addedIndexes.length > 1 ? 'es' : ''} ${r.addedIndexes.join(', ')}`);
  return parts.length ? `${r.table}: ${parts.join('; ')}` : `${r.table} is up to date`;
}

/** Creates the table (`async_tasks` unless setup named another), or adds what a newer version needs to it; returns what it did. */
export async function migrate(host: Pick<MirrorHost, 'sequelize' | 'table' | 'prefix'>): Promise<MigrateResult> {
  const seq = mirrorSequelize(host, 'migrate');
  const TABLE = host.table;
  return describingErrors(seq, async () => {
    await checkTable(seq, TABLE, host.prefix);
    const before = await shape(seq, TABLE);
    for (const m of MIGRATIONS) await m.up(seq.getQueryInterface(), seq.constructor, { table: TABLE });
    const after = await shape(seq, TABLE);
    const r = {
      table: TABLE,
      created: !before.exists,
      addedColumns: before.exists ? [...after.columns].filter((c) => !before.columns.has(c)) : [],
      addedIndexes: before.exists ? [...after.indexes].filter((i) => !before.indexes.has(i)) : [],
    };
    return { ...r, summary: summarize(r) };
  });
}
