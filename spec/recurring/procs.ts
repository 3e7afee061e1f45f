// Processes for the recurring and unique specs: proc.ts bundled once (as spec/faults/harness.ts
// does: a process starts in well under a second), started with an environment, stopped, killed.
import { spawn, execFileSync, ChildProcess } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

const ROOT = join(__dirname, '..', '..');
let bundle: string | undefined;

function script(): string {
  if (!bundle) {
    const dir = mkdtempSync(join(tmpdir(), 'sa-recurring-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, 'proc.js');
    execFileSync(join(ROOT, 'node_modules', '.bin', 'esbuild'), [join(__dirname, 'proc.ts'), '--bundle', '--platform=node',
      // __dirname pinned one level below lib/ (as lib/mirror/migrations.ts is): the bundle then finds
      // lib/migrations from there, and lib/lua through scripts.ts's second candidate.
      '--format=cjs', '--packages=external', '--log-level=warning', `--define:__dirname=${JSON.stringify(join(ROOT, 'lib', 'mirror'))}`, `--outfile=${out}`]);
    bundle = out;
  }
  return bundle;
}

export interface Proc { proc: ChildProcess; stdout: string; stderr: string; exited: Promise<number | null>; line(prefix: string): Promise<string> }

const all = new Set<Proc>();

export function start(env: Record<string, string>): Proc {
  const proc = spawn(process.execPath, [script()], { cwd: ROOT, env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules'), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = { proc, stdout: '', stderr: '' } as Proc;
  const waiting: (() => void)[] = [];
  proc.stdout!.on('data', (d) => { p.stdout += d.toString(); for (const w of waiting.splice(0)) w(); });
  proc.stderr!.on('data', (d) => { p.stderr += d.toString(); });
  p.exited = new Promise((r) => proc.once('exit', (code) => { all.delete(p); r(code); for (const w of waiting.splice(0)) w(); }));
  p.line = (prefix) => new Promise((resolve, reject) => {
    const check = () => {
      const l = p.stdout.split('\n').find((x) => x.startsWith(prefix));
      if (l !== undefined) resolve(l);
      else if (proc.exitCode !== null) reject(new Error(`process ${proc.pid} exited (${proc.exitCode}) without "${prefix}": ${p.stderr}`));
      else waiting.push(check);
    };
    check();
  });
  all.add(p);
  return p;
}

export async function stop(p: Proc): Promise<void> {
  p.proc.kill('SIGTERM');
  await p.exited;
}

export async function kill9(p: Proc): Promise<void> {
  p.proc.kill('SIGKILL');
  await p.exited;
}

export async function killAll(): Promise<void> {
  await Promise.all([...all].map((p) => kill9(p)));
}
