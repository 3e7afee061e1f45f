// The command line as users run it: real `node scripts/async.js` processes (the built dist/),
// the fixture app spec/fixtures/cli-app, real Redis (a prefix per test) and MariaDB (sa_cli).
// Every process started here is killed in afterEach, whatever happened.
import { strict as assert } from 'assert';
import { spawn, ChildProcess, execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync, rmSync, mkdirSync, symlinkSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import type Redis from 'ioredis';
import { DataTypes, Model, Sequelize } from 'sequelize';
import { setup } from '../lib';
import type { Queue } from '../lib/queue';
import { alive } from '../lib/cli/daemon';
import { uniquePrefix, dropPrefix, redisClient, until, sleep, mysqlDb, REDIS_URL, DATABASE_URL } from './helpers';

const ROOT = join(__dirname, '..');
const BIN = join(ROOT, 'scripts', 'async.js');
const APP = join(__dirname, 'fixtures', 'cli-app', 'async.config.js');

/** until() for a value: resolves with what fn gave once it is not null. */
const untilSome = <T>(fn: () => Promise<T | null>, ms: number, what: string) => until(fn, ms, what) as Promise<T>;

interface Result { code: number | null; stdout: string; stderr: string }

// Stand-ins with the fixture's method names: enqueue checks the action exists.
const Jobs = {
  add(_a: number, _b: number) { return 0; }, whoami() { return 0; }, sleep(_ms: number) { return 0; },
  boom(_m?: string) { return 0; }, hog(_mb: number) { return 0; },
};

describe('command line (scripts/async.js)', function () {
  this.timeout(30000);
  let prefix: string;
  let redis: Redis;
  let queue: Queue;
  let tmp: string;
  let children: ChildProcess[];
  let pidDirs: string[];

  before(function () {
    this.timeout(120000);
    // The CLI runs the compiled code. Other engineers' work in progress may not type-check;
    // tsc still emits, and what the CLI needs is checked by these tests.
    try { execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'ignore' }); } catch { /* emitted anyway */ }
    assert.ok(existsSync(join(ROOT, 'dist', 'lib', 'cli', 'index.js')), 'dist/lib/cli/index.js was not built');
  });

  beforeEach(() => {
    prefix = uniquePrefix('cli');
    redis = redisClient();
    queue = setup({ redis: REDIS_URL, prefix });
    queue.register('Jobs', Jobs);
    tmp = mkdtempSync(join(tmpdir(), 'sa-cli-'));
    children = [];
    pidDirs = [join(tmp, 'pids')];
  });

  afterEach(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    // Background workers: the supervisor leads a process group holding its worker.
    for (const dir of pidDirs) {
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.pid'))) {
        const pid = Number(readFileSync(join(dir, f), 'utf8'));
        try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
      }
    }
    await queue.close();
    await dropPrefix(redis, prefix);
    await redis.quit();
    rmSync(tmp, { recursive: true, force: true });
  });

  const env = (extra: Record<string, string> = {}) => ({
    ...process.env, ASYNC_PREFIX: prefix, ASYNC_APP: APP, REDIS_URL, ASYNC_HEARTBEAT_MS: '200', ASYNC_MEMORY_CHECK_MS: '100', NO_COLOR: '1', ...extra,
  });

  /** Spawns the CLI; the handle collects output as it comes. */
  function spawnCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; bin?: string } = {}) {
    const child = spawn(process.execPath, [opts.bin ?? BIN, ...args], { cwd: opts.cwd ?? tmp, env: opts.env ?? env(), stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const r = { child, stdout: '', stderr: '', exited: new Promise<Result>((res) => child.on('close', (code) => res({ code, stdout: r.stdout, stderr: r.stderr }))) };
    child.stdout.on('data', (d) => { r.stdout += d; });
    child.stderr.on('data', (d) => { r.stderr += d; });
    return r;
  }

  const cli = (args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; bin?: string } = {}) => spawnCli(args, opts).exited;
  const pidDir = () => `--pid-dir=${pidDirs[0]}`;

  async function task(id: number) {
    const t = await queue.task(id);
    assert.ok(t, `task ${id} exists`);
    return t;
  }

  async function finished(id: number, ms = 10000) {
    const t = await task(id);
    return t.wait({ timeout: ms });
  }

  async function workers(): Promise<{ name: string; uid: number | null; pid: number; supervisor: number | null; alive: boolean; done: number; concurrency: number }[]> {
    const r = await cli(['status', '--json', pidDir()]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).workers;
  }

  describe('usage', () => {
    const refused: [string, string[], RegExp, RegExp?][] = [
      ['an unknown command: exit 2 with the usage', ['frobnicate'], /unknown command 'frobnicate'/, /usage: node scripts\/async\.js/],
      ["an unknown flag: exit 2 with the command's usage", ['stop', '--bogus'], /unknown option --bogus\n/, /usage: node scripts\/async\.js stop/],
      ['a flag the command does not take', ['stop', '--json'], /'stop' does not take --json/],
      ['a --uid that is not a number', ['start', '--uid=abc'], /--uid must be a whole number from 1 to \d+ \(got 'abc'\)/],
      ['a --prefetch that is neither auto nor a number', ['run', '--prefetch=lots'], /--prefetch must be auto or a whole number from 0 to 10000 \(got 'lots'\)/],
      ['inspect without an id', ['inspect'], /'inspect' needs ID/],
      ['a task id that is not a number', ['inspect', '12x'], /task id must be a positive whole number \(got '12x'\)/],
    ];
    for (const [name, args, message, usageText] of refused) {
      it(`refuses ${name}`, async () => {
        const r = await cli(args);
        assert.equal(r.code, 2);
        assert.match(r.stderr, message);
        if (usageText) assert.match(r.stderr, usageText);
      });
    }

    const commands = ['run', 'start', 'stop', 'restart', 'status', 'ls', 'inspect', 'retry', 'cancel', 'migrate', 'mirror', 'generate'];
    it('the usage lists every command', async () => {
      const r = await cli(['--help']);
      assert.equal(r.code, 0);
      for (const c of commands) assert.match(r.stdout, new RegExp(`^  ${c}\\b`, 'm'), `usage lists ${c}`);
    });

    it('every command has --help naming its options', async () => {
      const helps = await Promise.all(commands.map((c) => cli([c, '--help'])));
      helps.forEach((h, i) => {
        assert.equal(h.code, 0, `${commands[i]} --help`);
        assert.match(h.stdout, new RegExp(`^usage: node scripts/async\\.js ${commands[i]}`), commands[i]);
        assert.match(h.stdout, /--help/);
      });
      assert.match(helps[1].stdout, /--uid=N/);
      assert.match(helps[1].stdout, /-n, --workers=N/);
      assert.match(helps[5].stdout, /--state=STATE/);
    });
  });

  describe('the app module', () => {
    it('a missing default ./async.config.js is named, with where the path came from', async () => {
      const r = await cli(['status'], { env: env({ ASYNC_APP: '' }) });
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`app module ${join(tmp, 'async.config.js').replace(/[/\\.]/g, '\\$&')} \\(from the default \\./async\\.config\\.js\\) not found`));
    });

    it('a missing --app module is named', async () => {
      const r = await cli(['ls', '--app', './nope.js']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /nope\.js \(from --app\) not found/);
    });

    it('a module that throws: its error is shown', async () => {
      const r = await cli(['status', '--app', join(__dirname, 'fixtures', 'cli-app', 'broken.js')]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /loading the app module .*broken\.js failed: Error: the app is broken on purpose/);
    });

    it('a module that exports no queue: what it gave is described', async () => {
      const r = await cli(['run', '--app', join(__dirname, 'fixtures', 'cli-app', 'not-a-queue.js')]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /not-a-queue\.js must export the queue from setup\(\).*it gave an object with hello/);
    });

    it('start with a broken app fails at once and leaves no pid file', async () => {
      const r = await cli(['start', '--uid=1', pidDir(), '--app', join(__dirname, 'fixtures', 'cli-app', 'broken.js')]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /async1: exited before it was ready[\s\S]*the app is broken on purpose/);
      assert.equal(existsSync(join(pidDirs[0], 'async1.pid')), false);
    });
  });

  describe('run (foreground)', () => {
    it('prints a SUCCESS and a FAILURE line per finished task', async () => {
      const w = spawnCli(['run', '--uid=9']);
      const ok = await queue.async(Jobs, 'add', { args: [2, 3] });
      const bad = await queue.async(Jobs, 'boom', { args: ['bad input'] });
      await until(() => /FAILURE/.test(w.stdout) && /SUCCESS/.test(w.stdout), 10000, 'two task lines');
      assert.match(w.stdout, new RegExp(`^\\S+Z SUCCESS ${ok.id} Jobs#add \\d+ ms$`, 'm'));
      assert.match(w.stdout, new RegExp(`^\\S+Z FAILURE ${bad.id} Jobs#boom \\d+ ms TypeError: bad input$`, 'm'));
    });

    it('registers in Redis with its uid, pid and counts', async () => {
      const w = spawnCli(['run', '--uid=9']);
      await queue.async(Jobs, 'add', { args: [2, 3] });
      const ws = await untilSome(async () => { const l = await workers(); return l.length === 1 && l[0].done === 1 ? l : null; }, 5000, 'a heartbeat with the counts');
      assert.equal(ws[0].uid, 9);
      assert.equal(ws[0].pid, w.child.pid);
      assert.equal(ws[0].alive, true);
    });

    it('exits 0 on SIGTERM and removes its presence entry', async () => {
      const w = spawnCli(['run', '--uid=9']);
      await untilSome(async () => { const l = await workers(); return l.length === 1 ? l : null; }, 5000, 'the worker in status');
      w.child.kill('SIGTERM');
      const r = await w.exited;
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await workers(), []);
      assert.equal(await redis.exists(`{${prefix}}:workers`), 0);
    });

    it('SIGTERM during a 2 s task: the task succeeds, then the process exits 0', async () => {
      const w = spawnCli(['run', '--prefetch=0']);
      const t = await queue.async(Jobs, 'sleep', { args: [2000] });
      await until(async () => (await task(t.id)).state === 'running', 10000, 'the task to run');
      w.child.kill('SIGTERM');
      const r = await w.exited;
      assert.equal(r.code, 0, r.stderr);
      const done = await task(t.id);
      assert.equal(done.state, 'succeeded');
      assert.equal(done.result, w.child.pid);
      assert.match(r.stdout, new RegExp(`SUCCESS ${t.id} Jobs#sleep`));
      assert.match(r.stdout, /started: queues default, concurrency 1, prefetch 0 /);
    });

    it('with --grace 1 a longer task goes back to the queue, marked released', async () => {
      const a = spawnCli(['run', '--grace=1']);
      const t = await queue.async(Jobs, 'sleep', { args: [3000] });
      await until(async () => (await task(t.id)).state === 'running', 10000, 'the task to run');
      a.child.kill('SIGTERM');
      const ra = await a.exited;
      assert.equal(ra.code, 0, ra.stderr);
      assert.match(ra.stdout, /handing 1 running task\(s\) back to the queue/);
      assert.equal((await task(t.id)).state, 'queued');
      assert.equal(String(await redis.hget(`{${prefix}:default}:t:${t.id}`, 'released')), '1');
      const b = spawnCli(['run']);
      const done = await finished(t.id, 15000);
      assert.equal(done.state, 'succeeded', 'another worker finishes the handed-back task');
      assert.equal(done.result, b.child.pid);
    });
  });

  describe('background workers', () => {
    describe('two started workers', () => {
      beforeEach(async () => {
        let r = await cli(['start', '--uid=1', '--concurrency=3', pidDir()]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /started async1 \(pid \d+, worker pid \d+\), log .*async1\.log/);
        r = await cli(['start', '--uid=2', pidDir()]);
        assert.equal(r.code, 0, r.stderr);
      });

      it('start of a uid that runs is refused', async () => {
        const r = await cli(['start', '--uid=1', pidDir()]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /async1 is already running/);
      });

      it('status lists both, each with the supervisor of its pid file', async () => {
        const both = await untilSome(async () => { const l = await workers(); return l.length === 2 ? l : null; }, 5000, 'two workers in status');
        assert.deepEqual(both.map((w) => w.uid).sort(), [1, 2]);
        assert.ok(both.every((w) => w.alive && w.supervisor === Number(readFileSync(join(pidDirs[0], `async${w.uid}.pid`), 'utf8'))));
        const table = await cli(['status', pidDir()]);
        assert.match(table.stdout, /^WORKER\s+UID\s+HOST\s+PID\s+ALIVE\s+UPTIME\s+DONE\s+FAILED\s+RUNNING\s+MEMORY/m);
        assert.match(table.stdout, /^async1@\S+\s+1\s/m);
        assert.match(table.stdout, /^async2@\S+\s+2\s/m);
      });

      it('tasks are spread over both, and logged in their log files', async () => {
        const tasks = await Promise.all(Array.from({ length: 6 }, () => queue.async(Jobs, 'sleep', { args: [300] })));
        const ran = await Promise.all(tasks.map((t) => finished(t.id)));
        assert.ok(ran.every((t) => t.state === 'succeeded'));
        assert.deepEqual(new Set(ran.map((t) => t.worker?.replace(/@.*/, ''))), new Set(['async1', 'async2']), 'both workers ran tasks');
        assert.match(readFileSync(join(pidDirs[0], 'async1.log'), 'utf8'), /SUCCESS \d+ Jobs#sleep/);
      });

      it('stop --uid stops that one and removes its pid file', async () => {
        const r = await cli(['stop', '--uid=2', pidDir()]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /stopped async2/);
        assert.equal(existsSync(join(pidDirs[0], 'async2.pid')), false);
        assert.deepEqual((await workers()).map((w) => w.uid), [1]);
      });

      it('stop without --uid stops all and status is empty', async () => {
        const r = await cli(['stop', pidDir()]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /stopped async1/);
        assert.match(r.stdout, /stopped async2/);
        assert.deepEqual(readdirSync(pidDirs[0]).filter((f) => f.endsWith('.pid')), []);
        assert.deepEqual(await workers(), []);
      });

      it('restart without options keeps the ones it was started with', async () => {
        const before = (await untilSome(async () => { const l = await workers(); return l.length === 2 ? l : null; }, 5000, 'two workers')).find((w) => w.uid === 1)!;
        assert.equal(before.concurrency, 3);
        const r = await cli(['restart', '--uid=1', pidDir()]);
        assert.equal(r.code, 0, r.stderr);
        const after = await untilSome(async () => (await workers()).find((w) => w.uid === 1 && w.pid !== before.pid) ?? null, 5000, 'the restarted worker');
        assert.notEqual(after.supervisor, before.supervisor);
        assert.equal(after.concurrency, 3);
      });

      it('restart with options replaces them', async () => {
        const before = await untilSome(async () => (await workers()).find((w) => w.uid === 1) ?? null, 5000, 'async1');
        const r = await cli(['restart', '--uid=1', '--concurrency=2', pidDir()]);
        assert.equal(r.code, 0, r.stderr);
        const again = await untilSome(async () => (await workers()).find((w) => w.uid === 1 && w.pid !== before.pid) ?? null, 5000, 'the worker restarted with new options');
        assert.equal(again.concurrency, 2);
      });
    });

    it('a stale pid file is removed, said, and the uid started', async () => {
      const dead = spawn(process.execPath, ['-e', '']);
      await new Promise((res) => dead.on('exit', res));
      mkdirSync(pidDirs[0], { recursive: true });
      writeFileSync(join(pidDirs[0], 'async5.pid'), `${dead.pid}\n`);
      const r = await cli(['start', '--uid=5', pidDir()]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`async5: removed stale pid file .*async5\\.pid \\(pid ${dead.pid} is not running\\)`));
      assert.match(r.stdout, /started async5/);
    });
    it('-n starts several workers after the highest running uid', async () => {
      let r = await cli(['start', '-n', '2', pidDir()]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /started async1 .*\n.*started async2 /);
      r = await cli(['start', '-n1', pidDir()]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /started async3 /);
      const ws = await untilSome(async () => { const l = await workers(); return l.length === 3 ? l : null; }, 5000, 'three workers');
      assert.deepEqual(ws.map((w) => w.uid).sort(), [1, 2, 3]);
      r = await cli(['stop', pidDir(), '--kill-after=20']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((r.stdout.match(/stopped async\d/g) ?? []).length, 3);
    });

    it('stop --kill-after kills a worker whose task outlasts it', async () => {
      let r = await cli(['start', '--uid=1', '--grace=30', pidDir()]);
      assert.equal(r.code, 0, r.stderr);
      const [w] = await untilSome(async () => { const l = await workers(); return l.length === 1 ? l : null; }, 5000, 'the worker');
      const t = await queue.async(Jobs, 'sleep', { args: [20000] });
      await until(async () => (await task(t.id)).state === 'running', 10000, 'the task to run');
      r = await cli(['stop', '--kill-after=1', pidDir()]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /killed async1 \(pid \d+ and its worker, SIGKILL\) after 1 s/);
      assert.equal(existsSync(join(pidDirs[0], 'async1.pid')), false);
      await until(() => !alive(w.pid), 2000, 'the worker to be gone too');
      // Killed, it handed nothing back; stop has its tasks released at once (not at lease expiry).
      assert.match(r.stdout, /released the tasks of async1@\S+: 1 queued again, 0 failed/);
      assert.equal((await task(t.id)).state, 'queued');
    });

    it('--max-memory: the worker finishes its task, exits, and its supervisor starts a new one', async () => {
      let r = await cli(['start', '--uid=1', '--max-memory=150', pidDir()]);
      assert.equal(r.code, 0, r.stderr);
      const [first] = await untilSome(async () => { const l = await workers(); return l.length === 1 ? l : null; }, 5000, 'the worker');
      const t = await queue.async(Jobs, 'hog', { args: [200] });
      const done = await finished(t.id);
      assert.equal(done.state, 'succeeded');
      assert.equal(done.result, first.pid);
      const next = await untilSome(async () => { const l = await workers(); return l.length === 1 && l[0].pid !== first.pid ? l[0] : null; }, 10000, 'a new worker');
      assert.equal(next.supervisor, first.supervisor, 'same supervisor');
      const log = readFileSync(join(pidDirs[0], 'async1.log'), 'utf8');
      assert.match(log, /memory limit: rss \d+ MB > 150 MB/);
      assert.match(log, new RegExp(`worker pid ${first.pid} passed its memory limit; restarting`));
      r = await cli(['stop', pidDir()]);
      assert.equal(r.code, 0, r.stderr);
    });
  });

  describe('tasks', () => {
    let w: ReturnType<typeof spawnCli>;
    let ok: { id: number };
    let bad: { id: number };
    let later: { id: number };
    beforeEach(async () => {
      w = spawnCli(['run']);
      ok = await queue.async(Jobs, 'add', { args: [2, 3] });
      bad = await queue.async(Jobs, 'boom', { args: ['no way'] });
      later = await queue.schedule(Jobs, Date.now() + 3600e3, 'add', { args: [1, 1] });
      await finished(ok.id);
      await finished(bad.id);
    });

    it('ls lists tasks newest first with state, priority, label and error', async () => {
      const r = await cli(['ls']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^ID\s+QUEUE\s+STATE/);
      assert.match(r.stdout, new RegExp(`^${later.id}\\s+default\\s+scheduled\\s+20\\s+Jobs#add`, 'm'));
      assert.match(r.stdout, new RegExp(`^${bad.id}\\s+default\\s+failed\\s+10\\s+Jobs#boom\\s+1\\s+\\S+\\s+TypeError: no way`, 'm'));
      assert.match(r.stdout, new RegExp(`^${ok.id}\\s+default\\s+succeeded`, 'm'));
    });

    it('ls --state, --limit and --json filter; a bad --state is a usage error', async () => {
      let r = await cli(['ls', '--state=failed', '--json']);
      assert.deepEqual(JSON.parse(r.stdout).map((t: { id: number }) => t.id), [bad.id]);
      r = await cli(['ls', '--limit=1', '--json']);
      assert.deepEqual(JSON.parse(r.stdout).map((t: { id: number }) => t.id), [later.id]);
      r = await cli(['ls', '--state=bogus']);
      assert.equal(r.code, 2);
    });

    it('inspect decodes args and result and shows the error with its backtrace', async () => {
      let r = await cli(['inspect', String(bad.id)]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^state\s+failed$/m);
      assert.match(r.stdout, /^args\s+\[ 'no way' \]$/m);
      assert.match(r.stdout, /^error: TypeError: no way$/m);
      assert.match(r.stdout, /^\s+at .*boom .*cli-app[/\\]jobs\.js:\d+/m);
      r = await cli(['inspect', String(ok.id), '--json']);
      const j = JSON.parse(r.stdout);
      assert.equal(j.result, 5);
      assert.deepEqual(j.args, [2, 3]);
      assert.equal(j.state, 'succeeded');
    });

    it('inspect of an unknown id exits 1', async () => {
      const r = await cli(['inspect', '987654321']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /task 987654321 not found/);
    });

    it('retry queues a failed task as attempt 2 and refuses a succeeded one', async () => {
      let r = await cli(['retry', String(ok.id)]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /is succeeded: only a failed task can be retried/);
      r = await cli(['retry', String(bad.id)]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`task ${bad.id} queued again in default \\(attempt 2\\)`));
      const again = await untilSome(async () => { const t = await task(bad.id); return t.state === 'failed' && t.attempts === 2 ? t : null; }, 10000, 'the retried attempt');
      assert.equal(again.errors.length, 2, 'both attempts keep their error');
      await until(() => new RegExp(`FAILURE ${bad.id} Jobs#boom \\d+ ms \\(attempt 2\\) TypeError: no way`).test(w.stdout), 5000, 'the attempt-2 line');
    });

    it('cancel cancels a scheduled task once, then says it is already cancelled', async () => {
      let r = await cli(['cancel', String(later.id)]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`task ${later.id} cancelled`));
      assert.equal((await task(later.id)).state, 'cancelled');
      r = await cli(['cancel', String(later.id)]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /already cancelled/);
    });

    it('status counts failed and scheduled tasks per queue', async () => {
      const r = await cli(['status', '--json']);
      const s = JSON.parse(r.stdout);
      assert.equal(s.queues.default.failed, 1);
      assert.equal(s.queues.default.scheduled, 1);
    });
  });

  describe('migrate and mirror (MySQL, database sa_cli)', () => {
    let sequelize: Sequelize;
    let mq: Queue | undefined;
    let menv: NodeJS.ProcessEnv;
    beforeEach(async () => {
      sequelize = await mysqlDb('sa_cli');
      await sequelize.getQueryInterface().dropTable('async_tasks');
      const dbUrl = new URL(DATABASE_URL);
      dbUrl.pathname = '/sa_cli';
      menv = env({ ASYNC_APP: join(__dirname, 'fixtures', 'cli-app', 'mirror.config.js'), CLI_DB_URL: dbUrl.toString() });
    });
    afterEach(async () => {
      await mq?.close();
      await sequelize.close();
      mq = undefined;
    });

    it('migrate on a fresh database creates async_tasks and says so', async () => {
      const r = await cli(['migrate'], { env: menv });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /created async_tasks/);
      const tables = (await sequelize.getQueryInterface().showAllTables()).map((t) => (typeof t === 'string' ? t : (t as { tableName: string }).tableName));
      assert.ok(tables.includes('async_tasks'), `tables: ${tables.join(', ')}`);
    });

    it('migrate again says it is up to date', async () => {
      assert.equal((await cli(['migrate'], { env: menv })).code, 0);
      const r = await cli(['migrate'], { env: menv });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /async_tasks is up to date/);
    });

    it('the mirror command copies finished tasks into async_tasks until SIGTERM', async () => {
      assert.equal((await cli(['migrate'], { env: menv })).code, 0);
      mq = setup({ sequelize, redis: REDIS_URL, prefix, mirror: true });
      mq.register('Jobs', Jobs);
      const worker = spawnCli(['run', '--no-mirror'], { env: menv });
      const mirror = spawnCli(['mirror'], { env: menv });
      const t = await mq.async(Jobs, 'add', { args: [20, 22] });
      await (await mq.task(t.id))!.wait({ timeout: 10000 });
      const row = await untilSome(async () => {
        const [rows] = await sequelize.query(`SELECT state, success FROM async_tasks WHERE id = ${t.id}`);
        const x = (rows as { state: string; success: number }[])[0];
        return x && x.state === 'succeeded' ? x : null;
      }, 10000, 'the mirrored row');
      assert.equal(Number(row.success), 1);
      mirror.child.kill('SIGTERM');
      const rm = await mirror.exited;
      assert.equal(rm.code, 0, rm.stderr);
      assert.match(rm.stdout, /mirror stopped/);
      worker.child.kill('SIGTERM');
      assert.equal((await worker.exited).code, 0);
    });

    it('mirror of a queue that does not mirror is a clear error', async () => {
      const r = await cli(['mirror']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /the queue of this app does not mirror to SQL/);
    });
  });

  describe('generate', () => {
    let sequelize: Sequelize | undefined;
    let appQueue: Queue | undefined;
    let app: string;
    beforeEach(() => {
      app = join(tmp, 'shop');
      mkdirSync(join(app, 'node_modules'), { recursive: true });
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'shop', private: true }));
      // The app's dependencies: this package and the one Sequelize.
      symlinkSync(ROOT, join(app, 'node_modules', 'sequelize-async'), 'dir');
      symlinkSync(join(ROOT, 'node_modules', 'sequelize'), join(app, 'node_modules', 'sequelize'), 'dir');
    });
    afterEach(async () => {
      await appQueue?.close();
      await sequelize?.close();
      appQueue = undefined;
      sequelize = undefined;
    });

    it('writes the launcher, the migration, a PM2 file for -n workers and a systemd unit', async () => {
      const r = await cli(['generate', app, '-n', '3', '--max-memory=200']);
      assert.equal(r.code, 0, r.stderr);
      for (const f of ['scripts/async.js', 'ecosystem.config.js', 'async@.service']) assert.match(r.stdout, new RegExp(f.replace(/[.@/]/g, '\\$&')));
      assert.match(r.stdout, /migrations\/\d{14}-create-async-tasks\.js/);
      const eco = require(join(app, 'ecosystem.config.js'));
      assert.deepEqual(eco.apps.map((a: { name: string }) => a.name), ['async1', 'async2', 'async3']);
      assert.equal(eco.apps[1].max_memory_restart, '200M');
      assert.deepEqual(eco.apps[1].args.slice(0, 2), ['run', '--uid=2']);
      const unit = readFileSync(join(app, 'async@.service'), 'utf8');
      assert.match(unit, new RegExp(`^ExecStart=\\S+node\\S* ${app}/scripts/async\\.js run --uid=%i --grace=30 --max-memory=200$`, 'm'));
      assert.match(unit, /^Restart=always$/m);
      const mig = require(join(app, 'migrations', readdirSync(join(app, 'migrations'))[0]));
      assert.equal(typeof mig.up, 'function');
      assert.equal(typeof mig.down, 'function');
    });

    it('does not overwrite without --force; --force rewrites the same files', async () => {
      assert.equal((await cli(['generate', app])).code, 0);
      const launcherText = readFileSync(join(app, 'scripts', 'async.js'), 'utf8');
      const migrations = readdirSync(join(app, 'migrations')).sort();
      // Every shipped migration, in the order they run, with the app's own timestamps.
      assert.deepEqual(migrations.map((f) => f.slice(15)), ['create-async-tasks.js', 'add-async-tasks-json.js', 'dashboard-indexes.js', 'add-async-tasks-recurrence.js', 'error-text-search.js']);
      let r = await cli(['generate', app]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /not overwriting .*scripts\/async\.js.*use --force/);
      r = await cli(['generate', app, '--force']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(readFileSync(join(app, 'scripts', 'async.js'), 'utf8'), launcherText);
      assert.deepEqual(readdirSync(join(app, 'migrations')).sort(), migrations, '--force rewrites the same migrations');
    });

    it("the app's launcher starts a worker that runs its task on MySQL", async function () {
      this.timeout(60000);
      assert.equal((await cli(['generate', app])).code, 0);
      // The app itself: a model whose method the worker calls.
      const dbUrl = new URL(DATABASE_URL);
      dbUrl.pathname = '/sa_cli';
      writeFileSync(join(app, 'async.config.js'), `
        const { Sequelize, DataTypes } = require('sequelize');
        const { setup } = require('sequelize-async');
        const sequelize = new Sequelize(process.env.SHOP_DB, { logging: false });
        const Note = sequelize.define('CliNote', { body: DataTypes.STRING, done: DataTypes.BOOLEAN }, { tableName: 'cli_notes' });
        Note.prototype.finish = async function (suffix) { this.body += suffix; this.done = true; await this.save(); return process.pid; };
        module.exports = setup({ sequelize, redis: process.env.REDIS_URL, prefix: process.env.ASYNC_PREFIX, mirror: false });
      `);
      sequelize = await mysqlDb('sa_cli');
      class CliNote extends Model {
        declare id: number; declare body: string; declare done: boolean;
        finish(_suffix: string) { return 0; } // runs in the worker (the app's model), not here
      }
      CliNote.init({ body: DataTypes.STRING, done: DataTypes.BOOLEAN }, { sequelize, modelName: 'CliNote', tableName: 'cli_notes' });
      await CliNote.sync({ force: true });
      appQueue = setup({ sequelize, redis: REDIS_URL, prefix, mirror: false });
      const note = await CliNote.create({ body: 'hello', done: false });

      // No ASYNC_APP: the launcher finds the app's async.config.js itself.
      const { ASYNC_APP: _omit, ...appEnv } = env({ SHOP_DB: dbUrl.toString() });
      pidDirs.push(join(app, 'log', 'async'));
      let r = await cli(['start', '--uid=1'], { cwd: app, env: appEnv, bin: join(app, 'scripts', 'async.js') });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(existsSync(join(app, 'log', 'async', 'async1.pid')), 'pid file in the app');
      const t = await (note as unknown as { async(a: string, o: object): Promise<{ id: number }> }).async('finish', { args: ['!'] });
      const done = await finished(t.id, 15000);
      assert.equal(done.state, 'succeeded', String(done.result));
      await note.reload();
      assert.equal(note.body, 'hello!');
      assert.equal(note.done, true);

      r = await cli(['stop'], { cwd: app, env: appEnv, bin: join(app, 'scripts', 'async.js') });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /stopped async1/);
    });
  });
});
