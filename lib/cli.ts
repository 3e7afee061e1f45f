// The command line behind scripts/async.js (the seed's script/async): parses argv with minimist,
// checks every flag against the command, loads the user's app where the command needs the
// queue, and dispatches. Process management is in daemon.ts, the worker process in runner.ts,
// task and worker listings in cli/render.ts (from queries.ts), the generator in generator.ts.
import minimist from 'minimist';
import { existsSync } from 'fs';
import { resolve, join } from 'path';
import type { Queue } from './queue';
import { runWorker } from './runner';
import { startWorkers, stopWorkers, runningUids, supervise, supervisorArgs, launcher, SUPERVISE } from './daemon';
import { generate } from './generator';
import * as render from './cli/render';
import { mirrorCommand } from './cli/mirror-command';
import { taskDetail } from './queries';
import { STATES, isState, isFinal } from './states';

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** An error to print without a stack: a message naming what was wrong, and the exit code. */
export class CliError extends Error {
  constructor(message: string, readonly code = EXIT_FAILURE, readonly usageOf?: string) { super(message); }
}

interface FlagSpec { type: 'string' | 'boolean'; arg?: string; help: string; short?: string }

const FLAGS: Record<string, FlagSpec> = {
  app: { type: 'string', arg: 'PATH', help: 'module that exports the queue (default: $ASYNC_APP, else ./async.config.js)' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
  uid: { type: 'string', arg: 'N', help: 'worker id (1, 2, ...): names the pid/log file and the worker in status' },
  workers: { type: 'string', short: 'n', arg: 'N', help: 'N workers (start: uids after the highest running; generate: PM2 workers)' },
  queues: { type: 'string', arg: 'A,B', help: 'queues to work, in order of preference (default: default)' },
  concurrency: { type: 'string', arg: 'C', help: 'tasks run at once per worker (default 1)' },
  prefetch: { type: 'string', arg: 'auto|N', help: "tasks claimed ahead of the concurrency (default auto: only while short tasks are waiting; 0: never)" },
  grace: { type: 'string', arg: 'S', help: 'seconds running tasks get to finish on shutdown before they are handed back (default 30)' },
  'max-memory': { type: 'string', arg: 'MB', help: 'finish current tasks and exit (code 75) above this resident memory; start restarts it' },
  mirror: { type: 'boolean', help: 'run the MySQL mirror loop in the worker (--no-mirror: do not; default: when the queue mirrors)' },
  'pid-dir': { type: 'string', arg: 'DIR', help: 'pid files (default log/async)' },
  'log-dir': { type: 'string', arg: 'DIR', help: 'log files (default log/async)' },
  'kill-after': { type: 'string', arg: 'S', help: 'SIGKILL workers still running S seconds after SIGTERM (default: wait)' },
  json: { type: 'boolean', help: 'print JSON' },
  state: { type: 'string', arg: 'STATE', help: 'only tasks in this state (queued, scheduled, running, succeeded, failed, cancelled)' },
  queue: { type: 'string', arg: 'Q', help: 'only this queue' },
  limit: { type: 'string', arg: 'N', help: 'at most N tasks, newest first (default 20)' },
  force: { type: 'boolean', help: 'overwrite existing files' },
};

const WORKER_FLAGS = ['uid', 'queues', 'concurrency', 'prefetch', 'grace', 'max-memory', 'mirror'];
// What a restarted worker keeps unless given again (all of them, or none, are replaced).
const RESTART_OPTIONS = ['app', ...WORKER_FLAGS.filter((f) => f !== 'uid')];

interface CommandSpec { args: string; summary: string; flags: string[]; positional: [number, number]; details?: string }

const COMMANDS: Record<string, CommandSpec> = {
  run: { args: '', summary: 'run a worker in the foreground, one line per finished task (the default command)', flags: ['app', ...WORKER_FLAGS], positional: [0, 0],
    details: 'SIGTERM/SIGINT: stop claiming, let running tasks finish within --grace, hand the rest back, exit 0.\nA second signal exits at once.' },
  start: { args: '', summary: 'start background workers (detached, supervised, pid and log file per uid)', flags: ['app', ...WORKER_FLAGS, 'workers', 'pid-dir', 'log-dir'], positional: [0, 0],
    details: 'With --uid, refuses when that worker runs; without, starts the next free uid (or -n of them).\nEach worker runs under a small supervisor that restarts it after --max-memory exits and crashes.' },
  stop: { args: '', summary: 'stop background workers (one with --uid, else all) and wait for them to exit', flags: ['uid', 'pid-dir', 'kill-after'], positional: [0, 0] },
  restart: { args: '', summary: 'stop, then start again the same uids (one with --uid, else the running ones), with their options unless new ones are given', flags: ['app', ...WORKER_FLAGS, 'pid-dir', 'log-dir', 'kill-after'], positional: [0, 0],
    details: 'Worker options are not remembered: give them again (as to start).' },
  status: { args: '', summary: 'workers of every host (from Redis) and task counts per queue', flags: ['app', 'json', 'pid-dir'], positional: [0, 0] },
  ls: { args: '', summary: 'list tasks', flags: ['app', 'state', 'queue', 'limit', 'json'], positional: [0, 0] },
  inspect: { args: 'ID', summary: 'every field of a task: args and result decoded, errors with backtraces', flags: ['app', 'json'], positional: [1, 1] },
  retry: { args: 'ID', summary: 'queue a failed task again as a new attempt', flags: ['app'], positional: [1, 1] },
  cancel: { args: 'ID', summary: 'cancel a queued or scheduled task (a running one is only marked)', flags: ['app'], positional: [1, 1] },
  migrate: { args: '', summary: 'create or update the async_tasks table (the MySQL mirror)', flags: ['app'], positional: [0, 0] },
  mirror: { args: '', summary: 'run the MySQL mirror loop in the foreground until SIGTERM/SIGINT', flags: ['app'], positional: [0, 0] },
  generate: { args: '[DIR]', summary: 'write launcher, migration, PM2 ecosystem.config.js and systemd async@.service into an app', flags: ['workers', 'max-memory', 'grace', 'force'], positional: [0, 1] },
  help: { args: '[COMMAND]', summary: 'show help', flags: [], positional: [0, 1] },
};

const PROG = 'scripts/async.js';

export function usage(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((c) => `${c} ${COMMANDS[c].args}`.length));
  const lines = Object.entries(COMMANDS).map(([c, s]) => `  ${`${c} ${s.args}`.padEnd(w)}  ${s.summary}`);
  return `usage: node ${PROG} [COMMAND] [OPTIONS]\n\ncommands:\n${lines.join('\n')}\n\n`
    + `The app module (--app, $ASYNC_APP or ./async.config.js) exports the queue from setup().\n`
    + `node ${PROG} COMMAND --help shows a command's options.\n`;
}

