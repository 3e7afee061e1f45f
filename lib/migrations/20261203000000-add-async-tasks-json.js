'use strict';
// sequelize-async: readable history in `async_tasks` (added to the table the first migration created).
//   args_json, result_json  the args and the result (or the stored error) as JSON, written by the
//                           mirror beside the exact msgpack columns, so SQL can search them:
//                           JSON_EXTRACT(args_json, '$[0]') = 42 (MySQL/MariaDB), args_json->>0 (PostgreSQL).
//                           JSON on MySQL and MariaDB (there LONGTEXT checked by JSON_VALID), JSONB on PostgreSQL.
//   first_scheduled_at      when the task was first due; scheduled_at is the latest (a retry's) time.
// Plain JavaScript so sequelize-cli can load it as it is. Both call forms work:
//   sequelize-cli: up(queryInterface, Sequelize)      umzug 3: up({ context: queryInterface })
// Safe to run again: only missing columns are added. Rows written before it get first_scheduled_at
// = scheduled_at, and their JSON columns when the mirror next writes the task.

const first = require('./20250101000000-create-async-tasks.js');

const TABLE = 'async_tasks';

function args(a, b) {
  const queryInterface = a && a.context && typeof a.context.addColumn === 'function' ? a.context : a;
  if (!queryInterface || typeof queryInterface.addColumn !== 'function') {
    throw new TypeError('async_tasks migration: call up(queryInterface, Sequelize) or up({ context: queryInterface })');
  }
  const S = (b && b.DataTypes) || b || queryInterface.sequelize.constructor;
  return { queryInterface, DataTypes: S.DataTypes || S };
}

function jsonType(DataTypes, dialect) {
  if (dialect === 'postgres') return DataTypes.JSONB;
  if (dialect === 'mysql' || dialect === 'mariadb' || dialect === 'sqlite') return DataTypes.JSON;
  return DataTypes.TEXT('long');
}

function columns(DataTypes, dialect) {
  const json = jsonType(DataTypes, dialect);
  return {
    args_json: { type: json, allowNull: true },
    result_json: { type: json, allowNull: true },
    first_scheduled_at: { type: first.columns(DataTypes, dialect).scheduled_at.type, allowNull: true },
  };
}

exports.TABLE = TABLE;
exports.columns = columns;

exports.up = async function up(a, b, opts) {
  const { queryInterface, DataTypes } = args(a, b);
  const TABLE = first.tableOf(opts);
  const dialect = queryInterface.sequelize.getDialect();
  let have;
  try {
    have = await queryInterface.describeTable(TABLE);
  } catch (e) {
    throw new Error(`${TABLE} does not exist: run the migration 20250101000000-create-async-tasks.js first (${e.message})`);
  }
  const cols = columns(DataTypes, dialect);
  for (const name of Object.keys(cols)) {
    if (have[name]) continue;
    await queryInterface.addColumn(TABLE, name, cols[name]);
    if (name === 'first_scheduled_at') {
      const q = (n) => queryInterface.quoteIdentifier(n);
      await queryInterface.sequelize.query(`UPDATE ${q(TABLE)} SET ${q('first_scheduled_at')} = ${q('scheduled_at')} WHERE ${q('first_scheduled_at')} IS NULL`);
    }
  }
};

exports.down = async function down(a, b, opts) {
  const { queryInterface } = args(a, b);
  const TABLE = first.tableOf(opts);
  const have = await queryInterface.describeTable(TABLE);
  for (const name of ['args_json', 'result_json', 'first_scheduled_at']) {
    if (have[name]) await queryInterface.removeColumn(TABLE, name);
  }
};
