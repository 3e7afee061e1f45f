// One worker process (`scripts/async.js run`, and what `start` runs under its supervisor): a
// worker on the app's queue, its log (lib/cli/log.ts), presence in Redis, one worker per uid and
// host, graceful SIGTERM/SIGINT (lib/cli/signals.ts), and the memory limit (exit EXIT_MEMORY so
// a supervisor restarts it). A shutdown never waits on Redis for ever: what cannot be handed back
// within the bound is left to its lease, and the log says so.
import { hostname } from 'os';
import type { Queue } from '../queue';
import { Presence, listWorkers, PresenceEntry } from '../presence';
import { RedisUnreachableError } from '../errors';
import { addressOf } from '../redis';
import { createLog, Log, Summary, summaryInterval } from './log';
import { onShutdownRequests } from './signals';
import { ready, databaseError } from './app';
import { CliError, EXIT_MEMORY } from './parse';
import { alive } from './daemon';
import { releaseDeadWorker } from './recover';

/** How long a stopping worker waits on Redis beyond the grace before it leaves the rest to the leases. */
export const REDIS_WAIT_MS = 3000;

export interface RunOptions {
  uid: number | null;
  queues?: string[];
  concurrency?: number;
  prefetch?: number | 'auto';
  graceMs: number;
  maxMemoryMb?: number;
  mirror?: boolean;
  log?: 'text' | 'json';
  quiet?: boolean;
  /** Take over the uid from a live worker of this host (stopped first). */
  force?: boolean;
}

function memoryCheckInterval(): number {
  const n = Number(process.env.ASYNC_MEMORY_CHECK_MS || 1000);
  return Number.isFinite(n) && n >= 10 ? n : 1000;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
/** Resolves true when p settles within ms, false when the time ran out first. */
const within = (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true, () => true), sleep(ms).then(() => false)]);

/**
 * Runs a worker until SIGTERM/SIGINT (exit 0), the memory limit (EXIT_MEMORY), or the loss of
 * the supervisor that started it. Resolves with the exit code once everything is handed back
 * (or left to the leases when Redis does not answer).
 */
export async function runWorker(queue: Queue, o: RunOptions, given?: Log): Promise<number> {
  const host = hostname();
  const name = o.uid !== null ? `async${o.uid}@${host}:${process.pid}` : `${host}:${process.pid}`;
  const colour = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
  const log = given ?? createLog({ format: o.log ?? 'text', quiet: Boolean(o.quiet), worker: name, colour });
  await ready(queue);
  if (o.uid !== null) await claimUid(queue, o.uid, Boolean(o.force), o.graceMs, log);

  const worker = queue.worker({
    name,
    ...(o.queues ? { queues: o.queues } : {}),
    ...(o.concurrency ? { concurrency: o.concurrency } : {}),
    ...(o.prefetch !== undefined ? { prefetch: o.prefetch } : {}),
    ...(o.mirror !== undefined ? { mirror: o.mirror } : {}),
  });
  const summary = new Summary();
  worker.on('task', (ev) => { summary.count(ev); log.task(ev); });
  worker.on('error', (err: Error) => {
    const db = databaseError(err, queue);
    if (db) log.error(`mirror: ${db}`, { error: err.name });
    // Redis going and coming back is logged once each from the connection below, not per failed command.
    else if (!(err instanceof RedisUnreachableError)) log.error(`worker error: ${err.message}`, { error: err.name });
  });
  let downAt = 0;
  queue.redis.on('close', () => {
    if (downAt || stopping) return;
    downAt = Date.now();
    log.error(`Redis at ${addressOf(queue.redis)} went away; retrying until it answers (running tasks carry on)`, { event: 'redis-down' });
  });
  queue.redis.on('ready', () => {
    if (!downAt) return;
    const downMs = Date.now() - downAt;
    downAt = 0;
    log.info(`Redis at ${addressOf(queue.redis)} answers again (down ${Math.round(downMs / 100) / 10} s)`, { event: 'reconnected', downMs });
  });
  const supervisor = Number(process.env.ASYNC_SUPERVISOR_PID) || null;
  const presence = new Presence(queue.redis, queue.prefix,
    { name, uid: o.uid, pid: process.pid, supervisor, queues: worker.queues, concurrency: worker.concurrency }, worker);

  let exitCode = 0;
  let stopping: Promise<number> | null = null;
  // Settles on the first shutdown, whatever started it.
  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((r) => { finish = r; });
  const timers: NodeJS.Timeout[] = [];
  const shutdown = (why: string, code: number): Promise<number> => {
    if (stopping) return stopping;
    exitCode = code;
    for (const t of timers) clearInterval(t);
    const running = worker.stats.running;
    log.info(`${why}: stopping ${name}; ${running} running task(s) get up to ${o.graceMs / 1000} s to finish`, { event: 'stopping', running });
    const graceTimer = setTimeout(() => {
      if (worker.stats.running > 0) log.info(`grace over: handing ${worker.stats.running} running task(s) back to the queue`);
    }, o.graceMs);
    stopping = (async () => {
      // Bounded: with nothing running only by the Redis wait, else by the grace plus that wait.
      const bound = (running > 0 ? o.graceMs : 0) + REDIS_WAIT_MS;
      const started = Date.now();
      const left = () => Math.max(0, bound - (Date.now() - started));
      const stopped = (async () => {
        await within(presence.stopping(), REDIS_WAIT_MS);
        await worker.stop({ graceMs: o.graceMs });
      })();
      const inTime = await within(stopped, bound);
      clearTimeout(graceTimer);
      if (!inTime) {
        const held = worker.stats.running;
        log.warn(`Redis did not answer within ${Math.round(bound / 1000)} s: exiting without handing back; `
          + `${held > 0 ? `${held} task(s) still leased to ${name} run again` : 'anything still leased to it runs again'} when the lease expires`, { event: 'abandoned', running: held });
      } else if (!await within(presence.stop(), Math.max(500, left()))) {
        log.warn('could not remove the presence entry (Redis did not answer): it expires by itself');
      }
      log.info(`stopped ${name} (done ${worker.stats.done}, failed ${worker.stats.failed})`, { event: 'stopped', done: worker.stats.done, failed: worker.stats.failed });
      return exitCode;
    })();
    stopping.then(finish, (err: Error) => { log.error(`shutdown failed: ${err.stack ?? err.message}`); finish(1); });
    return stopping;
  };

  onShutdownRequests({
    first: (why) => { shutdown(why, 0); },
    second: (sig) => {
      // A second, deliberate signal means "now": running tasks stay claimed until their lease
      // runs out and a sweep picks them up again.
      log.error(`second ${sig}: exiting at once, running tasks are recovered when their lease expires`);
      process.exit(130);
    },
  });
  // Started by a supervisor that has gone away (killed): stop rather than run on unwatched.
  if (process.send) process.on('disconnect', () => shutdown('supervisor gone', 0));

  await worker.start();
  await presence.start((e) => log.error(`heartbeat failed: ${e.message}`));
  log.info(`worker ${name} started: queues ${worker.queues.join(',')}, concurrency ${worker.concurrency}, prefetch ${worker.prefetch}`
    + (o.maxMemoryMb ? `, memory limit ${o.maxMemoryMb} MB` : '') + ` (prefix ${queue.prefix})`,
  { event: 'started', queues: worker.queues, concurrency: worker.concurrency, prefix: queue.prefix });
  if (o.maxMemoryMb) {
    const limit = o.maxMemoryMb * 1024 * 1024;
    timers.push(setInterval(() => {
      const rss = process.memoryUsage().rss;
      if (rss > limit) shutdown(`memory limit: rss ${Math.round(rss / 1048576)} MB > ${o.maxMemoryMb} MB`, EXIT_MEMORY);
    }, memoryCheckInterval()));
  }
  if (o.quiet) {
    const t = setInterval(async () => {
      const backlog = await backlogOf(queue, worker.queues);
      const s = summary.take(backlog);
      log.info(s.msg, s.fields);
    }, summaryInterval());
    t.unref();
    timers.push(t);
  }
  if (process.send) process.send({ type: 'ready', pid: process.pid, name });

  return done;
}