export function commandHelp(cmd: string): string {
  const s = COMMANDS[cmd];
  const flags = [...s.flags, 'help'].map((f) => {
    const spec = FLAGS[f];
    const left = `${spec.short ? `-${spec.short}, ` : '    '}--${f}${spec.arg ? `=${spec.arg}` : ''}`;
    return `  ${left.padEnd(24)} ${spec.help}`;
  });
  return `usage: node ${PROG} ${cmd}${s.args ? ` ${s.args}` : ''}${s.flags.length ? ' [OPTIONS]' : ''}\n\n${s.summary}\n`
    + (s.details ? `${s.details}\n` : '') + `\noptions:\n${flags.join('\n')}\n`;
}

export interface Invocation { command: string; opts: minimist.ParsedArgs; positional: string[] }

const SHORT: Record<string, string> = Object.fromEntries(Object.entries(FLAGS).filter(([, s]) => s.short).map(([n, s]) => [s.short as string, n]));

/** Flag names as typed, from the raw tokens (minimist fills in booleans that were not given). */
function givenFlags(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i];
    if (t === '--') break;
    if (t.startsWith('--')) {
      const name = t.slice(2).split('=')[0];
      const plain = name.startsWith('no-') && FLAGS[name.slice(3)]?.type === 'boolean' ? name.slice(3) : name;
      out.push(plain);
      if (FLAGS[plain]?.type === 'string' && !t.includes('=')) i++;
    } else if (t.startsWith('-') && t.length > 1) {
      for (let j = 1; j < t.length; j++) {
        const long = SHORT[t[j]];
        out.push(long ?? t[j]);
        if (long && FLAGS[long].type === 'string') { if (j === t.length - 1) i++; break; }
      }
    }
  }
  return out;
}

