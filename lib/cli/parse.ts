// The command line's grammar: every command and flag, the help texts, and argv parsed with
// minimist then checked against the command (an unknown or misplaced flag is a usage error
// naming the flag, with a suggestion for a near miss). Option values are checked here too.
import minimist from 'minimist';
import { resolve, join } from 'path';

/** Marks our supervisor in a process's command line, so a reused pid is not mistaken for it. */
export const SUPERVISE = '__supervise';
/** The short process that releases a dead worker's tasks (lib/cli/recover.ts). */
export const RECOVER = '__recover';

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** Exit code of a worker that passed --max-memory: its supervisor restarts it at once. */
export const EXIT_MEMORY = 75;

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
  mirror: { type: 'boolean', help: 'run the SQL mirror loop in the worker (--no-mirror: do not; default: when the queue mirrors)' },
  'pid-dir': { type: 'string', arg: 'DIR', help: 'pid files (default log/async)' },
  'log-dir': { type: 'string', arg: 'DIR', help: 'log files (default log/async)' },
  'kill-after': { type: 'string', arg: 'S', help: "SIGKILL workers still running S seconds after SIGTERM (default: the worker's --grace + 15)" },
  json: { type: 'boolean', help: 'print JSON' },
  state: { type: 'string', arg: 'STATE', help: 'only tasks in this state (queued, scheduled, running, succeeded, failed, cancelled)' },
  queue: { type: 'string', arg: 'Q', help: 'only this queue' },
  limit: { type: 'string', arg: 'N', help: 'at most N tasks, newest first (default 20)' },
  force: { type: 'boolean', help: 'generate: overwrite existing files; run/start: take over a uid that runs elsewhere on this host' },
  log: { type: 'string', arg: 'text|json', help: 'log format: text lines (default) or one JSON object per line' },
  remove: { type: 'string', arg: 'NAME', help: 'recurring: remove this schedule' },
  port: { type: 'string', arg: 'N', help: 'web: the port to listen on (default 4567)' },
  host: { type: 'string', arg: 'ADDR', help: 'web: the address to bind (default 127.0.0.1: this machine only)' },
  'read-only': { type: 'boolean', help: 'web: refuse every change (no retry, cancel or delete)' },
  quiet: { type: 'boolean', help: 'log errors and lifecycle only, plus a summary line every minute (no line per task)' },
};

export const WORKER_FLAGS = ['uid', 'queues', 'concurrency', 'prefetch', 'grace', 'max-memory', 'mirror', 'log', 'quiet'];
// What a restarted worker keeps unless given again (all of them, or none, are replaced).
export const RESTART_OPTIONS = ['app', ...WORKER_FLAGS.filter((f) => f !== 'uid')];

interface CommandSpec { args: string; summary: string; flags: string[]; positional: [number, number]; details?: string }