/** Tasks waiting (queued, due) in these queues, or null when Redis does not say within a second. */
async function backlogOf(queue: Queue, queues: string[]): Promise<number | null> {
  let n: number | null = null;
  const read = queue.stats().then((s) => { n = queues.reduce((a, q) => a + (s[q]?.queued ?? 0), 0); });
  return (await within(read, 1000)) ? n : null;
}

/**
 * One uid, one worker: refuses when a live worker of this host and prefix has the uid (named in
 * the error), unless force, which stops that one (its supervisor, so it does not come back) first.
 */
async function claimUid(queue: Queue, uid: number, force: boolean, graceMs: number, log: Log): Promise<void> {
  const me = hostname();
  const mine = Number(process.env.ASYNC_SUPERVISOR_PID) || null;
  const others = (await listWorkers(queue.redis, queue.prefix)).filter((e) => e.host === me && e.uid === uid
    && e.pid !== process.pid && alive(e.pid) && (e.supervisor === null || e.supervisor !== mine));
  if (others.length === 0) return;
  const desc = (e: PresenceEntry) => `${e.name} (pid ${e.pid}${e.supervisor ? `, supervisor pid ${e.supervisor}` : ''}, prefix ${queue.prefix})`;
  if (!force) {
    throw new CliError(`uid ${uid} is taken: ${others.map(desc).join(', ')} runs on this host. Stop it first `
      + `(node scripts/async.js stop --uid=${uid}, with its --pid-dir), or give --force to stop it and take over`);
  }
  for (const e of others) {
    const target = e.supervisor !== null && alive(e.supervisor) ? e.supervisor : e.pid;
    log.info(`--force: stopping ${desc(e)} to take over uid ${uid}`);
    try { process.kill(target, 'SIGTERM'); } catch { /* gone meanwhile */ }
    const until = Date.now() + graceMs + 15000;
    while ((alive(e.pid) || alive(target)) && Date.now() < until) await sleep(50);
    if (alive(e.pid) || alive(target)) {
      for (const p of [target, e.pid]) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
      const r = await releaseDeadWorker(queue, e.name);
      log.info(`--force: ${e.name} did not stop within ${Math.round((graceMs + 15000) / 1000)} s: killed it; released its tasks (${r.recovered} queued again, ${r.failed} failed)`);
    } else log.info(`--force: ${e.name} stopped`);
  }
}
