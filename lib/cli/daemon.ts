// Background workers without external tools (the seed's daemons gem and god config):
// `start` spawns a detached supervisor per uid, which runs the worker (`run`) as its child and
// restarts it after a memory-limit exit or a crash. The pid file holds the supervisor's pid;
// `stop` sends it SIGTERM, it asks the worker to stop and waits for its graceful exit; past a
// bound (grace plus a margin) `stop` kills the group and has the worker's tasks released. The
// supervisor itself is lib/cli/supervisor.ts.
import { spawn, spawnSync, ChildProcess } from 'child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, writeFileSync, unlinkSync, realpathSync } from 'fs';
import { join, resolve } from 'path';
import { SUPERVISE, RECOVER, CliError } from './parse';
import { packagePath } from '../paths';

export interface DaemonDirs { pidDir: string; logDir: string }

export interface PidFile { uid: number; pid: number | null; path: string }

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
  const script = process.argv[1] ? realpathSync(resolve(process.argv[1])) : packagePath('scripts', 'async.js');
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
  // Interrupted (Ctrl-C, `timeout`) before the workers are ready: stop what was started. (Killed
  // outright, the supervisors notice the channel to us closing before ready and stop themselves.)
  const children = new Map<number, ChildProcess>();
  let interrupting = false;
  const interrupted = async (sig: NodeJS.Signals) => {
    if (interrupting) return;
    interrupting = true;
    say(`${sig}: interrupted; stopping the worker(s) it started`);
    await Promise.all([...children].map(async ([uid, c]) => {
      const pid = c.pid as number;
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
      const until = Date.now() + 10000;
      while (alive(pid) && Date.now() < until) await sleep(50);
      try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
      if (readPidFile(pidPath(o.pidDir, uid)) === pid) { try { unlinkSync(pidPath(o.pidDir, uid)); } catch { /* gone */ } }
      say(`stopped async${uid} (pid ${pid})`);
    }));
    process.exit(130);
  };
  process.on('SIGINT', interrupted);
  process.on('SIGTERM', interrupted);
  process.on('SIGHUP', interrupted);
  const results = await Promise.allSettled(o.uids.map((uid) => startOne(uid, o, (c) => children.set(uid, c))));
  process.off('SIGINT', interrupted);
  process.off('SIGTERM', interrupted);
  process.off('SIGHUP', interrupted);
  // Interrupted: the handler reports and exits (130) once what it started is gone.
  if (interrupting) await new Promise(() => undefined);
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

function startOne(uid: number, o: StartOptions, spawned: (c: ChildProcess) => void): Promise<Started> {
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
  spawned(child);
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

export interface StopOptions { pidDir: string; uid?: number; killAfterMs?: number; launcher?: string[] }

/** Beyond the worker's grace, how long `stop` waits before it kills (the worker's own bound on Redis is 3 s). */
export const STOP_MARGIN_MS = 15000;

/** The --grace a running supervisor passed to its worker (its command line), in ms. */
function graceOf(pid: number): number {
  const g = supervisorArgs(pid)?.find((a) => a.startsWith('--grace='));
  const n = g ? Number(g.slice('--grace='.length)) : NaN;
  return Number.isFinite(n) && n >= 0 ? n * 1000 : 30000;
}

/** Runs `__recover --uid=N` with the supervisor's app arguments: releases the tasks of that uid's dead workers. */
function recover(uid: number, args: string[] | null, launch: string[] | undefined, say: Say): void {
  if (!args || !launch) { say(`async${uid}: its tasks come back when their leases expire`); return; }
  // Its answer is for this terminal: text whatever the worker's --log.
  const r = spawnSync(process.execPath, [...launch, RECOVER, `--uid=${uid}`, ...args.filter((a) => !a.startsWith('--log='))], { encoding: 'utf8', timeout: 30000 });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  say(r.status === 0 && text ? text : `async${uid}: could not release its tasks (${text || r.error?.message || `exit ${r.status}`}); they come back when their leases expire`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM to each supervisor (one uid, or all), then waits for them to exit; SIGKILL after killAfterMs. */
export async function stopWorkers(o: StopOptions, say: Say): Promise<number[]> {
  let files = pidFiles(o.pidDir);
  if (o.uid !== undefined) {
    files = files.filter((f) => f.uid === o.uid);
    if (files.length === 0) throw new CliError(`async${o.uid} is not running (no pid file ${pidPath(o.pidDir, o.uid)})`);
  }
  const live = files.filter((f) => checkPidFile(f, say));
  if (live.length === 0) {
    if (o.uid !== undefined) throw new CliError(`async${o.uid} is not running`);
    say(`no workers running (pid files in ${o.pidDir})`);
    return [];
  }
  await Promise.all(live.map(async (f) => {
    const pid = f.pid as number;
    const args = supervisorArgs(pid);
    const killAfterMs = o.killAfterMs ?? graceOf(pid) + STOP_MARGIN_MS;
    try { process.kill(pid, 'SIGTERM'); } catch { /* exited meanwhile */ }
    say(`stopping async${f.uid} (pid ${pid}); SIGKILL after ${killAfterMs / 1000} s${o.killAfterMs === undefined ? ' (its grace + 15 s; --kill-after to change)' : ''}`);
    const until = Date.now() + killAfterMs;
    while (alive(pid) && Date.now() < until) await sleep(50);
    if (alive(pid)) {
      // The whole process group: the supervisor and its worker; then their tasks are released.
      try { process.kill(-pid, 'SIGKILL'); } catch { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      while (alive(pid)) await sleep(20);
      say(`killed async${f.uid} (pid ${pid} and its worker, SIGKILL) after ${killAfterMs / 1000} s`);
      recover(f.uid, args, o.launcher, say);
    } else say(`stopped async${f.uid} (pid ${pid})`);
    if (readPidFile(f.path) === pid) { try { unlinkSync(f.path); } catch { /* removed by the supervisor */ } }
  }));
  return live.map((f) => f.uid);
}

