// The shipped migrations of `async_tasks` (plain JS in lib/migrations, so sequelize-cli and umzug
// load them as they are), in the order they run. The model's columns are the union of theirs.
import { existsSync, readdirSync } from 'fs';
import { join } from 'path';
import type { DataTypes } from 'sequelize';
import { packagePath } from '../paths';

const FIRST = '20250101000000-create-async-tasks.js';
// Run from lib/mirror (tsx) or from the compiled dist/lib/mirror; the migrations stay in lib/migrations.
export const MIGRATIONS_DIR = packagePath('lib', 'migrations');
/** Absolute path of the first shipped migration (it creates the table; later ones add to it). */
export const MIGRATION_PATH = join(MIGRATIONS_DIR, FIRST);

export interface MigrationModule {
  TABLE: string;
  /** The columns this migration creates or adds (dialect: the Sequelize dialect, where a type depends on it). */
  columns(dt: typeof DataTypes, dialect?: string): Record<string, object>;
  up(qi: unknown, s?: unknown, opts?: { table?: string }): Promise<void>;
  down(qi: unknown, s?: unknown, opts?: { table?: string }): Promise<void>;
}

/** Every shipped migration file, oldest first (their names start with a timestamp). */
export const MIGRATION_FILES: readonly string[] = readdirSync(MIGRATIONS_DIR).filter((f) => /^\d{14}-.*\.js$/.test(f)).sort()
  .map((f) => join(MIGRATIONS_DIR, f));

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const MIGRATIONS: readonly MigrationModule[] = MIGRATION_FILES.map((f) => require(f) as MigrationModule);
/** The default table name (setup({ mirror: { table } }) picks another). */
export const TABLE = MIGRATIONS[0].TABLE;

/** Every column of the table once all migrations ran. */
export function tableColumns(dt: typeof DataTypes, dialect: string): Record<string, Record<string, unknown>> {
  return Object.assign({}, ...MIGRATIONS.map((m) => m.columns(dt, dialect))) as Record<string, Record<string, unknown>>;
}
