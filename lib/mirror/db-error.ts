// Errors that come from the SQL database say so: which database, where, and what to do when
// the table is missing ("MySQL at 127.0.0.1:3307: connect ECONNREFUSED 127.0.0.1:3307").
import type { Sequelize } from 'sequelize';

const DIALECTS: Record<string, string> = { mysql: 'MySQL', mariadb: 'MariaDB', postgres: 'PostgreSQL', sqlite: 'SQLite', mssql: 'SQL Server', db2: 'Db2', snowflake: 'Snowflake' };
const DESCRIBED = Symbol.for('sequelize-async.databaseError');
export const MIGRATE_HINT = 'run `node scripts/async.js migrate` or queue.migrate()';

/** "MySQL at 127.0.0.1:3306" (the database a Sequelize instance talks to). */
export function databaseLabel(seq: Sequelize): string {
  const dialect = seq.getDialect();
  const name = DIALECTS[dialect] ?? dialect;
  const c = (seq as unknown as { config?: { host?: string; port?: number | string }; options?: { storage?: string } });
  if (dialect === 'sqlite') return `${name} at ${c.options?.storage || ':memory:'}`;
  const host = c.config?.host || 'localhost';
  return c.config?.port ? `${name} at ${host}:${c.config.port}` : `${name} at ${host}`;
}

interface SqlFailure extends Error { original?: { code?: string; errno?: number }; parent?: { code?: string; errno?: number } }

function hint(err: SqlFailure): string {
  const o = err.original ?? err.parent ?? (err as { code?: string; errno?: number });
  const code = String(o.code ?? '');
  // MySQL/MariaDB: 1146 no such table, 1054 unknown column; PostgreSQL: 42P01, 42703; SQLite says it in the message.
  if (code === 'ER_NO_SUCH_TABLE' || o.errno === 1146 || code === '42P01' || /no such table: /.test(err.message)) {
    return ` (the async_tasks table is missing: ${MIGRATE_HINT})`;
  }
  if (code === 'ER_BAD_FIELD_ERROR' || o.errno === 1054 || code === '42703' || /has no column named/.test(err.message)) {
    return ` (async_tasks lacks columns of a newer sequelize-async migration: ${MIGRATE_HINT})`;
  }
  return '';
}

/**
 * The same error, its message led by the database and its address (and a hint for a missing
 * table or column). Sequelize's errors stay what they are (instanceof, code, original); only
 * errors Sequelize raised are changed, each once.
 */
export function databaseError(seq: Sequelize, err: unknown): Error {
  const e = err instanceof Error ? err as SqlFailure : new Error(String(err));
  if (!/^Sequelize/.test(e.name) || (e as unknown as Record<symbol, unknown>)[DESCRIBED]) return e;
  const old = e.message;
  e.message = `${databaseLabel(seq)}: ${old}${hint(e)}`;
  if (typeof e.stack === 'string' && e.stack.includes(old)) e.stack = e.stack.replace(old, e.message);
  Object.defineProperty(e, DESCRIBED, { value: true });
  return e;
}

/** Runs fn; a database error it throws is described as above. */
export async function describingErrors<T>(seq: Sequelize, fn: () => Promise<T>): Promise<T> {
  try { return await fn(); } catch (err) { throw databaseError(seq, err); }
}