export function parse(argv: string[]): Invocation {
  const opts = minimist(argv, {
    string: Object.keys(FLAGS).filter((f) => FLAGS[f].type === 'string'),
    boolean: Object.keys(FLAGS).filter((f) => FLAGS[f].type === 'boolean'),
    alias: Object.fromEntries(Object.entries(SHORT).map(([s, l]) => [l, s])),
  });
  const words = opts._.map(String);
  let command = 'run';
  if (words.length > 0 && (words[0] in COMMANDS || words[0] === SUPERVISE)) command = words.shift() as string;
  else if (words.length > 0) throw new CliError(`unknown command '${words[0]}'`, EXIT_USAGE, '');
  if (command === SUPERVISE) return { command, opts, positional: words };
  const spec = COMMANDS[command];
  for (const f of givenFlags(argv)) {
    if (!FLAGS[f]) throw new CliError(`unknown option '${f.length === 1 ? '-' : '--'}${f}'`, EXIT_USAGE, command);
    if (f !== 'help' && !spec.flags.includes(f)) throw new CliError(`'${command}' does not take --${f}`, EXIT_USAGE, command);
  }
  for (const f of Object.keys(FLAGS)) {
    if (Array.isArray(opts[f])) throw new CliError(`--${f} was given more than once`, EXIT_USAGE, command);
    if (FLAGS[f].type === 'string' && opts[f] === '') throw new CliError(`--${f} needs a value (--${f}=${FLAGS[f].arg})`, EXIT_USAGE, command);
  }
  const [min, max] = spec.positional;
  if (!opts.help && (words.length < min || words.length > max)) {
    throw new CliError(words.length < min ? `'${command}' needs ${spec.args}` : `'${command}' takes ${max === 0 ? 'no arguments' : `at most ${max} argument`} (got ${words.slice(max).map((w) => `'${w}'`).join(' ')})`, EXIT_USAGE, command);
  }
  return { command, opts, positional: words };
}

// --- option values -------------------------------------------------------------------------

function prefetchOpt(o: minimist.ParsedArgs): number | 'auto' | undefined {
  if (o.prefetch === undefined || String(o.prefetch) === 'auto') return o.prefetch === undefined ? undefined : 'auto';
  const v = String(o.prefetch);
  if (!/^\d+$/.test(v) || Number(v) > 10_000) throw new CliError(`--prefetch must be auto or a whole number from 0 to 10000 (got '${v}')`, EXIT_USAGE);
  return Number(v);
}

function intOpt(o: minimist.ParsedArgs, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (o[name] === undefined) return undefined;
  const v = String(o[name]);
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new CliError(`--${name} must be a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ' up'} (got '${v}')`, EXIT_USAGE);
  }
  return n;
}

function numOpt(o: minimist.ParsedArgs, name: string, min: number, minExclusive = false): number | undefined {
  if (o[name] === undefined) return undefined;
  const v = String(o[name]);
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || (minExclusive && n === min)) {
    throw new CliError(`--${name} must be a number ${minExclusive ? '>' : '>='} ${min} (got '${v}')`, EXIT_USAGE);
  }
  return n;
}

function queuesOpt(o: minimist.ParsedArgs): string[] | undefined {
  if (o.queues === undefined) return undefined;
  const qs = String(o.queues).split(',').map((q) => q.trim());
  const bad = qs.find((q) => !/^[A-Za-z0-9_.-]{1,64}$/.test(q));
  if (bad !== undefined) throw new CliError(`--queues: '${bad}' is not a queue name (1-64 characters of A-Z a-z 0-9 _ . -)`, EXIT_USAGE);
  return qs;
}

interface WorkerOpts { uid?: number; queues?: string[]; concurrency?: number; prefetch?: number | 'auto'; graceS: number; maxMemoryMb?: number; mirror?: boolean }

function workerOpts(o: minimist.ParsedArgs, argv: string[]): WorkerOpts {
  return {
    uid: intOpt(o, 'uid', 1, 1_000_000),
    queues: queuesOpt(o),
    concurrency: intOpt(o, 'concurrency', 1, 10_000),
    prefetch: prefetchOpt(o),
    graceS: numOpt(o, 'grace', 0) ?? 30,
    maxMemoryMb: numOpt(o, 'max-memory', 0, true),
    mirror: givenFlags(argv).includes('mirror') ? Boolean(o.mirror) : undefined,
  };
}

