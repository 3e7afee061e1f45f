// Background workers without external tools (the seed's daemons gem and god config):
// `start` spawns a detached supervisor per uid, which runs the worker (`run`) as its child and
// restarts it after a memory-limit exit or a crash. The pid file holds the supervisor's pid;
// `stop` sends it SIGTERM, it forwards the signal and waits for the worker's graceful exit.
import { spawn, ChildProcess } from 'child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, writeFileSync, unlinkSync, realpathSync } from 'fs';
import { join, resolve } from 'path';
import { EXIT_MEMORY } from './runner';

export interface DaemonDirs { pidDir: string; logDir: string }

export interface PidFile { uid: number; pid: number | null; path: string }

/** Marks our supervisor in a process's command line, so a reused pid is not mistaken for it. */
export const SUPERVISE = '__supervise';

export const pidPath = (dir: string, uid: number) => join(dir, `async${uid}.pid`);
export const logPath = (dir: string, uid: number) => join(dir, `async${uid}.log`);

export type Say = (line: string) => void;

export function readPidFile(path: string): number | null {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch { return null; }
}

/** Every asyncN.pid in the directory, by uid. */
export function pidFiles(dir: string): PidFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => /^async(\d+)\.pid$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ uid: Number(m[1]), path: join(dir, m[0]), pid: readPidFile(join(dir, m[0])) }))
    .sort((a, b) => a.uid - b.uid);
}

/** The process exists and is not a zombie (a container's pid 1 may never reap our orphans). */
export function alive(pid: number): boolean {
  try { process.kill(pid, 0); } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch { return true; }
}

/** Alive and running our supervisor (where /proc says; elsewhere being alive has to do). */
export function isSupervisor(pid: number): boolean {
  if (!alive(pid)) return false;
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(SUPERVISE); } catch { return true; }
}

/**
 * The worker arguments a running supervisor was started with (its command line after SUPERVISE,
 * less --uid and --pid-dir), so `restart` can start it again the same way; null where /proc
 * cannot tell.
 */
export function supervisorArgs(pid: number): string[] | null {
  try {
    const a = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const i = a.indexOf(SUPERVISE);
    if (i < 0) return null;
    return a.slice(i + 1).filter((x) => x !== '' && !x.startsWith('--uid=') && !x.startsWith('--pid-dir='));
  } catch { return null; }
}

/** Removes a pid file whose process is gone; says so. Returns whether the worker runs. */
export function checkPidFile(f: PidFile, say: Say): boolean {
  if (f.pid !== null && isSupervisor(f.pid)) return true;
  try { unlinkSync(f.path); } catch { /* already gone */ }
  say(`async${f.uid}: removed stale pid file ${f.path} (${f.pid === null ? 'unreadable' : `pid ${f.pid} is not running`})`);
  return false;
}

/** Uids with a live supervisor, stale pid files cleaned on the way. */
export function runningUids(dir: string, say: Say): PidFile[] {
  return pidFiles(dir).filter((f) => checkPidFile(f, say));
}

export interface StartOptions extends DaemonDirs {
  uids: number[];
  /** How to run this CLI again: the node binary's arguments before the command. */
  launcher: string[];
  /** Arguments for `run` (everything but --uid), already validated. */
  workerArgs: string[];
  /** How long to wait for each worker to report ready (ms). */
  readyTimeoutMs?: number;
}

export interface Started { uid: number; pid: number; workerPid: number; log: string }

/** The command that runs this CLI again (script and node flags), for supervisors and workers. */
export function launcher(): string[] {
  const script = process.argv[1] ? realpathSync(resolve(process.argv[1])) : resolve(__dirname, '..', '..', 'scripts', 'async.js');
  return [...process.execArgv, script];
}

function lastLines(path: string, n: number): string {
  try { return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-n).join('\n'); } catch { return ''; }
}

