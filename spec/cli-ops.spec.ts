// Operations as an operator meets them (issue 18): an unreachable Redis fails fast and says
// where, one uid is one worker, a known death frees its tasks at once, interrupted `start`
// leaves nothing behind, small command-line answers; and the worker's log formats (issue 19).
import { strict as assert } from 'assert';
import { existsSync, readFileSync } from 'fs';
import { join } from 'path';
import { setup } from '../lib';
import { RedisUnreachableError } from '../lib/errors';
import { alive } from '../lib/cli/daemon';
import { freePort } from './faults/servers';
import { Harness, Jobs } from './cli-harness';
import { until, mysqlDb } from './helpers';

describe('operations (scripts/async.js)', function () {
  this.timeout(30000);
  const h = new Harness();
  beforeEach(() => h.setUp('ops'));
  afterEach(() => h.tearDown());

  describe('Redis unreachable', () => {
    let url: string;
    let env: NodeJS.ProcessEnv;
    beforeEach(async () => {
      const port = await freePort();
      url = `redis://127.0.0.1:${port}`;
      env = h.env({ REDIS_URL: url, ASYNC_CONNECT_TIMEOUT_MS: '1000' });
    });

    for (const args of [['run'], ['status'], ['ls'], ['inspect', '1']]) {
      it(`${args[0]} exits 1 naming the address and the cause`, async () => {
        const r = await h.cli(args, { env });
        assert.equal(r.code, 1, r.stdout);
        const addr = url.slice('redis://'.length);
        assert.match(r.stderr, new RegExp(`^async: Redis at ${addr} unreachable: connect ECONNREFUSED ${addr}`));
      });
    }

    it('start exits 1 with the cause and leaves no supervisor or pid file', async () => {
      const r = await h.cli(['start', '--uid=8', h.pidDir()], { env });
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, /async8: exited before it was ready[\s\S]*Redis at 127\.0\.0\.1:\d+ unreachable: connect ECONNREFUSED/);
      assert.equal(existsSync(join(h.pidDirs[0], 'async8.pid')), false);
    });

    it('an enqueue, connected() and later commands in the app reject with RedisUnreachableError', async () => {
      const q = setup({ redis: url, prefix: h.prefix, connectTimeoutMs: 500 });
      q.on('error', () => undefined);
      q.register('Jobs', Jobs);
      try {
        const e = await q.async(Jobs, 'add', { args: [1, 2] }).then(() => null, (x: Error) => x);
        assert.ok(e instanceof RedisUnreachableError, String(e));
        assert.equal(e.address, url.slice('redis://'.length));
        assert.match(e.message, /ECONNREFUSED/);
        await assert.rejects(q.connected(), RedisUnreachableError);
        // Later commands fail at once too, until Redis answers.
        await assert.rejects(q.redis.get('x'), RedisUnreachableError);
      } finally { await q.close(); }
    });

    it('connectTimeoutMs is checked', () => {
      assert.throws(() => setup({ redis: url, connectTimeoutMs: 0 }), /connectTimeoutMs must be a whole number of ms >= 1/);
    });
  });

  describe('interrupted start', () => {
    // A Redis that never answers keeps the worker from getting ready: `start` is still waiting.
    // The connect timeout also bounds how long a worker stopped while it connects can take to go (8 s < the 15 s waited below).
    const slowEnv = async () => h.env({ REDIS_URL: `redis://127.0.0.1:${await freePort()}`, ASYNC_CONNECT_TIMEOUT_MS: '8000' });

    for (const sig of ['SIGINT', 'SIGTERM', 'SIGKILL'] as const) {
      it(`${sig} to start before the worker is ready leaves no supervisor, worker or pid file`, async () => {
        const p = h.spawn(['start', '--uid=3', h.pidDir()], { env: await slowEnv() });
        const pidFile = join(h.pidDirs[0], 'async3.pid');
        await until(() => existsSync(pidFile), 10000, 'the pid file');
        const supervisor = Number(readFileSync(pidFile, 'utf8'));
        await until(() => /worker pid \d+ starting/.test(readFileSync(join(h.pidDirs[0], 'async3.log'), 'utf8')), 10000, 'the worker to start');
        const workerPid = Number(/worker pid (\d+) starting/.exec(readFileSync(join(h.pidDirs[0], 'async3.log'), 'utf8'))![1]);
        p.child.kill(sig);
        const r = await p.exited;
        if (sig !== 'SIGKILL') {
          assert.equal(r.code, 130, r.stderr);
          assert.match(r.stdout, new RegExp(`${sig}: interrupted; stopping the worker\\(s\\) it started\\nstopped async3`));
        }
        await until(() => !alive(supervisor) && !alive(workerPid), 15000, 'the supervisor and worker to be gone');
        await until(() => !existsSync(pidFile), 5000, 'the pid file to be removed');
      });
    }
  });

  describe('small answers', () => {
    it('a mistyped flag says which one was meant, first', async () => {
      const r = await h.cli(['run', '--concurrancy=2']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^async: unknown option --concurrancy \(did you mean --concurrency\?\)\n/);
    });

    it('stop --uid of a worker that does not run exits 1 saying so', async () => {
      const r = await h.cli(['stop', '--uid=42', h.pidDir()]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /async42 is not running/);
    });

    it('restart with nothing running says so once and starts async1', async () => {
      const r = await h.cli(['restart', h.pidDir()]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.match(/no workers running/g)?.length, 1, r.stdout);
      assert.match(r.stdout, /no workers running \(pid files in .*\): starting async1\nstarted async1/);
    });
  });

  describe('one uid, one worker', () => {
    beforeEach(async () => {
      const r = await h.cli(['start', '--uid=1', h.pidDir()]);
      assert.equal(r.code, 0, r.stderr);
    });

    it('run --uid=1 is refused while async1 runs, naming it', async () => {
      const [w] = await h.workers();
      const r = await h.cli(['run', '--uid=1']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`uid 1 is taken: ${w.name.replace(/[.]/g, '\\.')} \\(pid ${w.pid}, supervisor pid ${w.supervisor}, prefix ${h.prefix}\\)`));
      assert.equal((await h.workers()).length, 1);
    });

    it('start --uid=1 under another --pid-dir is refused', async () => {
      const r = await h.cli(['start', '--uid=1', h.pidDir(1)]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /uid 1 is taken: async1@/);
      assert.equal(existsSync(join(h.pidDirs[1], 'async1.pid')), false);
    });

    it('--force stops the running one and takes over', async () => {
      const [old] = await h.workers();
      const r = await h.cli(['start', '--uid=1', h.pidDir(1), '--force']);
      assert.equal(r.code, 0, r.stderr);
      await until(() => !alive(old.pid) && !alive(old.supervisor as number), 10000, 'the old worker and supervisor to stop');
      const now = await h.workers();
      assert.equal(now.length, 1);
      assert.notEqual(now[0].pid, old.pid);
      assert.match(readFileSync(join(h.pidDirs[1], 'async1.log'), 'utf8'), /--force: stopping async1@\S+ .* to take over uid 1[\s\S]*--force: async1@\S+ stopped/);
    });
  });

  describe('a known death', () => {
    it('kill -9 of a supervised worker: its task is released at once and status drops it', async () => {
      let r = await h.cli(['start', '--uid=1', h.pidDir()]);
      assert.equal(r.code, 0, r.stderr);
      const [w] = await h.workers();
      const t = await h.queue.async(Jobs, 'sleep', { args: [1500] });
      await until(async () => (await h.hash(t.id)).state === 'running', 10000, 'the task to run');
      process.kill(w.pid, 'SIGKILL');
      // The lease is 30 s: only the release makes the task run again within 10.
      await until(async () => (await h.hash(t.id)).stalled === '1', 10000, 'the task to be released');
      await until(async () => !(await h.workers()).some((x) => x.pid === w.pid), 5000, 'status to drop the dead worker');
      const done = await (await h.queue.task(t.id))!.wait({ timeout: 10000 });
      assert.equal(done.state, 'succeeded');
      assert.equal(done.attempts, 2);
      assert.match(readFileSync(join(h.pidDirs[0], 'async1.log'), 'utf8'), new RegExp(`released the tasks of ${w.name}: 1 queued again, 0 failed`));
      // inspect says why it ran twice, and which worker died.
      r = await h.cli(['inspect', String(t.id)]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`recovered +recovered after its worker ${w.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} died`));
    });
  });

  describe('logs (--log, --quiet)', () => {
    it('--log=json: one JSON object per line, with the task fields', async () => {
      const p = h.spawn(['run', '--uid=5', '--log=json']);
      const ok = await h.queue.async(Jobs, 'add', { args: [2, 3] });
      const bad = await h.queue.async(Jobs, 'boom', { args: ['no'] });
      await until(() => (p.stdout + p.stderr).split('\n').filter((l) => l.includes('"task"')).length >= 2, 10000, 'two task lines');
      const lines = (p.stdout + p.stderr).trim().split('\n').map((l) => JSON.parse(l));
      const okLine = lines.find((l) => l.id === ok.id);
      assert.equal(okLine.level, 'info');
      assert.match(okLine.worker, /^async5@/);
      assert.equal(okLine.task, 'Jobs#add');
      assert.equal(okLine.outcome, 'succeeded');
      assert.equal(okLine.attempt, 1);
      assert.equal(typeof okLine.durationMs, 'number');
      assert.ok(!Number.isNaN(Date.parse(okLine.time)));
      const badLine = lines.find((l) => l.id === bad.id);
      assert.equal(badLine.level, 'error');
      assert.equal(badLine.outcome, 'failed');
      assert.equal(badLine.error.message, 'no');
      assert.ok(lines.some((l) => l.event === 'started'));
      p.child.kill('SIGTERM');
      const r = await p.exited;
      assert.equal(r.code, 0);
      assert.ok(r.stdout.trim().split('\n').map((l) => JSON.parse(l)).some((l) => l.event === 'stopped'));
    });

    it('--quiet: no line per successful task, a summary line with rate, failures and backlog', async () => {
      const p = h.spawn(['run', '--quiet'], { env: h.env({ ASYNC_SUMMARY_MS: '300' }) });
      const tasks = await Promise.all([1, 2, 3].map((i) => h.queue.async(Jobs, 'add', { args: [i, i] })));
      await Promise.all(tasks.map(async (t) => (await h.queue.task(t.id))!.wait({ timeout: 10000 })));
      await until(() => /summary: .* 3 succeeded, 0 failed, backlog 0/.test(p.stdout) || /summary: [^\n]*succeeded/.test(p.stdout), 10000, 'a summary line');
      assert.doesNotMatch(p.stdout, /SUCCESS/);
      assert.match(p.stdout, /summary: [\d.]+ tasks\/s over \d+ s, \d+ succeeded, 0 failed, backlog \d+/);
      p.child.kill('SIGTERM');
      assert.equal((await p.exited).code, 0);
    });

    it('start --log=json: every line of the log file is JSON, the supervisor\'s and the release\'s too', async () => {
      const r = await h.cli(['start', '--uid=1', '--log=json', h.pidDir()]);
      assert.equal(r.code, 0, r.stderr);
      const [w] = await h.workers();
      const t = await h.queue.async(Jobs, 'sleep', { args: [1000] });
      await until(async () => (await h.hash(t.id)).state === 'running', 10000, 'the task to run');
      process.kill(w.pid, 'SIGKILL');
      const log = join(h.pidDirs[0], 'async1.log');
      await until(() => /"event":"released"/.test(readFileSync(log, 'utf8')), 10000, 'the release line');
      await (await h.queue.task(t.id))!.wait({ timeout: 10000 });
      const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.ok(lines.some((l) => l.supervisor && /died \(signal SIGKILL\)/.test(l.msg)));
      assert.ok(lines.some((l) => l.event === 'released' && l.recovered === 1 && l.worker === w.name));
      assert.ok(lines.some((l) => l.msg === 'task' && l.id === t.id && l.attempt === 2 && l.outcome === 'succeeded'));
    });

    it('--log must be text or json', async () => {
      const r = await h.cli(['run', '--log=xml']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--log must be text or json \(got 'xml'\)/);
    });
  });

  describe('the database', () => {
    const mirrorApp = join(__dirname, 'fixtures', 'cli-app', 'mirror.config.js');

    it('a MySQL that refuses is named with its address', async () => {
      const port = await freePort();
      const r = await h.cli(['migrate', `--app=${mirrorApp}`], { env: h.env({ CLI_DB_URL: `mysql://root@127.0.0.1:${port}/sa_ops` }) });
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`^async: MySQL at 127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`));
    });

    it('a missing async_tasks table says to run migrate', async () => {
      const sq = await mysqlDb('sa_ops');
      await sq.getQueryInterface().dropTable('async_tasks');
      await sq.close();
      const r = await h.cli(['inspect', '424242', `--app=${mirrorApp}`], { env: h.env({ CLI_DB_URL: 'mysql://root@127.0.0.1:3306/sa_ops' }) });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /the async_tasks table is missing: run `node scripts\/async\.js migrate`/);
    });
  });
});
