// `generate [appDir]`: writes into a Sequelize app what the seed's `script/generate async` wrote
// into a Rails app: a launcher script, the async_tasks migration, a PM2 process file and a
// systemd unit template. Files come from templates/ with {{NAME}} placeholders filled in.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, statSync, chmodSync } from 'fs';
import { basename, dirname, join, relative, resolve } from 'path';
import { packagePath } from '../paths';

const TEMPLATES = packagePath('templates');
// The package's own migration (plain JS in lib/migrations), copied: a migration an app has run must not change under it.
const MIGRATIONS = packagePath('lib', 'migrations');

/** The package's migrations in the order they run: file name and text (with a line saying where it came from). */
function packageMigrations(): { name: string; suffix: string; text: string }[] {
  const names = existsSync(MIGRATIONS) ? readdirSync(MIGRATIONS).filter((n) => /^\d{14}-.+\.js$/.test(n)).sort() : [];
  if (!names.some((n) => /-create-async-tasks\.js$/.test(n))) throw new Error(`the async_tasks migration of sequelize-async is missing (looked in ${MIGRATIONS})`);
  return names.map((name) => ({ name, suffix: name.slice(15),
    text: `// Copied from sequelize-async (lib/migrations/${name}) by \`generate\`; \`node scripts/async.js migrate\` does the same.\n`
      + readFileSync(join(MIGRATIONS, name), 'utf8') }));
}

export interface GenerateOptions {
  dir: string;
  force: boolean;
  workers: number;
  maxMemoryMb: number;
  graceS: number;
  /** For the migration's file name (a sequelize-cli timestamp); default now. */
  now?: Date;
}

export interface Generated { path: string; what: string }

function timestamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

function fill(template: string, vars: Record<string, string>): string {
  return readFileSync(join(TEMPLATES, template), 'utf8').replace(/\{\{(\w+)\}\}/g, (m, k: string) => {
    if (!(k in vars)) throw new Error(`template ${template}: unknown placeholder ${m}`);
    return vars[k];
  });
}

/**
 * Writes the files; refuses (writing nothing) when one exists and `force` is off.
 * Returns what it wrote, paths relative to the app directory.
 */
export function generate(o: GenerateOptions): Generated[] {
  if (!TEMPLATES) throw new Error('the templates directory of sequelize-async is missing from this install');
  const dir = resolve(o.dir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
  let appName = basename(dir);
  try { appName = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name || appName; } catch { /* no package.json: the directory name */ }
  const vars = {
    WORKERS: String(o.workers), MAX_MEMORY: String(o.maxMemoryMb), GRACE: String(o.graceS),
    STOP_TIMEOUT: String(Math.ceil(o.graceS) + 10), APP_DIR: dir, APP_NAME: appName, NODE: process.execPath,
  };
  // An earlier run's copy of a migration counts as existing, whatever its timestamp. New copies get
  // this run's timestamps a second apart, in the package's order, so a migration tool runs them after
  // the app's own earlier migrations and in the right order.
  const migDir = join(dir, 'migrations');
  const had = existsSync(migDir) ? readdirSync(migDir) : [];
  const start = (o.now ?? new Date()).getTime();
  const migrations = packageMigrations().map((m, i) => {
    const old = had.find((f) => /^\d{14}-/.test(f) && f.slice(15) === m.suffix);
    return { path: `migrations/${old ?? `${timestamp(new Date(start + i * 1000))}-${m.suffix}`}`,
      what: i === 0 ? 'migration: the async_tasks table (sequelize-cli / umzug)' : `migration: ${m.suffix.replace(/\.js$/, '')}`, text: m.text };
  });
  const files: { path: string; what: string; text: string; exec?: boolean }[] = [
    { path: 'scripts/async.js', what: 'launcher: node scripts/async.js start|stop|status|...', text: fill('launcher.js', vars), exec: true },
    ...migrations,
    { path: 'ecosystem.config.js', what: `PM2: ${o.workers} worker(s), restart above ${o.maxMemoryMb} MB`, text: fill('ecosystem.config.js', vars) },
    { path: 'async@.service', what: 'systemd unit template: systemctl enable --now async@1', text: fill('async@.service', vars) },
  ];
  const existing = files.filter((f) => existsSync(join(dir, f.path)));
  if (existing.length && !o.force) {
    throw new Error(`not overwriting ${existing.map((f) => join(dir, f.path)).join(', ')} (use --force to overwrite); nothing was written`);
  }
  for (const f of files) {
    const p = join(dir, f.path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, f.text);
    if (f.exec) chmodSync(p, 0o755);
  }
  return files.map((f) => ({ path: relative(process.cwd(), join(dir, f.path)) || f.path, what: f.what }));
}
