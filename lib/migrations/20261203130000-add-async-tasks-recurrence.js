'use strict';
// sequelize-async: which recurring schedule and which unique key a task belongs to.
//   recurrence  the name of the recurring schedule (queue.every) that queued the task, else NULL
//   unique_key  the key of a unique task (async(..., { unique })), else NULL
// Plain JavaScript so sequelize-cli can load it as it is. Both call forms work:
//   sequelize-cli: up(queryInterface, Sequelize)      umzug 3: up({ context: queryInterface })
// Safe to run again: only missing columns and indexes are added.

const first = require('./20250101000000-create-async-tasks.js');

const TABLE = 'async_tasks';
const INDEXES = [{ name: 'async_tasks_recurrence', fields: ['recurrence'] }];
// Named after the table (`mirror: { table }` gives each prefix a table of its own).
const indexesOf = (table) => INDEXES.map((ix) => ({ ...ix, name: table + ix.name.slice(TABLE.length) }));

function args(a, b) {
  const queryInterface = a && a.context && typeof a.context.addColumn === 'function' ? a.context : a;
  if (!queryInterface || typeof queryInterface.addColumn !== 'function') {
    throw new TypeError('async_tasks migration: call up(queryInterface, Sequelize) or up({ context: queryInterface })');
  }
  const S = (b && b.DataTypes) || b || queryInterface.sequelize.constructor;
  return { queryInterface, DataTypes: S.DataTypes || S };
}

function columns(DataTypes) {
  return {
    recurrence: { type: DataTypes.STRING(255), allowNull: true },
    unique_key: { type: DataTypes.STRING(255), allowNull: true },
  };
}

exports.TABLE = TABLE;
exports.INDEXES = INDEXES;
exports.columns = columns;

exports.up = async function up(a, b, opts) {
  const { queryInterface, DataTypes } = args(a, b);
  const TABLE = first.tableOf(opts);
  let have;
  try {
    have = await queryInterface.describeTable(TABLE);
  } catch (e) {
    throw new Error(`${TABLE} does not exist: run the migration 20250101000000-create-async-tasks.js first (${e.message})`);
  }
  const cols = columns(DataTypes);
  for (const name of Object.keys(cols)) if (!have[name]) await queryInterface.addColumn(TABLE, name, cols[name]);
  const indexes = new Set((await queryInterface.showIndex(TABLE)).map((i) => i.name));
  for (const ix of indexesOf(TABLE)) if (!indexes.has(ix.name)) await queryInterface.addIndex(TABLE, ix.fields, { name: ix.name });
};

exports.down = async function down(a, b, opts) {
  const { queryInterface } = args(a, b);
  const TABLE = first.tableOf(opts);
  for (const ix of indexesOf(TABLE)) await queryInterface.removeIndex(TABLE, ix.name).catch(() => undefined);
  for (const name of ['recurrence', 'unique_key']) await queryInterface.removeColumn(TABLE, name).catch(() => undefined);
};
