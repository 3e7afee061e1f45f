// What each command does, once parse.ts has checked its argv: process management goes to
// daemon.ts and supervisor.ts, the worker process to runner.ts, task and worker listings to
// render.ts (text from the read layer, queries.ts), the generator to generator.ts.
import { existsSync } from 'fs';
import { resolve, join } from 'path';
import type { Queue } from '../queue';
import * as render from './render';
import { mirrorCommand } from './mirror-command';
import { webCommand } from './web-command';
import { recurringCommand, unlockCommand } from './recurring-command';
import { taskDetail } from '../queries';
import { STATES, isState, isFinal } from '../states';
import {
  CliError, EXIT_USAGE, COMMANDS, SUPERVISE, RECOVER, RESTART_OPTIONS, Invocation, usage, commandHelp, givenFlags,
  intOpt, numOpt, workerOpts, workerArgv, dirs,
} from './parse';
import { appPath, loadApp, withQueue, ready, closeSoon } from './app';
import { runWorker } from './runner';
import { startWorkers, stopWorkers, runningUids, supervisorArgs, launcher } from './daemon';
import { supervise } from './supervisor';
import { releaseDeadWorker, deadWorkersOf } from './recover';
import { generate } from './generator';

export const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);

export async function dispatch(inv: Invocation, argv: string[]): Promise<number> {
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
        return await runWorker(queue, { uid: w.uid ?? null, queues: w.queues, concurrency: w.concurrency, prefetch: w.prefetch, graceMs: w.graceS * 1000,
          maxMemoryMb: w.maxMemoryMb, mirror: w.mirror, log: w.log, quiet: w.quiet, force: Boolean(o.force) });
      } finally { await closeSoon(queue); }
    }
    case SUPERVISE: {
      const uid = intOpt(o, 'uid', 1) as number;
      const rest = argv.filter((a) => a !== SUPERVISE && !a.startsWith('--uid=') && !a.startsWith('--pid-dir='));
      return supervise({ uid, pidDir: dirs(o).pidDir, launcher: launcher(), workerArgs: rest });
    }
    case RECOVER:
      return recoverCommand(o.name === undefined ? undefined : String(o.name), intOpt(o, 'uid', 1), o);
    case 'start':
    case 'restart':
      return startCommand(command, inv, argv);
    case 'stop': {
      const killAfter = numOpt(o, 'kill-after', 0);
      await stopWorkers({ pidDir: dirs(o).pidDir, uid: intOpt(o, 'uid', 1), killAfterMs: killAfter === undefined ? undefined : killAfter * 1000, launcher: launcher() }, out);
      return 0;
    }
    case 'status':
      return withQueue(o, async (q) => { out(await render.status(q, { json: Boolean(o.json), pidDir: dirs(o).pidDir })); return 0; });
    case 'pause':
    case 'resume':
      return withQueue(o, async (q) => {
        await (command === 'pause' ? q.pause(positional[0]) : q.resume(positional[0]));
        out(`${command === 'pause' ? 'paused' : 'resumed'} queue ${positional[0]}`);
        return 0;
      });
    case 'ls': {
      const limit = intOpt(o, 'limit', 1, 100000) ?? 20;
      const state = o.state === undefined ? undefined : String(o.state);
      if (state !== undefined && !isState(state)) throw new CliError(`--state must be one of ${STATES.join(', ')} (got '${state}')`, EXIT_USAGE);
      const queue = o.queue === undefined ? undefined : String(o.queue);
      return withQueue(o, async (q) => { out(await render.list(q, { state, queue, limit, json: Boolean(o.json) })); return 0; });
    }
    case 'inspect':
    case 'retry':
    case 'cancel':
      return taskCommand(command, taskId(positional[0]), inv);
    case 'migrate':
      return withQueue(o, async (q) => {
        if (!q.sequelize) throw new CliError('migrate needs a queue set up with a sequelize instance (setup({ sequelize, ... }))');
        out((await q.migrate()).summary);
        return 0;
      });
    case 'mirror':
      return withQueue(o, (q) => mirrorCommand(q, out));
    case 'recurring':
      return withQueue(o, (q) => recurringCommand(q, { remove: o.remove === undefined ? undefined : String(o.remove), json: Boolean(o.json) }, out));
    case 'unlock':
      return withQueue(o, (q) => unlockCommand(q, positional[0], o.queue === undefined ? undefined : String(o.queue), out));
    case 'web': {
      const port = intOpt(o, 'port', 0, 65535);
      const host = o.host === undefined ? undefined : String(o.host);
      return withQueue(o, (q) => webCommand(q, { port, host, readOnly: Boolean(o['read-only']) }, out));
    }
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