/** Arguments that give a supervised worker the same options (--uid is added per worker). */
function workerArgv(w: WorkerOpts, app: string): string[] {
  const a = [`--app=${app}`, `--grace=${w.graceS}`];
  if (w.queues) a.push(`--queues=${w.queues.join(',')}`);
  if (w.concurrency) a.push(`--concurrency=${w.concurrency}`);
  if (w.prefetch !== undefined) a.push(`--prefetch=${w.prefetch}`);
  if (w.maxMemoryMb) a.push(`--max-memory=${w.maxMemoryMb}`);
  if (w.mirror !== undefined) a.push(w.mirror ? '--mirror' : '--no-mirror');
  return a;
}

const dirs = (o: minimist.ParsedArgs) => ({
  pidDir: resolve(String(o['pid-dir'] ?? join('log', 'async'))),
  logDir: resolve(String(o['log-dir'] ?? o['pid-dir'] ?? join('log', 'async'))),
});

// --- the app --------------------------------------------------------------------------------

/** Where the app module is: --app, else $ASYNC_APP, else ./async.config.js. */
export function appPath(o: minimist.ParsedArgs, env = process.env): { path: string; from: string } {
  if (o.app !== undefined) return { path: resolve(String(o.app)), from: '--app' };
  if (env.ASYNC_APP) return { path: resolve(env.ASYNC_APP), from: 'ASYNC_APP' };
  return { path: resolve('async.config.js'), from: 'the default ./async.config.js' };
}

function isQueue(x: unknown): x is Queue {
  const q = x as Queue;
  return typeof x === 'object' && x !== null && typeof q.worker === 'function' && typeof q.task === 'function'
    && typeof q.stats === 'function' && typeof q.prefix === 'string' && typeof q.redis === 'object';
}

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (typeof x === 'object') return Object.keys(x).length ? `an object with ${Object.keys(x).slice(0, 5).join(', ')}` : 'an empty object';
  return typeof x;
}

// Dynamic import that the CommonJS output keeps as a real import() (for ESM app modules).
const importESM = new Function('u', 'return import(u)') as (u: string) => Promise<Record<string, unknown>>;

/**
 * Loads the app module. It exports the queue (module.exports = queue, exports.queue or the
 * default export), or a function returning the queue or a promise of it, or a promise of it.
 */
export async function loadApp(o: minimist.ParsedArgs, env = process.env): Promise<Queue> {
  const { path, from } = appPath(o, env);
  let file: string;
  try { file = require.resolve(path); } catch {
    throw new CliError(`app module ${path} (from ${from}) not found. Give --app ./path/to/module, set ASYNC_APP, or create async.config.js exporting the queue from setup()`);
  }
  let mod: unknown;
  try {
    mod = require(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_REQUIRE_ESM') {
      try { mod = await importESM(require('url').pathToFileURL(file).href); } catch (e2) { throw broken(file, e2); }
    } else throw broken(file, e);
  }
  let x: unknown = mod;
  try {
    const m = x as { default?: unknown; queue?: unknown; __esModule?: boolean };
    if (!isQueue(x) && m && typeof m === 'object' && 'default' in m && m.default !== undefined) x = m.default;
    if (typeof x === 'function') x = await (x as () => unknown)();
    x = await x;
    if (!isQueue(x) && x && typeof x === 'object' && isQueue((x as { queue?: unknown }).queue)) x = (x as { queue: unknown }).queue;
  } catch (e) { throw broken(file, e); }
  if (!isQueue(x)) {
    throw new CliError(`app module ${file} must export the queue from setup() (module.exports = queue), or a function or promise giving it; it gave ${describe(x)}`);
  }
  return x;
}

function broken(file: string, e: unknown): CliError {
  const err = e as Error;
  // The app's own frames are the cause; the loader's and ours are noise.
  const stack = (err?.stack ?? String(e)).split('\n').filter((l) => !/\(node:internal|dist[\\/]lib[\\/]cli\.js/.test(l)).join('\n');
  return new CliError(`loading the app module ${file} failed: ${stack}`);
}

// --- dispatch -------------------------------------------------------------------------------

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);

async function withQueue<T>(o: minimist.ParsedArgs, fn: (q: Queue) => Promise<T>): Promise<T> {
  const queue = await loadApp(o);
  try { return await fn(queue); } finally { await queue.close().catch(() => undefined); }
}

