'use strict';
// The `async_tasks` table: the MySQL history of every task (sequelize-async's mirror).
// Plain JavaScript so sequelize-cli can load it as it is. Both call forms work:
//   sequelize-cli: up(queryInterface, Sequelize)      umzug 3: up({ context: queryInterface })
// Safe to run again: an existing table is left alone and only missing indexes are added, so
// `queue.migrate()` and a migration tool can both have run it.
// Keep the columns in step with lib/model.ts (spec/mirror.spec.ts compares them).

const TABLE = 'async_tasks';

const INDEXES = [
  { name: 'async_tasks_object', fields: ['object_type', 'object_id'] },
  { name: 'async_tasks_state', fields: ['state'] },
  { name: 'async_tasks_scheduled_at', fields: ['scheduled_at'] },
];

function args(a, b) {
  const queryInterface = a && a.context && typeof a.context.createTable === 'function' ? a.context : a;
  if (!queryInterface || typeof queryInterface.createTable !== 'function') {
    throw new TypeError('async_tasks migration: call up(queryInterface, Sequelize) or up({ context: queryInterface })');
  }
  const S = (b && b.DataTypes) || b || queryInterface.sequelize.constructor;
  return { queryInterface, DataTypes: S.DataTypes || S };
}

function columns(DataTypes) {
  const date = { type: DataTypes.DATE(3), allowNull: true };
  return {
    id: { type: DataTypes.BIGINT.UNSIGNED, primaryKey: true, allowNull: false },
    queue: { type: DataTypes.STRING(64), allowNull: false },
    object_type: { type: DataTypes.STRING(255), allowNull: false },
    object_id: { type: DataTypes.STRING(255), allowNull: true },
    action: { type: DataTypes.STRING(255), allowNull: false },
    args: { type: DataTypes.BLOB('long'), allowNull: true },
    result: { type: DataTypes.BLOB('long'), allowNull: true },
    error_name: { type: DataTypes.STRING(255), allowNull: true },
    error_message: { type: DataTypes.TEXT('medium'), allowNull: true },
    backtrace: { type: DataTypes.TEXT('medium'), allowNull: true },
    priority: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    state: { type: DataTypes.STRING(16), allowNull: false },
    success: { type: DataTypes.BOOLEAN, allowNull: true },
    cancelled: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    attempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    worker: { type: DataTypes.STRING(255), allowNull: true },
    scheduled_at: date,
    started_at: date,
    finished_at: date,
    created_at: date,
  };
}

async function tableExists(queryInterface) {
  const tables = await queryInterface.showAllTables();
  return tables.some((t) => (typeof t === 'string' ? t : t.tableName) === TABLE);
}

// Plain `exports.x =` assignments: ESM loaders (umzug imports migrations) see them as named exports.
exports.TABLE = TABLE;
exports.INDEXES = INDEXES;
exports.columns = columns;

exports.up = async function up(a, b) {
  const { queryInterface, DataTypes } = args(a, b);
  if (!(await tableExists(queryInterface))) {
    const dialect = queryInterface.sequelize.getDialect();
    // Binary collation: object types and ids compare exactly, as they do in Redis.
    const opts = dialect === 'mysql' || dialect === 'mariadb' ? { charset: 'utf8mb4', collate: 'utf8mb4_bin' } : {};
    await queryInterface.createTable(TABLE, columns(DataTypes), opts);
  }
  const have = new Set((await queryInterface.showIndex(TABLE)).map((i) => i.name));
  for (const ix of INDEXES) {
    if (!have.has(ix.name)) await queryInterface.addIndex(TABLE, ix.fields, { name: ix.name });
  }
};

exports.down = async function down(a, b) {
  const { queryInterface } = args(a, b);
  await queryInterface.dropTable(TABLE);
};
