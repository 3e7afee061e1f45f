'use strict';
// Indexes the dashboard's SQL searches and charts use on `async_tasks` (the table comes from
// 20250101000000-create-async-tasks.js): the task list filtered by queue and state, newest first;
// by type and action; by object id alone; the throughput chart over finished_at; and on MySQL and
// MariaDB a FULLTEXT index on error_message for the error-text search. Both call forms work:
//   sequelize-cli: up(queryInterface, Sequelize)      umzug 3: up({ context: queryInterface })
// Safe to run again: only missing indexes are added.

const TABLE = 'async_tasks';

const INDEXES = [
  { name: 'async_tasks_queue_state_id', fields: ['queue', 'state', 'id'] },
  { name: 'async_tasks_state_id', fields: ['state', 'id'] },
  { name: 'async_tasks_type_action_id', fields: ['object_type', 'action', 'id'] },
  { name: 'async_tasks_object_id_id', fields: ['object_id', 'id'] },
  { name: 'async_tasks_finished_at', fields: ['finished_at'] },
];
// MySQL and MariaDB only (lib/web/error-text.ts falls back to LIKE where it is missing).
const FULLTEXT = { name: 'async_tasks_error_message_ft', fields: ['error_message'], type: 'FULLTEXT' };

const first = require('./20250101000000-create-async-tasks.js');

// The indexes of a table (named after it: `mirror: { table }` gives each prefix a table of its own).
function indexesFor(queryInterface, table) {
  const dialect = queryInterface.sequelize.getDialect();
  const all = dialect === 'mysql' || dialect === 'mariadb' ? [...INDEXES, FULLTEXT] : INDEXES;
  return all.map((ix) => ({ ...ix, name: table + ix.name.slice(TABLE.length) }));
}

function queryInterfaceOf(a) {
  const queryInterface = a && a.context && typeof a.context.addIndex === 'function' ? a.context : a;
  if (!queryInterface || typeof queryInterface.addIndex !== 'function') {
    throw new TypeError('async_tasks dashboard indexes migration: call up(queryInterface, Sequelize) or up({ context: queryInterface })');
  }
  return queryInterface;
}

exports.TABLE = TABLE;
exports.INDEXES = INDEXES;
// Adds no columns (lib/mirror/migrations.ts builds the model's columns from every migration's).
exports.columns = function columns() { return {}; };
exports.FULLTEXT = FULLTEXT;

exports.up = async function up(a, b, opts) {
  const queryInterface = queryInterfaceOf(a);
  const TABLE = first.tableOf(opts);
  let indexes;
  try {
    indexes = await queryInterface.showIndex(TABLE);
  } catch (e) {
    throw new Error(`${TABLE} does not exist: run the migration 20250101000000-create-async-tasks.js first (${e.message})`);
  }
  const have = new Set(indexes.map((i) => i.name));
  for (const ix of indexesFor(queryInterface, TABLE)) {
    if (!have.has(ix.name)) await queryInterface.addIndex(TABLE, ix.fields, ix.type ? { name: ix.name, type: ix.type } : { name: ix.name });
  }
};

exports.down = async function down(a, b, opts) {
  const queryInterface = queryInterfaceOf(a);
  const TABLE = first.tableOf(opts);
  const have = new Set((await queryInterface.showIndex(TABLE)).map((i) => i.name));
  for (const ix of indexesFor(queryInterface, TABLE)) {
    if (have.has(ix.name)) await queryInterface.removeIndex(TABLE, ix.name);
  }
};