async function dispatch(inv: Invocation, argv: string[]): Promise<number> {
  const { command, opts: o, positional } = inv;
  switch (command) {
    case 'help':
      if (positional[0] !== undefined && !(positional[0] in COMMANDS)) throw new CliError(`unknown command '${positional[0]}'`, EXIT_USAGE, '');
      out(positional[0] ? commandHelp(positional[0]) : usage());
      return 0;
    case 'run': {
      const w = workerOpts(o, argv);
      const queue = await loadApp(o);
      try {
        return await runWorker(queue, { uid: w.uid ?? null, queues: w.queues, concurrency: w.concurrency, prefetch: w.prefetch, graceMs: w.graceS * 1000, maxMemoryMb: w.maxMemoryMb, mirror: w.mirror });
      } finally { await queue.close().catch(() => undefined); }
    }
    case SUPERVISE: {
      const uid = intOpt(o, 'uid', 1) as number;
      const rest = argv.filter((a) => a !== SUPERVISE && !a.startsWith('--uid=') && !a.startsWith('--pid-dir='));
      return supervise({ uid, pidDir: dirs(o).pidDir, launcher: launcher(), workerArgs: rest });
    }
    case 'start':
    case 'restart': {
      const w = workerOpts(o, argv);
      const d = dirs(o);
      const n = intOpt(o, 'workers', 1, 1000);
      // The worker options of this command line (checked here so a missing app fails at once; a
      // broken one fails when the worker loads it).
      const fresh = () => {
        const app = appPath(o).path;
        try { require.resolve(app); } catch { throw new CliError(`app module ${app} (from ${appPath(o).from}) not found. Give --app ./path/to/module, set ASYNC_APP, or create async.config.js`); }
        return workerArgv(w, app);
      };
      if (command === 'restart') {
        const killAfter = numOpt(o, 'kill-after', 0);
        const running = runningUids(d.pidDir, out);
        const uids = w.uid !== undefined ? [w.uid] : running.length ? running.map((f) => f.uid) : [1];
        // Worker options given here replace the old ones; none given: each worker comes back with
        // the options it was started with (read from its supervisor's command line).
        const given = givenFlags(argv).some((f) => RESTART_OPTIONS.includes(f));
        const kept = new Map<number, string[]>();
        if (!given) {
          for (const f of running) {
            const a = uids.includes(f.uid) && f.pid !== null ? supervisorArgs(f.pid) : null;
            if (a) kept.set(f.uid, a);
          }
        }
        // Worked out before the stop, so a missing app fails with every worker still running.
        const groups = new Map<string, { args: string[]; uids: number[] }>();
        for (const u of uids) {
          const args = kept.get(u) ?? fresh();
          const g = groups.get(args.join('\0'));
          if (g) g.uids.push(u); else groups.set(args.join('\0'), { args, uids: [u] });
        }
        await stopWorkers({ pidDir: d.pidDir, uid: w.uid, killAfterMs: killAfter === undefined ? undefined : killAfter * 1000 }, out);
        // One start per set of options (uids started together share one).
        for (const g of groups.values()) await startWorkers({ ...d, uids: g.uids, launcher: launcher(), workerArgs: g.args }, out);
        return 0;
      }
      const count = n ?? 1;
      let uids: number[];
      if (w.uid !== undefined) uids = Array.from({ length: count }, (_, i) => (w.uid as number) + i);
      else {
        const highest = Math.max(0, ...runningUids(d.pidDir, out).map((f) => f.uid));
        uids = Array.from({ length: count }, (_, i) => highest + 1 + i);
      }
      await startWorkers({ ...d, uids, launcher: launcher(), workerArgs: fresh() }, out);
      return 0;
    }
    case 'stop': {
      const killAfter = numOpt(o, 'kill-after', 0);
      await stopWorkers({ pidDir: dirs(o).pidDir, uid: intOpt(o, 'uid', 1), killAfterMs: killAfter === undefined ? undefined : killAfter * 1000 }, out);
      return 0;
    }
    case 'status':
      return withQueue(o, async (q) => { out(await render.status(q, { json: Boolean(o.json), pidDir: dirs(o).pidDir })); return 0; });
    case 'ls': {
      const limit = intOpt(o, 'limit', 1, 100000) ?? 20;
      const state = o.state === undefined ? undefined : String(o.state);
      if (state !== undefined && !isState(state)) throw new CliError(`--state must be one of ${STATES.join(', ')} (got '${state}')`, EXIT_USAGE);
      const queue = o.queue === undefined ? undefined : String(o.queue);
      return withQueue(o, async (q) => { out(await render.list(q, { state, queue, limit, json: Boolean(o.json) })); return 0; });
    }
    case 'inspect':
    case 'retry':
    case 'cancel': {
      const id = taskId(positional[0]);
      return withQueue(o, async (q) => {
        const detail = await taskDetail(q.internals, id);
        if (!detail) throw new CliError(`task ${id} not found (prefix ${q.prefix})`);
        const { task } = detail;
        if (command === 'inspect') { out(render.inspect(detail, Boolean(o.json))); return 0; }
        if (command === 'retry') {
          const r = await q.internals.retry(task.queue, task.id);
          if (r !== 'queued') throw new CliError(r === '' ? `task ${id} is no longer in Redis: only a task still stored can be retried` : `task ${id} is ${r}: only a failed task can be retried`);
          out(`task ${id} queued again in ${task.queue} (attempt ${task.attempts + 1})`);
          return 0;
        }
        if (isFinal(task.state)) throw new CliError(`task ${id} is already ${task.state}: nothing to cancel`);
        const state = await task.cancel().catch((e: Error) => { throw new CliError(`cancel ${id}: ${e.message}`); });
        if (state === 'cancelled') out(`task ${id} cancelled`);
        else if (state === 'running') out(`task ${id} is running: marked cancelled (it is not interrupted; it will not be retried)`);
        else throw new CliError(`task ${id} is ${state}: nothing to cancel`);
        return 0;
      });
    }
    case 'migrate':
      return withQueue(o, async (q) => {
        if (!q.sequelize) throw new CliError('migrate needs a queue set up with a sequelize instance (setup({ sequelize, ... }))');
        await q.migrate();
        out('async_tasks is up to date');
        return 0;
      });
    case 'mirror':
      return withQueue(o, (q) => mirrorCommand(q, out));
    case 'generate': {
      const dir = resolve(positional[0] ?? '.');
      const written = generate({ dir, force: Boolean(o.force), workers: intOpt(o, 'workers', 1, 1000) ?? 1,
        maxMemoryMb: numOpt(o, 'max-memory', 0, true) ?? 180, graceS: numOpt(o, 'grace', 0) ?? 30 });
      const w = Math.max(...written.map((f) => f.path.length));
      out(`wrote:\n${written.map((f) => `  ${f.path.padEnd(w)}  ${f.what}`).join('\n')}`);
      if (!existsSync(join(dir, 'async.config.js'))) out(`next: create ${join(dir, 'async.config.js')} exporting the queue from setup() (see README, "Command line")`);
      return 0;
    }
  }
  throw new CliError(`unknown command '${command}'`, EXIT_USAGE, '');
}

