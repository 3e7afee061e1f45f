// One worker process (`scripts/async.js run`, and what `start` runs under its supervisor): a
// worker on the app's queue, a log line per finished task, presence in Redis, graceful
// SIGTERM/SIGINT, and the memory limit (exit EXIT_MEMORY so a supervisor restarts it).
import { hostname } from 'os';
import type { FinishedTaskEvent } from '../types';
import type { Queue } from './queue';
import { Presence } from './presence';

/** Exit code of a worker that passed --max-memory: its supervisor restarts it at once. */
export const EXIT_MEMORY = 75;

export interface RunOptions {
  uid: number | null;
  queues?: string[];
  concurrency?: number;
  prefetch?: number | 'auto';
  graceMs: number;
  maxMemoryMb?: number;
  mirror?: boolean;
}

export interface Log { info(line: string): void; error(line: string): void }

const stamp = () => new Date().toISOString();

export function consoleLog(): Log {
  return {
    info: (l) => process.stdout.write(`${stamp()} ${l}\n`),
    error: (l) => process.stderr.write(`${stamp()} ${l}\n`),
  };
}

/** The seed's line: SUCCESS/FAILURE, id, Type(id)#action, duration, and the error of a failure. */
export function taskLine(ev: FinishedTaskEvent, colour: boolean): string {
  const paint = (code: number, s: string) => (colour ? `\x1b[${code}m${s}\x1b[0m` : s);
  const label = ev.objectId !== null ? `${ev.objectType}(${ev.objectId})#${ev.action}` : `${ev.objectType}#${ev.action}`;
  const status = ev.success ? paint(32, 'SUCCESS') : paint(31, 'FAILURE');
  let line = `${status} ${ev.id} ${ev.queue !== 'default' ? `[${ev.queue}] ` : ''}${label} ${Math.round(ev.durationMs)} ms`;
  if (ev.attempt > 1) line += ` (attempt ${ev.attempt})`;
  if (!ev.success && ev.error) line += ` ${ev.error.name || 'Error'}: ${String(ev.error.message).split('\n')[0]}`;
  return line;
}

function memoryCheckInterval(): number {
  const n = Number(process.env.ASYNC_MEMORY_CHECK_MS || 1000);
  return Number.isFinite(n) && n >= 10 ? n : 1000;
}

/**
 * Runs a worker until SIGTERM/SIGINT (exit 0), the memory limit (EXIT_MEMORY), or the loss of
 * the supervisor that started it. Resolves with the exit code once everything is handed back.
 */
export async function runWorker(queue: Queue, o: RunOptions, log: Log = consoleLog()): Promise<number> {
  const host = hostname();
  const name = o.uid !== null ? `async${o.uid}@${host}:${process.pid}` : `${host}:${process.pid}`;
  const worker = queue.worker({
    name,
    ...(o.queues ? { queues: o.queues } : {}),
    ...(o.concurrency ? { concurrency: o.concurrency } : {}),
    ...(o.prefetch !== undefined ? { prefetch: o.prefetch } : {}),
    ...(o.mirror !== undefined ? { mirror: o.mirror } : {}),
  });
  const colour = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
  worker.on('task', (ev) => log.info(taskLine(ev, colour)));
  worker.on('error', (err) => log.error(`worker error: ${err.message}`));
  const supervisor = Number(process.env.ASYNC_SUPERVISOR_PID) || null;
  const presence = new Presence(queue.redis, queue.prefix,
    { name, uid: o.uid, pid: process.pid, supervisor, queues: worker.queues, concurrency: worker.concurrency }, worker);

  let exitCode = 0;
  let stopping: Promise<number> | null = null;
  // Settles on the first shutdown, whatever started it.
  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((r) => { finish = r; });
  let memTimer: NodeJS.Timeout | undefined;
  const shutdown = (why: string, code: number): Promise<number> => {
    if (stopping) return stopping;
    exitCode = code;
    clearInterval(memTimer);
    const running = worker.stats.running;
    log.info(`${why}: stopping ${name}; ${running} running task(s) get up to ${o.graceMs / 1000} s to finish`);
    const graceTimer = setTimeout(() => {
      if (worker.stats.running > 0) log.info(`grace over: handing ${worker.stats.running} running task(s) back to the queue`);
    }, o.graceMs);
    stopping = (async () => {
      await presence.stopping();
      await worker.stop({ graceMs: o.graceMs });
      clearTimeout(graceTimer);
      await presence.stop().catch((e: Error) => log.error(`could not remove the presence entry: ${e.message}`));
      log.info(`stopped ${name} (done ${worker.stats.done}, failed ${worker.stats.failed})`);
      return exitCode;
    })();
    stopping.then(finish, (err: Error) => { log.error(`shutdown failed: ${err.stack ?? err.message}`); finish(1); });
    return stopping;
  };

  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) {
      // A second signal means "now": running tasks stay claimed until their lease runs out
      // and another worker's sweep picks them up again.
      log.error(`second ${sig}: exiting at once, running tasks are recovered when their lease expires`);
      process.exit(130);
    }
    shutdown(sig, 0);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Started by a supervisor that has gone away (killed): stop rather than run on unwatched.
  if (process.send) process.on('disconnect', () => shutdown('supervisor gone', 0));

  await worker.start();
  await presence.start((e) => log.error(`heartbeat failed: ${e.message}`));
  log.info(`worker ${name} started: queues ${worker.queues.join(',')}, concurrency ${worker.concurrency}, prefetch ${worker.prefetch}`
    + (o.maxMemoryMb ? `, memory limit ${o.maxMemoryMb} MB` : '') + ` (prefix ${queue.prefix})`);
  if (o.maxMemoryMb) {
    const limit = o.maxMemoryMb * 1024 * 1024;
    memTimer = setInterval(() => {
      const rss = process.memoryUsage().rss;
      if (rss > limit) shutdown(`memory limit: rss ${Math.round(rss / 1048576)} MB > ${o.maxMemoryMb} MB`, EXIT_MEMORY);
    }, memoryCheckInterval());
  }
  if (process.send) process.send({ type: 'ready', pid: process.pid, name });

  return done;
}
