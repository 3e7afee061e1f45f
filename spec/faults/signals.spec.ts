// Signals as process managers send them (issue 18): to the whole process group (supervisor and
// worker at once), twice by coreutils `timeout`, and the plain single and double cases; and a
// stop while Redis is gone. Real CLI processes (dist/), real Redis; slow (5-30 s each).
import { strict as assert } from 'assert';
import { readFileSync, rmSync } from 'fs';
import { join } from 'path';
import { Harness, Jobs } from '../cli-harness';
import { until, sleep } from '../helpers';
import { RedisServer } from './servers';
import { setup } from '../../lib';

describe('faults: signals and a stop without Redis', function () {
  this.timeout(60000);
  const h = new Harness();
  beforeEach(() => h.setUp('sig'));
  afterEach(() => h.tearDown());

  const running = (id: number) => until(async () => (await h.hash(id)).state === 'running', 10000, 'the task to run');
  const outcome = async (id: number) => (await h.queue.task(id))!.wait({ timeout: 20000 });

  it('kill -TERM -- -PGID of a started worker during a 5 s task: the task finishes (attempt 1), both exit', async () => {
    const r = await h.cli(['start', '--uid=1', h.pidDir()]);
    assert.equal(r.code, 0, r.stderr);
    const [w] = await h.workers();
    const t = await h.queue.async(Jobs, 'sleep', { args: [5000] });
    await running(t.id);
    process.kill(-(w.supervisor as number), 'SIGTERM');
    const done = await outcome(t.id);
    assert.equal(done.state, 'succeeded');
    assert.equal(done.attempts, 1);
    const log = readFileSync(join(h.pidDirs[0], 'async1.log'), 'utf8');
    await until(() => /supervisor\[\d+\] async1: exiting \(0\)/.test(readFileSync(join(h.pidDirs[0], 'async1.log'), 'utf8')), 10000, 'the supervisor to exit 0');
    assert.doesNotMatch(log, /second SIGTERM/);
  });

  it('kill -TERM -- -PGID of `run` during a 5 s task: the task finishes, exit 0', async () => {
    const p = h.spawn(['run', '--prefetch=0']);
    await until(() => /started/.test(p.stdout), 10000, 'the worker to start');
    const t = await h.queue.async(Jobs, 'sleep', { args: [5000] });
    await running(t.id);
    process.kill(-(p.child.pid as number), 'SIGTERM');
    process.kill(-(p.child.pid as number), 'SIGTERM'); // a second copy at once: still one request
    const r = await p.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /second SIGTERM/);
    const done = await outcome(t.id);
    assert.equal(done.state, 'succeeded');
    assert.equal(done.attempts, 1);
  });

  it('timeout -s TERM 25 node scripts/async.js run: the task running at 25 s finishes, attempt 1', async function () {
    this.timeout(60000);
    const p = h.spawn(['run', '--prefetch=0'], { cmd: ['timeout', '-s', 'TERM', '25'] });
    const t = await h.queue.schedule(Jobs, Date.now() + 20000, 'sleep', { args: [8000] });
    const r = await p.exited;
    assert.equal(r.code, 124, r.stderr); // timeout's own code: it did time out
    assert.doesNotMatch(r.stderr, /second SIGTERM/);
    assert.match(r.stdout, /SIGTERM: stopping .* 1 running task\(s\)/);
    const done = await outcome(t.id);
    assert.equal(done.state, 'succeeded');
    assert.equal(done.attempts, 1);
  });

  it('one SIGTERM: the running task finishes, exit 0', async () => {
    const p = h.spawn(['run', '--prefetch=0']);
    const t = await h.queue.async(Jobs, 'sleep', { args: [2000] });
    await running(t.id);
    p.child.kill('SIGTERM');
    const r = await p.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await outcome(t.id)).state, 'succeeded');
  });

  it('a second SIGTERM sent later, on purpose: exit 130 at once, the task stays leased', async () => {
    const p = h.spawn(['run', '--prefetch=0']);
    const t = await h.queue.async(Jobs, 'sleep', { args: [10000] });
    await running(t.id);
    p.child.kill('SIGTERM');
    await until(() => /SIGTERM: stopping/.test(p.stdout), 5000, 'the shutdown to begin');
    await sleep(1500);
    p.child.kill('SIGTERM');
    const r = await p.exited;
    assert.equal(r.code, 130);
    assert.match(r.stderr, /second SIGTERM: exiting at once, running tasks are recovered when their lease expires/);
    assert.equal((await h.hash(t.id)).state, 'running');
  });

  describe('Redis gone', () => {
    let server: RedisServer;
    beforeEach(async () => { server = await RedisServer.start(); });
    // (RedisServer.crash() waits for an exit that already happened when called twice.)
    afterEach(async () => { if (server.proc?.signalCode === null) await server.stop(); else rmSync(server.dir, { recursive: true, force: true }); });

    it('SIGTERM to an idle worker whose Redis is gone: it exits promptly and says what it left to the lease', async () => {
      const p = h.spawn(['run', '--uid=4'], { env: h.env({ REDIS_URL: server.url }) });
      await until(() => /worker async4@\S+ started/.test(p.stdout), 10000, 'the worker to start');
      await server.crash();
      await sleep(300);
      p.child.kill('SIGTERM');
      const r = await p.exited;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /Redis did not answer within 3 s: exiting without handing back; anything still leased to it runs again when the lease expires/);
      assert.match(r.stdout, /stopped async4@/);
    });

    it('a running worker logs once when Redis goes and once when it is back, then works on', async () => {
      const q = setup({ redis: server.url, prefix: h.prefix });
      q.on('error', () => undefined);
      q.register('Jobs', Jobs);
      try {
        const p = h.spawn(['run', '--uid=6'], { env: h.env({ REDIS_URL: server.url }) });
        await until(() => /worker async6@\S+ started/.test(p.stdout), 10000, 'the worker to start');
        await server.crash();
        await sleep(2500);
        await server.up();
        await until(() => /answers again/.test(p.stdout), 15000, 'the reconnect line');
        const t = await q.async(Jobs, 'add', { args: [1, 2] });
        assert.equal((await (await q.task(t.id))!.wait({ timeout: 10000 })).state, 'succeeded');
        assert.equal(p.stderr.match(/went away/g)?.length, 1, p.stderr);
        assert.match(p.stderr, new RegExp(`ERROR Redis at 127\\.0\\.0\\.1:${server.port} went away; retrying until it answers`));
        assert.equal(p.stdout.match(/answers again/g)?.length, 1, p.stdout);
        p.child.kill('SIGTERM');
        assert.equal((await p.exited).code, 0);
      } finally { await q.close(); }
    });

    it('stop of a started worker whose Redis is gone returns', async () => {
      let r = await h.cli(['start', '--uid=2', h.pidDir()], { env: h.env({ REDIS_URL: server.url }) });
      assert.equal(r.code, 0, r.stderr);
      await server.crash();
      r = await h.cli(['stop', '--uid=2', h.pidDir()]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /stopping async2 \(pid \d+\); SIGKILL after 45 s \(its grace \+ 15 s; --kill-after to change\)\nstopped async2/);
    });
  });
});
