// The SQL mirror: a loop that copies task states from Redis into `async_tasks` (loop.ts, one per
// queue object: shared.ts), the row mapping (rows.ts, json.ts) and its SQL (upsert.ts), the
// AsyncTask model (model.ts), the migrations (migrations.ts, migrate.ts) and the read side (history.ts).
export type { MirrorHost } from './host';
export { runMirror } from './loop';
export { acquireMirror } from './shared';
export { historyReader, mirrorLag } from './history';
export { migrate } from './migrate';
export type { MigrateResult } from './migrate';
export { defineAsyncTask, fieldsFromRow, hashFromRow } from './model';
export type { AsyncTask, AsyncTaskModel } from './model';
export { MIGRATION_PATH, MIGRATIONS_DIR, TABLE } from './migrations';
export { rowFromHash } from './rows';
export { writeRows } from './upsert';
export { databaseError } from './db-error';