/** Starts one supervisor per uid and waits until each worker reports ready; throws naming the failures. */
export async function startWorkers(o: StartOptions, say: Say): Promise<Started[]> {
  mkdirSync(o.pidDir, { recursive: true });
  mkdirSync(o.logDir, { recursive: true });
  for (const uid of o.uids) {
    const f = { uid, path: pidPath(o.pidDir, uid), pid: readPidFile(pidPath(o.pidDir, uid)) };
    if (existsSync(f.path) && checkPidFile(f, say)) throw new Error(`async${uid} is already running (pid ${f.pid}, pid file ${f.path}); stop it first or use restart`);
  }
  const results = await Promise.allSettled(o.uids.map((uid) => startOne(uid, o)));
  const started: Started[] = [];
  const failed: string[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') {
      started.push(r.value);
      say(`started async${r.value.uid} (pid ${r.value.pid}, worker pid ${r.value.workerPid}), log ${r.value.log}`);
    } else failed.push(`async${o.uids[i]}: ${(r.reason as Error).message}`);
  });
  if (failed.length) throw new Error(`could not start ${failed.length === 1 ? 'a worker' : `${failed.length} workers`}:\n${failed.join('\n')}`);
  return started;
}

function startOne(uid: number, o: StartOptions): Promise<Started> {
  const log = logPath(o.logDir, uid);
  const pidFile = pidPath(o.pidDir, uid);
  const fd = openSync(log, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...o.launcher, SUPERVISE, `--uid=${uid}`, `--pid-dir=${o.pidDir}`, ...o.workerArgs], {
      detached: true, stdio: ['ignore', fd, fd, 'ipc'], cwd: process.cwd(), env: process.env,
    });
  } finally { closeSync(fd); }
  const pid = child.pid as number;
  try {
    writeFileSync(pidFile, `${pid}\n`, { flag: 'wx' });
  } catch (e) {
    child.kill('SIGKILL');
    return Promise.reject(new Error(`${pidFile} appeared meanwhile (${(e as Error).message}): another start of async${uid} is running`));
  }
  return new Promise<Started>((res, rej) => {
    const timer = setTimeout(() => {
      done();
      try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
      try { unlinkSync(pidFile); } catch { /* gone */ }
      rej(new Error(`no ready signal within ${(o.readyTimeoutMs ?? 60000) / 1000} s; killed it. Last lines of ${log}:\n${lastLines(log, 15)}`));
    }, o.readyTimeoutMs ?? 60000);
    const onExit = (code: number | null, signal: string | null) => {
      done();
      if (readPidFile(pidFile) === pid) { try { unlinkSync(pidFile); } catch { /* gone */ } }
      rej(new Error(`exited before it was ready (${signal ?? `code ${code}`}). Last lines of ${log}:\n${lastLines(log, 15)}`));
    };
    const onMessage = (m: { type?: string; workerPid?: number }) => {
      if (m?.type !== 'ready') return;
      done();
      child.disconnect();
      child.unref();
      res({ uid, pid, workerPid: m.workerPid as number, log });
    };
    const done = () => { clearTimeout(timer); child.off('exit', onExit); child.off('message', onMessage); };
    child.on('exit', onExit);
    child.on('message', onMessage);
  });
}