export const COMMANDS: Record<string, CommandSpec> = {
  run: { args: '', summary: 'run a worker in the foreground, one line per finished task (the default command)', flags: ['app', ...WORKER_FLAGS, 'force'], positional: [0, 0],
    details: 'SIGTERM/SIGINT: stop claiming, let running tasks finish within --grace, hand the rest back, exit 0.\n'
      + 'A second signal sent later (not the copy a process group or the supervisor delivers at once) exits at once (130).\n'
      + 'Refuses when a worker with the same --uid runs on this host (same prefix); --force stops that one first.' },
  start: { args: '', summary: 'start background workers (detached, supervised, pid and log file per uid)', flags: ['app', ...WORKER_FLAGS, 'workers', 'pid-dir', 'log-dir', 'force'], positional: [0, 0],
    details: 'With --uid, refuses when that worker runs (here or under another --pid-dir; --force stops it first); without, starts the next free uid (or -n of them).\n'
      + 'Interrupted (Ctrl-C, a timeout) before the workers are ready, it stops what it started.\nEach worker runs under a small supervisor that restarts it after --max-memory exits and crashes.' },
  stop: { args: '', summary: 'stop background workers (one with --uid, else all) and wait for them to exit', flags: ['uid', 'pid-dir', 'kill-after'], positional: [0, 0],
    details: 'Waits up to --kill-after seconds (default: the worker\'s --grace plus 15 s), then kills the worker and its supervisor (SIGKILL).\nExits 1 when --uid names no running worker.' },
  restart: { args: '', summary: 'stop, then start again the same uids (one with --uid, else the running ones), with their options unless new ones are given', flags: ['app', ...WORKER_FLAGS, 'pid-dir', 'log-dir', 'kill-after'], positional: [0, 0],
    details: 'Each worker keeps the options it was started with, unless worker options are given here: they replace them all.\nWith nothing running, it says so and starts --uid (default 1).' },
  pause: { args: 'QUEUE', summary: 'stop starting tasks of a queue (every worker; running ones finish; lasts until resume)', flags: ['app'], positional: [1, 1] },
  resume: { args: 'QUEUE', summary: 'start tasks of a paused queue again', flags: ['app'], positional: [1, 1] },
  status: { args: '', summary: 'workers of every host (from Redis), task counts and flow control (paused, limits) per queue', flags: ['app', 'json', 'pid-dir'], positional: [0, 0] },
  ls: { args: '', summary: 'list tasks', flags: ['app', 'state', 'queue', 'limit', 'json'], positional: [0, 0] },
  inspect: { args: 'ID', summary: 'every field of a task: args and result decoded, errors with backtraces', flags: ['app', 'json'], positional: [1, 1] },
  retry: { args: 'ID', summary: 'queue a failed task again as a new attempt', flags: ['app'], positional: [1, 1] },
  cancel: { args: 'ID', summary: 'cancel a queued or scheduled task (a running one is only marked)', flags: ['app'], positional: [1, 1] },
  migrate: { args: '', summary: 'create or update the async_tasks table (the SQL history)', flags: ['app'], positional: [0, 0] },
  mirror: { args: '', summary: 'run the SQL mirror loop in the foreground until SIGTERM/SIGINT', flags: ['app'], positional: [0, 0] },
  recurring: { args: '', summary: 'recurring schedules with their next and last ticks (--remove NAME removes one)', flags: ['app', 'remove', 'json'], positional: [0, 0] },
  unlock: { args: 'KEY', summary: "free a unique task's lock by hand (--queue: its queue, default 'default')", flags: ['app', 'queue'], positional: [1, 1] },
  web: { args: '', summary: 'serve the web dashboard until SIGTERM/SIGINT (loopback only unless --host says otherwise)', flags: ['app', 'port', 'host', 'read-only'], positional: [0, 0] },
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
export function givenFlags(argv: string[]): string[] {
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
  if (words.length > 0 && (words[0] in COMMANDS || words[0] === SUPERVISE || words[0] === RECOVER)) command = words.shift() as string;
  else if (words.length > 0) throw new CliError(`unknown command '${words[0]}'`, EXIT_USAGE, '');
  if (command === SUPERVISE || command === RECOVER) return { command, opts, positional: words };
  const spec = COMMANDS[command];
  for (const f of givenFlags(argv)) {
    if (!FLAGS[f]) {
      const near = nearest(f, spec.flags.length ? spec.flags : Object.keys(FLAGS));
      throw new CliError(`unknown option ${f.length === 1 ? '-' : '--'}${f}${near ? ` (did you mean --${near}?)` : ''}`, EXIT_USAGE, command);
    }
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

export function prefetchOpt(o: minimist.ParsedArgs): number | 'auto' | undefined {
  if (o.prefetch === undefined || String(o.prefetch) === 'auto') return o.prefetch === undefined ? undefined : 'auto';
  const v = String(o.prefetch);
  if (!/^\d+$/.test(v) || Number(v) > 10_000) throw new CliError(`--prefetch must be auto or a whole number from 0 to 10000 (got '${v}')`, EXIT_USAGE);
  return Number(v);
}

export function intOpt(o: minimist.ParsedArgs, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (o[name] === undefined) return undefined;
  const v = String(o[name]);
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new CliError(`--${name} must be a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ' up'} (got '${v}')`, EXIT_USAGE);
  }
  return n;
}

export function numOpt(o: minimist.ParsedArgs, name: string, min: number, minExclusive = false): number | undefined {
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

export type LogFormat = 'text' | 'json';

export interface WorkerOpts { uid?: number; queues?: string[]; concurrency?: number; prefetch?: number | 'auto'; graceS: number; maxMemoryMb?: number; mirror?: boolean;
  log: LogFormat; quiet: boolean }

export function workerOpts(o: minimist.ParsedArgs, argv: string[]): WorkerOpts {
  return {
    uid: intOpt(o, 'uid', 1, 1_000_000),
    queues: queuesOpt(o),
    concurrency: intOpt(o, 'concurrency', 1, 10_000),
    prefetch: prefetchOpt(o),
    graceS: numOpt(o, 'grace', 0) ?? 30,
    maxMemoryMb: numOpt(o, 'max-memory', 0, true),
    mirror: givenFlags(argv).includes('mirror') ? Boolean(o.mirror) : undefined,
    log: logOpt(o),
    quiet: Boolean(o.quiet),
  };
}

/** Arguments that give a supervised worker the same options (--uid is added per worker). */
function logOpt(o: minimist.ParsedArgs): LogFormat {
  const v = o.log === undefined ? 'text' : String(o.log);
  if (v !== 'text' && v !== 'json') throw new CliError(`--log must be text or json (got '${v}')`, EXIT_USAGE);
  return v;
}

export function workerArgv(w: WorkerOpts, app: string): string[] {
  const a = [`--app=${app}`, `--grace=${w.graceS}`];
  if (w.queues) a.push(`--queues=${w.queues.join(',')}`);
  if (w.concurrency) a.push(`--concurrency=${w.concurrency}`);
  if (w.prefetch !== undefined) a.push(`--prefetch=${w.prefetch}`);
  if (w.maxMemoryMb) a.push(`--max-memory=${w.maxMemoryMb}`);
  if (w.mirror !== undefined) a.push(w.mirror ? '--mirror' : '--no-mirror');
  if (w.log !== 'text') a.push(`--log=${w.log}`);
  if (w.quiet) a.push('--quiet');
  return a;
}

export const dirs = (o: minimist.ParsedArgs) => ({
  pidDir: resolve(String(o['pid-dir'] ?? join('log', 'async'))),
  logDir: resolve(String(o['log-dir'] ?? o['pid-dir'] ?? join('log', 'async'))),
});


/** The known name nearest to a mistyped one (edit distance at most 2, or a third of its length). */
export function nearest(typed: string, names: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(typed.length / 3)) + 1;
  for (const n of names) {
    const d = editDistance(typed, n);
    if (d < bestD) { best = n; bestD = d; }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
