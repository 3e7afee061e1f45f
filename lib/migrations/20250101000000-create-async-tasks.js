'use strict';
// The `async_tasks` table: the MySQL history of every task (sequelize-async's mirror).
// Plain JavaScript so sequelize-cli can load it as it is. Both call forms work:
//   sequelize-cli: up(queryInterface, Sequelize)      umzug 3: up({ context: queryInterface })
// Safe to run again: an existing table is left alone and only missing indexes are added, so
// `queue.migrate()` and a migration tool can both have run it.
// Keep the columns in step with lib/model.ts (spec/mirror.spec.ts compares them).
// Another table (setup({ mirror: { table } })): queue.migrate() passes it as up(qi, S, { table });
// a migration tool gets it from $ASYNC_TASKS_TABLE. Its indexes are named after it.

const TABLE = 'async_tasks';

const INDEXES = indexes(TABLE);

function indexes(table) {
  return [
    { name: `${table}_object`, fields: ['object_type', 'object_id'] },
    { name: `${table}_state`, fields: ['state'] },
    { name: `${table}_scheduled_at`, fields: ['scheduled_at'] },
  ];
}

function tableOf(opts) {
  return (opts && typeof opts.table === 'string' && opts.table) || process.env.ASYNC_TASKS_TABLE || TABLE;
}

function args(a, b) {
  const queryInterface = a && a.context && typeof a.context.createTable === 'function' ? a.context : a;
  if (!queryInterface || typeof queryInterface.createTable !== 'function') {
    throw new TypeError('async_tasks migration: call up(queryInterface, Sequelize) or up({ context: queryInterface })');
  }
  const S = (b && b.DataTypes) || b || queryInterface.sequelize.constructor;
  return { queryInterface, DataTypes: S.DataTypes || S };
}

// Column types per dialect, so no dialect warns: MySQL/MariaDB keep exactly the types this
// migration has always created there (BIGINT UNSIGNED, LONGBLOB, MEDIUMTEXT, DATETIME(3));
// PostgreSQL gets BIGINT, BYTEA, TEXT and TIMESTAMPTZ(3); SQLite the plain types it stores anyway.
function types(DataTypes, dialect) {
  const mysql = dialect === undefined || dialect === 'mysql' || dialect === 'mariadb';
  if (mysql) return { id: DataTypes.BIGINT.UNSIGNED, blob: DataTypes.BLOB('long'), text: DataTypes.TEXT('medium'), date: DataTypes.DATE(3) };
  if (dialect === 'postgres') return { id: DataTypes.BIGINT, blob: DataTypes.BLOB, text: DataTypes.TEXT, date: timestamptz3(DataTypes) };
  return { id: DataTypes.BIGINT, blob: dialect === 'sqlite' ? DataTypes.BLOB('long') : DataTypes.BLOB, text: DataTypes.TEXT, date: DataTypes.DATE(3) };
}

// Sequelize's PostgreSQL DATE is always TIMESTAMPTZ (microseconds); times here are milliseconds.
// A DATE of its own key keeps Sequelize's date handling and is left as it is by normalizeDataType.
function timestamptz3(DataTypes) {
  const t = new DataTypes.postgres.DATE();
  t.key = 'TIMESTAMPTZ3';
  t.toSql = () => 'TIMESTAMP(3) WITH TIME ZONE';
  return t;
}

function columns(DataTypes, dialect) {
  const t = types(DataTypes, dialect);
  const date = () => ({ type: t.date, allowNull: true });
  return {
    id: { type: t.id, primaryKey: true, allowNull: false },
    queue: { type: DataTypes.STRING(64), allowNull: false },
    object_type: { type: DataTypes.STRING(255), allowNull: false },
    object_id: { type: DataTypes.STRING(255), allowNull: true },
    action: { type: DataTypes.STRING(255), allowNull: false },
    args: { type: t.blob, allowNull: true },
    result: { type: t.blob, allowNull: true },
    error_name: { type: DataTypes.STRING(255), allowNull: true },
    error_message: { type: t.text, allowNull: true },
    backtrace: { type: t.text, allowNull: true },
    priority: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    state: { type: DataTypes.STRING(16), allowNull: false },
    success: { type: DataTypes.BOOLEAN, allowNull: true },
    cancelled: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    attempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    worker: { type: DataTypes.STRING(255), allowNull: true },
    scheduled_at: date(),
    started_at: date(),
    finished_at: date(),
    created_at: date(),
  };
}

async function tableExists(queryInterface, table) {
  const tables = await queryInterface.showAllTables();
  return tables.some((t) => (typeof t === 'string' ? t : t.tableName) === table);
}

// Plain `exports.x =` assignments: ESM loaders (umzug imports migrations) see them as named exports.
exports.TABLE = TABLE;
exports.INDEXES = INDEXES;
exports.indexes = indexes;
exports.tableOf = tableOf;
exports.columns = columns;

exports.up = async function up(a, b, opts) {
  const { queryInterface, DataTypes } = args(a, b);
  const TABLE = tableOf(opts);
  if (!(await tableExists(queryInterface, TABLE))) {
    const dialect = queryInterface.sequelize.getDialect();
    // Binary collation: object types and ids compare exactly, as they do in Redis.
    const charset = dialect === 'mysql' || dialect === 'mariadb' ? { charset: 'utf8mb4', collate: 'utf8mb4_bin' } : {};
    await queryInterface.createTable(TABLE, columns(DataTypes, dialect), charset);
  }
  const have = new Set((await queryInterface.showIndex(TABLE)).map((i) => i.name));
  for (const ix of indexes(TABLE)) {
    if (!have.has(ix.name)) await queryInterface.addIndex(TABLE, ix.fields, { name: ix.name });
  }
};

exports.down = async function down(a, b, opts) {
  const { queryInterface } = args(a, b);
  await queryInterface.dropTable(tableOf(opts));
};
