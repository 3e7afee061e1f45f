// MySQL/MariaDB's FULLTEXT index on error_message (the dashboard's migration) and PostgreSQL's
// trigram index: whether a table has one, and the FULLTEXT condition with a time limit. InnoDB's
// FULLTEXT yields every row holding the words and reads each one (~0.1 ms a row once the table
// outgrows the buffer pool), so it pays only for rare words: lib/web/sql-search.ts asks it last,
// under FULLTEXT_MS, and walks on when it runs out.
import { QueryTypes, literal } from 'sequelize';
import type { FindOptions, Sequelize, WhereOptions } from 'sequelize';
import type { AsyncTaskModel } from '../mirror/model';
import { isMysql, words } from './error-text';

export const FULLTEXT_INDEX = 'async_tasks_error_message_ft';
export const TRIGRAM_INDEX = 'async_tasks_error_message_trgm';
/** The longest a FULLTEXT search may take before the walk goes on without it. */
export const FULLTEXT_MS = 50;

// InnoDB's default full-text stopwords, shortest and longest indexed word (innodb_ft_min_token_size
// = 3, innodb_ft_max_token_size = 84): such words are not in the index, so only the exact check
// looks for them.
const STOPWORDS = new Set(('a about an are as at be by com de en for from how i in is it la of on or that the this to was what when where who will with und www').split(' '));
const MIN_TOKEN = 3;
const MAX_TOKEN = 84;

interface TableFacts { indexes: Set<string>; caseless: boolean }
const known = new WeakMap<AsyncTaskModel, Promise<TableFacts>>();

/**
 * The table's index names (each under its `async_tasks` name), and on MySQL/MariaDB whether
 * error_message ignores case (20261204000000-error-text-search.js); looked up once per model.
 */
function facts(model: AsyncTaskModel): Promise<TableFacts> {
  let p = known.get(model);
  if (!p) {
    const seq = model.sequelize!;
    const table = String(model.getTableName());
    const names = (seq.getQueryInterface().showIndex(table) as Promise<{ name: string }[]>)
      .then((ix) => new Set(ix.map((i) => (i.name.startsWith(`${table}_`) ? `async_tasks_${i.name.slice(table.length + 1)}` : i.name))), () => new Set<string>());
    const caseless = !isMysql(seq.getDialect()) ? Promise.resolve(false)
      : seq.query(`SELECT COLLATION_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = 'error_message'`,
        { type: QueryTypes.SELECT, replacements: [table] }).then((r) => /_ci$/.test(String((r[0] as { c?: string })?.c)), () => false);
    p = Promise.all([names, caseless]).then(([indexes, ci]) => ({ indexes, caseless: ci }));
    known.set(model, p);
  }
  return p;
}

/** Whether the table has the FULLTEXT index (MySQL/MariaDB). */
export async function hasFulltext(model: AsyncTaskModel): Promise<boolean> {
  return isMysql(model.sequelize!.getDialect()) && (await facts(model)).indexes.has(FULLTEXT_INDEX);
}

/** Whether the table has the trigram index (PostgreSQL). */
export async function hasTrigram(model: AsyncTaskModel): Promise<boolean> {
  return model.sequelize!.getDialect() === 'postgres' && (await facts(model)).indexes.has(TRIGRAM_INDEX);
}

/** Words the full-text index holds: letters, digits and _ only, long enough, not stopwords. */
function indexable(w: string): boolean {
  return w.length >= MIN_TOKEN && w.length <= MAX_TOKEN && /^[\p{L}\p{N}_]+$/u.test(w) && !STOPWORDS.has(w.toLowerCase());
}

/**
 * The FULLTEXT condition that narrows the rows to those holding every indexable word at a word
 * start (`+word*`), or null when the table has no such index, or its error_message keeps case (a
 * table not migrated yet: the index then holds each word in its case), or no word is indexable.
 * Only with errorCondition beside it.
 */
export async function fulltextCondition(model: AsyncTaskModel, text: string): Promise<WhereOptions | null> {
  if (!(await hasFulltext(model)) || !(await facts(model)).caseless) return null;
  const terms = words(text).filter(indexable).map((w) => `+${w.toLowerCase()}*`);
  if (terms.length === 0) return null;
  return literal(`MATCH(error_message) AGAINST(${model.sequelize!.escape(terms.join(' '))} IN BOOLEAN MODE)`) as unknown as WhereOptions;
}

const servers = new WeakMap<Sequelize, Promise<boolean>>();
/** Whether the server is MariaDB (the `mysql` dialect talks to both; their time limits differ). */
function isMariadb(seq: Sequelize): Promise<boolean> {
  let p = servers.get(seq);
  if (!p) {
    p = seq.getDialect() === 'mariadb' ? Promise.resolve(true)
      : seq.query('SELECT VERSION() AS v', { type: QueryTypes.SELECT }).then((r) => /mariadb/i.test(String((r[0] as { v?: string })?.v)));
    servers.set(seq, p);
  }
  return p;
}

// ER_STATEMENT_TIMEOUT (MariaDB), ER_QUERY_TIMEOUT (MySQL).
const TIMEOUTS = new Set([1969, 3024]);

/** Runs a SELECT (raw rows) that the server stops after `ms`; null when it did. */
export async function limitedSelect<T>(model: AsyncTaskModel, options: FindOptions, ms = FULLTEXT_MS): Promise<T[] | null> {
  const seq = model.sequelize!;
  const qg = seq.getQueryInterface().queryGenerator as { selectQuery(table: string, o: FindOptions, m: unknown): string };
  const sql = qg.selectQuery(model.getTableName() as string, options, model);
  const limited = (await isMariadb(seq)) ? `SET STATEMENT max_statement_time=${ms / 1000} FOR ${sql}` : sql.replace(/^SELECT /, `SELECT /*+ MAX_EXECUTION_TIME(${ms}) */ `);
  try {
    return await seq.query(limited, { type: QueryTypes.SELECT }) as T[];
  } catch (e) {
    const errno = (e as { original?: { errno?: number } }).original?.errno;
    if (errno !== undefined && TIMEOUTS.has(errno)) return null;
    throw e;
  }
}
