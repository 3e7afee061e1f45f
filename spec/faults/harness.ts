// Worker processes for the fault specs: start, kill -9, SIGTERM, and kill whatever is left.
import { spawn, execFileSync, ChildProcess } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

const ROOT = join(__dirname, '..', '..');

// Bundled once per run with esbuild (tsx's own): a worker then starts in ~0.7 s of CPU instead
// of ~1.6 s through tsx, which matters when the crash spec starts one every 500 ms on 2 cores.
// __dirname is pinned to lib/mirror/ so the bundle finds lib/lua (scripts.ts's second candidate) and
// lib/migrations (mirror/migrations.ts's first): one value serves both since lib/ has subfolders.
let bundle: string | undefined;
function workerScript(): string {
  if (!bundle) {
    const dir = mkdtempSync(join(tmpdir(), 'sa-faults-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, 'worker-proc.js');
    execFileSync(join(ROOT, 'node_modules', '.bin', 'esbuild'), [join(__dirname, 'worker-proc.ts'), '--bundle', '--platform=node',
      '--format=cjs', '--packages=external', '--log-level=warning', `--define:__dirname=${JSON.stringify(join(ROOT, 'lib', 'mirror'))}`, `--outfile=${out}`]);
    bundle = out;
  }
  return bundle;
}

export interface WorkerProc {
  proc: ChildProcess;
  pid: number;
  ready: Promise<void>;
  isReady: boolean;
  exited: Promise<number | null>;
  stdout: string;
}

const all = new Set<WorkerProc>();

export function startWorker(env: Record<string, string>): WorkerProc {
  const proc = spawn(process.execPath, [workerScript()], {
    cwd: ROOT, env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules'), ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const w = { proc, pid: proc.pid!, isReady: false, stdout: '' } as WorkerProc;
  w.exited = new Promise((r) => proc.once('exit', (code) => { all.delete(w); r(code); }));
  w.ready = new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      w.stdout += d.toString();
      if (!w.isReady && w.stdout.includes('ready')) { w.isReady = true; resolve(); }
    });
    proc.once('exit', (code) => { if (!w.isReady) reject(new Error(`worker process ${w.pid} exited with ${code} before it was ready`)); });
  });
  w.ready.catch(() => undefined);
  // Errors of a worker on its way down (Redis gone, lease lost) are expected here; keep the output for a failing run.
  proc.stderr!.on('data', (d) => { if (process.env.FAULT_VERBOSE) process.stderr.write(d); });
  all.add(w);
  return w;
}

export async function kill9(w: WorkerProc): Promise<void> {
  w.proc.kill('SIGKILL');
  await w.exited;
}

/** after() hook: no process of ours outlives the spec. */
export async function killAll(): Promise<void> {
  await Promise.all([...all].map((w) => kill9(w)));
}