function taskId(s: string): number {
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s)) || Number(s) < 1) throw new CliError(`task id must be a positive whole number (got '${s}')`, EXIT_USAGE);
  return Number(s);
}

/** Runs one command line; resolves with the exit code (errors are printed, not thrown). */
export async function main(argv: string[]): Promise<number> {
  let inv: Invocation | undefined;
  try {
    inv = parse(argv);
    if (inv.opts.help && inv.command !== SUPERVISE) {
      out(inv.command === 'help' || (inv.command === 'run' && !argv.includes('run')) ? usage() : commandHelp(inv.command));
      return 0;
    }
    return await dispatch(inv, argv);
  } catch (e) {
    if (e instanceof CliError) {
      process.stderr.write(`async: ${e.message}\n`);
      if (e.usageOf !== undefined) process.stderr.write(`\n${e.usageOf && e.usageOf in COMMANDS ? commandHelp(e.usageOf) : usage()}`);
      return e.code;
    }
    process.stderr.write(`async: ${(e as Error)?.message ?? String(e)}\n`);
    if (process.env.ASYNC_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
    return EXIT_FAILURE;
  }
}

/** Entry point of launchers (scripts/async.js): runs argv and exits with its code. */
export function cli(argv: string[] = process.argv.slice(2)): void {
  main(argv).then((code) => process.exit(code), (e) => { process.stderr.write(`async: ${(e as Error)?.stack ?? String(e)}\n`); process.exit(EXIT_FAILURE); });
}
