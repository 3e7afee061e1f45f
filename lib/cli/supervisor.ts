// The supervisor `start` leaves running per uid (detached, output in the worker's log): runs
// `run` as its child and restarts it after EXIT_MEMORY at once and after a crash with a growing
// pause. When its worker dies (a crash, kill -9), a short `__recover` process releases the dead
// worker's tasks and presence entry at once (lib/cli/recover.ts), while the restart waits out
// its pause: the supervisor does not load the app itself.
import { spawn, ChildProcess } from 'child_process';
import { unlinkSync } from 'fs';
import { pidPath, readPidFile } from './daemon';
import { EXIT_MEMORY, RECOVER } from './parse';

export interface SuperviseOptions { uid: number; pidDir: string; launcher: string[]; workerArgs: string[] }

/**
 * Exits when the worker exits cleanly, when told to stop (SIGTERM/SIGINT: the worker is asked
 * over its IPC channel, so a group signal that reached it too stays one request), when the very
 * first worker dies before it was ready (a broken app is reported by `start`, not looped on), or
 * when the `start` that launched it goes away before the worker was ready (interrupted).
 */
export function supervise(o: SuperviseOptions): Promise<number> {
  // The worker's log file is the supervisor's too: with --log=json its lines are JSON as well.
  const json = o.workerArgs.includes('--log=json');
  const say = (l: string) => process.stdout.write(json
    ? `${JSON.stringify({ time: new Date().toISOString(), level: 'info', worker: `async${o.uid}`, supervisor: process.pid, msg: l })}\n`
    : `${new Date().toISOString()} supervisor[${process.pid}] async${o.uid}: ${l}\n`);
  const pidFile = pidPath(o.pidDir, o.uid);
  let child: ChildProcess | null = null;
  let childReady = false;
  let stopping = false;
  let everReady = false;
  let crashes = 0;
  let startedAt = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  // --force takes over a uid once, at the first start; a restarted worker must not stop another.
  let args = o.workerArgs;
  return new Promise<number>((resolveExit) => {
    const finish = (code: number) => {
      if (readPidFile(pidFile) === process.pid) { try { unlinkSync(pidFile); } catch { /* gone */ } }
      say(`exiting (${code})`);
      resolveExit(code);
    };
    const run = () => {
      startedAt = Date.now();
      childReady = false;
      child = spawn(process.execPath, [...o.launcher, 'run', `--uid=${o.uid}`, ...args], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ASYNC_SUPERVISOR_PID: String(process.pid) },
      });
      const pid = child.pid;
      let name: string | null = null;
      say(`worker pid ${pid} starting`);
      child.on('message', (m: { type?: string; name?: string }) => {
        if (m?.type !== 'ready') return;
        everReady = true;
        childReady = true;
        name = m.name ?? null;
        args = args.filter((a) => a !== '--force');
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
        if (name) release(name);
        if (Date.now() - startedAt > 60000) crashes = 0;
        const delay = Math.min(30000, 1000 * 2 ** crashes++);
        say(`worker pid ${pid} died (${how}); restarting in ${delay / 1000} s`);
        restartTimer = setTimeout(run, delay);
      });
    };
    // The dead worker's tasks go back to the queue now, not when their leases run out.
    const release = (name: string) => {
      say(`releasing the tasks of ${name}`);
      const r = spawn(process.execPath, [...o.launcher, RECOVER, `--name=${name}`, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
      r.on('exit', (code) => { if (code !== 0) say(`could not release the tasks of ${name} (exit ${code}); they come back when their leases expire`); });
    };
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      clearTimeout(restartTimer);
      say(`${why}: stopping the worker`);
      if (!child) return finish(0);
      if (childReady && child.connected) child.send({ type: 'stop', signal: 'SIGTERM' });
      else child.kill('SIGTERM');
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => undefined);
    // After ready, `start` lets go of us on purpose; before, its channel closing means it was
    // interrupted or killed: nothing it started may stay behind.
    process.on('disconnect', () => { if (!everReady) stop('start went away before the worker was ready'); });
    run();
  });
}