export interface StopOptions { pidDir: string; uid?: number; killAfterMs?: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM to each supervisor (one uid, or all), then waits for them to exit; SIGKILL after killAfterMs. */
export async function stopWorkers(o: StopOptions, say: Say): Promise<number[]> {
  let files = pidFiles(o.pidDir);
  if (o.uid !== undefined) {
    files = files.filter((f) => f.uid === o.uid);
    if (files.length === 0) { say(`async${o.uid} is not running (no pid file ${pidPath(o.pidDir, o.uid)})`); return []; }
  }
  const live = files.filter((f) => checkPidFile(f, say));
  if (live.length === 0) {
    if (o.uid === undefined) say(`no workers running (pid files in ${o.pidDir})`);
    return [];
  }
  await Promise.all(live.map(async (f) => {
    const pid = f.pid as number;
    try { process.kill(pid, 'SIGTERM'); } catch { /* exited meanwhile */ }
    say(`stopping async${f.uid} (pid ${pid})${o.killAfterMs !== undefined ? `, kill after ${o.killAfterMs / 1000} s` : ''}`);
    const until = o.killAfterMs !== undefined ? Date.now() + o.killAfterMs : Infinity;
    while (alive(pid) && Date.now() < until) await sleep(50);
    if (alive(pid)) {
      // The whole process group: the supervisor and its worker. Their running tasks come back
      // when their leases expire.
      try { process.kill(-pid, 'SIGKILL'); } catch { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      while (alive(pid)) await sleep(20);
      say(`killed async${f.uid} (pid ${pid}) after ${(o.killAfterMs as number) / 1000} s`);
    } else say(`stopped async${f.uid} (pid ${pid})`);
    if (readPidFile(f.path) === pid) { try { unlinkSync(f.path); } catch { /* removed by the supervisor */ } }
  }));
  return live.map((f) => f.uid);
}

export interface SuperviseOptions { uid: number; pidDir: string; launcher: string[]; workerArgs: string[] }

/**
 * The supervisor (runs detached, output in the worker's log): runs `run` as its child, restarts
 * it after EXIT_MEMORY at once and after a crash with a growing pause; exits when the worker
 * exits cleanly, when told to stop (SIGTERM/SIGINT, passed on to the worker), or when the very
 * first worker dies before it was ready (a broken app is reported by `start`, not looped on).
 */
export function supervise(o: SuperviseOptions): Promise<number> {
  const say = (l: string) => process.stdout.write(`${new Date().toISOString()} supervisor[${process.pid}] async${o.uid}: ${l}\n`);
  const pidFile = pidPath(o.pidDir, o.uid);
  let child: ChildProcess | null = null;
  let stopping = false;
  let everReady = false;
  let crashes = 0;
  let startedAt = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  return new Promise<number>((resolveExit) => {
    const finish = (code: number) => {
      if (readPidFile(pidFile) === process.pid) { try { unlinkSync(pidFile); } catch { /* gone */ } }
      say(`exiting (${code})`);
      resolveExit(code);
    };
    const run = () => {
      startedAt = Date.now();
      child = spawn(process.execPath, [...o.launcher, 'run', `--uid=${o.uid}`, ...o.workerArgs], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ASYNC_SUPERVISOR_PID: String(process.pid) },
      });
      const pid = child.pid;
      say(`worker pid ${pid} starting`);
      child.on('message', (m: { type?: string }) => {
        if (m?.type !== 'ready') return;
        everReady = true;
        if (process.send && process.connected) {
          process.send({ type: 'ready', workerPid: pid });
          process.disconnect();
        }
      });
      child.on('exit', (code, signal) => {
        child = null;
        const how = signal ? `signal ${signal}` : `code ${code}`;
        if (stopping) { say(`worker pid ${pid} stopped (${how})`); return finish(code === null ? 1 : code); }
        if (code === 0) { say(`worker pid ${pid} exited cleanly`); return finish(0); }
        if (!everReady) { say(`worker pid ${pid} failed before it was ready (${how}); not restarting`); return finish(code || 1); }
        if (code === EXIT_MEMORY) {
          crashes = 0;
          say(`worker pid ${pid} passed its memory limit; restarting`);
          return run();
        }
        if (Date.now() - startedAt > 60000) crashes = 0;
        const delay = Math.min(30000, 1000 * 2 ** crashes++);
        say(`worker pid ${pid} died (${how}); restarting in ${delay / 1000} s`);
        restartTimer = setTimeout(run, delay);
      });
    };
    const stop = (sig: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      clearTimeout(restartTimer);
      say(`${sig}: stopping the worker`);
      if (child) child.kill('SIGTERM'); else finish(0);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGHUP', () => undefined);
    // `start` may exit before us; its channel going away must not end us.
    process.on('disconnect', () => undefined);
    run();
  });
}