async function startCommand(command: 'start' | 'restart', inv: Invocation, argv: string[]): Promise<number> {
  const o = inv.opts;
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
  const force = o.force ? ['--force'] : [];
  if (command === 'restart') {
    const killAfter = numOpt(o, 'kill-after', 0);
    const running = runningUids(d.pidDir, out);
    const runs = w.uid === undefined ? running.length > 0 : running.some((f) => f.uid === w.uid);
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
    if (runs) await stopWorkers({ pidDir: d.pidDir, uid: w.uid, killAfterMs: killAfter === undefined ? undefined : killAfter * 1000, launcher: launcher() }, out);
    else out(`${w.uid !== undefined ? `async${w.uid} is not running` : `no workers running (pid files in ${d.pidDir})`}: starting ${uids.map((u) => `async${u}`).join(', ')}`);
    // One start per set of options (uids started together share one).
    for (const g of groups.values()) await startWorkers({ ...d, uids: g.uids, launcher: launcher(), workerArgs: [...g.args, ...force] }, out);
    return 0;
  }
  const count = n ?? 1;
  let uids: number[];
  if (w.uid !== undefined) uids = Array.from({ length: count }, (_, i) => (w.uid as number) + i);
  else {
    const highest = Math.max(0, ...runningUids(d.pidDir, out).map((f) => f.uid));
    uids = Array.from({ length: count }, (_, i) => highest + 1 + i);
  }
  await startWorkers({ ...d, uids, launcher: launcher(), workerArgs: [...fresh(), ...force] }, out);
  return 0;
}

async function taskCommand(command: string, id: number, inv: Invocation): Promise<number> {
  return withQueue(inv.opts, async (q) => {
    const detail = await taskDetail(q.internals, id);
    if (!detail) throw new CliError(`task ${id} not found (prefix ${q.prefix})`);
    const { task } = detail;
    if (command === 'inspect') { out(render.inspect(detail, Boolean(inv.opts.json))); return 0; }
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

/** `__recover --name=W` (the supervisor, its worker died) or `--uid=N` (`stop` killed it): releases dead workers. */
async function recoverCommand(name: string | undefined, uid: number | undefined, o: Invocation['opts']): Promise<number> {
  const queue = await loadApp(o);
  try {
    await ready(queue);
    const names = name !== undefined ? [name] : uid !== undefined ? (await deadWorkersOf(queue, uid)).map((e) => e.name) : [];
    if (names.length === 0) { out(`async${uid}: no dead worker of this host in Redis to release`); return 0; }
    for (const n of names) {
      const r = await releaseDeadWorker(queue, n);
      const line = `released the tasks of ${n}: ${r.recovered} queued again, ${r.failed} failed (past their stall limit or cancelled)`;
      // Its output goes to the worker's log (from the supervisor) or to `stop`'s.
      out(o.log === 'json' ? JSON.stringify({ time: new Date().toISOString(), level: 'info', worker: n, event: 'released', recovered: r.recovered, failed: r.failed, msg: line }) : line);
    }
    return 0;
  } finally { await closeSoon(queue); }
}

function taskId(s: string): number {
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s)) || Number(s) < 1) throw new CliError(`task id must be a positive whole number (got '${s}')`, EXIT_USAGE);
  return Number(s);
}
