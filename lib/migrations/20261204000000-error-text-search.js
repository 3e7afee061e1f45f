'use strict';
// What the dashboard's error-text search needs (lib/web/error-text.ts: every word at a word start,
// ignoring case) to stay quick on a big async_tasks:
//   MySQL/MariaDB  error_message compared ignoring case (utf8mb4_unicode_ci; the table's other text
//                  columns keep their binary collation). With the binary collation the FULLTEXT
//                  index of 20261203120000-dashboard-indexes.js keeps each word's case, so it could
//                  not narrow a search that ignores case. The ALTER rebuilds the table (about 20 s
//                  per million rows; the mirror catches up afterwards).
//   PostgreSQL     a trigram index (the pg_trgm extension, GIN) on error_message, which serves the
//                  search's case-insensitive regular expressions. Where the extension is neither
//                  installed nor installable by this user (it is a trusted extension: the database's
//                  CREATE privilege is enough), the index is left out and the search walks the rows.
// Other dialects: nothing. Both call forms work:
//   sequelize-cli: up(queryInterface, Sequelize)      umzug 3: up({ context: queryInterface })
// Safe to run again: only what is missing is done.

const first = require('./20250101000000-create-async-tasks.js');

const TABLE = 'async_tasks';
const TRIGRAM = { name: 'async_tasks_error_message_trgm', fields: ['error_message'] };
const COLLATION = 'utf8mb4_unicode_ci';
// Named after the table (`mirror: { table }` gives each prefix a table of its own).
const trigramName = (table) => table + TRIGRAM.name.slice(TABLE.length);

function queryInterfaceOf(a) {
  const queryInterface = a && a.context && typeof a.context.addIndex === 'function' ? a.context : a;
  if (!queryInterface || typeof queryInterface.addIndex !== 'function') {
    throw new TypeError('async_tasks error-text search migration: call up(queryInterface, Sequelize) or up({ context: queryInterface })');
  }
  return queryInterface;
}

const one = async (seq, sql, replacements) => (await seq.query(sql, { type: 'SELECT', replacements }))[0];

async function collate(queryInterface, table, collation) {
  const seq = queryInterface.sequelize;
  const col = await one(seq, `SELECT COLUMN_TYPE AS type, COLLATION_NAME AS collation FROM information_schema.COLUMNS
    WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = 'error_message'`, [table]);
  if (!col) throw new Error(`${table} has no error_message column: run the migration 20250101000000-create-async-tasks.js first`);
  if (col.collation === collation) return;
  const q = queryInterface.queryGenerator;
  await seq.query(`ALTER TABLE ${q.quoteTable(table)} MODIFY error_message ${col.type} CHARACTER SET utf8mb4 COLLATE ${collation} NULL`);
}

// Whether pg_trgm is there, or this user may create it (looked up first: a failed CREATE EXTENSION
// would abort a caller's transaction).
async function trigrams(seq) {
  if (await one(seq, "SELECT 1 AS x FROM pg_extension WHERE extname = 'pg_trgm'")) return true;
  const r = await one(seq, `SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS su,
    has_database_privilege(current_database(), 'CREATE') AS can,
    (SELECT bool_or(trusted) FROM pg_available_extension_versions WHERE name = 'pg_trgm') AS trusted`);
  if (!r || !(r.su || (r.can && r.trusted))) return false;
  await seq.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
  return true;
}

exports.TABLE = TABLE;
exports.TRIGRAM = TRIGRAM;
exports.COLLATION = COLLATION;
// Adds no columns (lib/mirror/migrations.ts builds the model's columns from every migration's).
exports.columns = function columns() { return {}; };

exports.up = async function up(a, b, opts) {
  const queryInterface = queryInterfaceOf(a);
  const seq = queryInterface.sequelize;
  const dialect = seq.getDialect();
  const TABLE = first.tableOf(opts);
  if (dialect === 'mysql' || dialect === 'mariadb') return collate(queryInterface, TABLE, COLLATION);
  if (dialect !== 'postgres') return;
  let indexes;
  try {
    indexes = await queryInterface.showIndex(TABLE);
  } catch (e) {
    throw new Error(`${TABLE} does not exist: run the migration 20250101000000-create-async-tasks.js first (${e.message})`);
  }
  const name = trigramName(TABLE);
  if (indexes.some((i) => i.name === name) || !(await trigrams(seq))) return;
  const q = queryInterface.queryGenerator;
  await seq.query(`CREATE INDEX ${q.quoteIdentifier(name)} ON ${q.quoteTable(TABLE)} USING gin (error_message gin_trgm_ops)`);
};

exports.down = async function down(a, b, opts) {
  const queryInterface = queryInterfaceOf(a);
  const dialect = queryInterface.sequelize.getDialect();
  const TABLE = first.tableOf(opts);
  if (dialect === 'mysql' || dialect === 'mariadb') return collate(queryInterface, TABLE, 'utf8mb4_bin');
  if (dialect !== 'postgres') return;
  await queryInterface.sequelize.query(`DROP INDEX IF EXISTS ${queryInterface.queryGenerator.quoteIdentifier(trigramName(TABLE))}`);
};
