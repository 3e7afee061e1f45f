// Real `node scripts/async.js` processes for the operations specs: a prefix, a temp dir and pid
// dirs per test, every process (and every supervisor's group) killed afterwards.
import { spawn, ChildProcess } from 'child_process';
import { mkdtempSync, readFileSync, existsSync, readdirSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import type Redis from 'ioredis';
import { setup } from '../lib';
import type { Queue } from '../lib/queue';
import { uniquePrefix, dropPrefix, redisClient, REDIS_URL } from './helpers';

export const ROOT = join(__dirname, '..');
export const BIN = join(ROOT, 'scripts', 'async.js');
export const APP = join(__dirname, 'fixtures', 'cli-app', 'async.config.js');

export interface Result { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }
export interface Proc { child: ChildProcess; stdout: string; stderr: string; exited: Promise<Result> }

// Stand-ins with the fixture's method names: enqueue checks the action exists.
export const Jobs = {
  add(_a: number, _b: number) { return 0; }, whoami() { return 0; }, sleep(_ms: number) { return 0; },
  boom(_m?: string) { return 0; }, hog(_mb: number) { return 0; },
};

export class Harness {
  prefix = '';
  redis!: Redis;
  queue!: Queue;
  tmp = '';
  children: ChildProcess[] = [];
  pidDirs: string[] = [];

  setUp(tag: string, redisUrl = REDIS_URL): void {
    this.prefix = uniquePrefix(tag);
    this.redis = redisClient();
    this.queue = setup({ redis: redisUrl, prefix: this.prefix });
    this.queue.on('error', () => undefined);
    this.queue.register('Jobs', Jobs);
    this.tmp = mkdtempSync(join(tmpdir(), `sa-${tag}-`));
    this.children = [];
    this.pidDirs = [join(this.tmp, 'pids'), join(this.tmp, 'other')];
  }

  async tearDown(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) { try { process.kill(-(c.pid as number), 'SIGKILL'); } catch { c.kill('SIGKILL'); } }
    for (const dir of this.pidDirs) {
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.pid'))) {
        const pid = Number(readFileSync(join(dir, f), 'utf8'));
        try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
      }
    }
    await this.queue.close();
    await dropPrefix(this.redis, this.prefix);
    await this.redis.quit();
    rmSync(this.tmp, { recursive: true, force: true });
  }

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { ...process.env, ASYNC_PREFIX: this.prefix, ASYNC_APP: APP, REDIS_URL, ASYNC_HEARTBEAT_MS: '200', NO_COLOR: '1', ...extra };
  }

  /** Spawns the CLI (or any command line with `cmd`) in its own process group; output is collected as it comes. */
  spawn(args: string[], o: { env?: NodeJS.ProcessEnv; cmd?: string[] } = {}): Proc {
    const argv = o.cmd ? [...o.cmd, process.execPath, BIN, ...args] : [BIN, ...args];
    const child = spawn(o.cmd ? argv[0] : process.execPath, o.cmd ? argv.slice(1) : argv,
      { cwd: this.tmp, env: o.env ?? this.env(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.children.push(child);
    const r: Proc = { child, stdout: '', stderr: '', exited: new Promise<Result>((res) => child.on('close', (code, signal) => res({ code, signal, stdout: r.stdout, stderr: r.stderr }))) };
    child.stdout?.on('data', (d) => { r.stdout += d; });
    child.stderr?.on('data', (d) => { r.stderr += d; });
    return r;
  }

  cli(args: string[], o: { env?: NodeJS.ProcessEnv } = {}): Promise<Result> { return this.spawn(args, o).exited; }

  pidDir(i = 0): string { return `--pid-dir=${this.pidDirs[i]}`; }

  async workers(): Promise<{ name: string; uid: number | null; pid: number; supervisor: number | null; alive: boolean; done: number }[]> {
    const r = await this.cli(['status', '--json', this.pidDir()]);
    if (r.code !== 0) throw new Error(`status failed: ${r.stderr}`);
    return JSON.parse(r.stdout).workers;
  }

  async hash(id: number): Promise<Record<string, string>> {
    return this.redis.hgetall(`{${this.prefix}:default}:t:${id}`);
  }
}
