// Leases, recovery of tasks whose worker died, retries with backoff, timeouts and AbortSignal,
// per-method defaults. A dead worker is played by a "ghost" claim: claim.lua run by hand with a
// short lease that nobody renews, exactly what a killed process leaves behind. (Real kill -9 of
// worker processes is in spec/faults/.)
import { strict as assert } from 'assert';
import type Redis from 'ioredis';
import { DataTypes, Model, Sequelize } from 'sequelize';
import { setup, Queue, TimeoutError } from '../lib';
import { perform, Claimed } from '../lib/perform';
import { readTotals } from '../lib/metrics/read';
import { uniquePrefix, dropPrefix, redisClient, until, sleep, mysqlDb } from './helpers';

describe('reliability: leases, recovery, retries, timeouts', function () {
  this.timeout(20000);
  let queue: Queue;
  let redis: Redis;
  let prefix: string;
  const base = () => queue.internals.keys('default').base;
  const field = (id: number, f: string) => redis.hget(`${base()}t:${id}`, f);
  /** Claims the next due task for a worker that then "dies": its lease is never renewed. */
  const ghostClaim = async (leaseMs = 100) => {
    const r = await queue.internals.script('claim', 'default', ['ghost', leaseMs, 1], true) as Buffer[];
    assert.equal(r[1].toString(), '1', 'the ghost claimed a task');
    return { id: Number(r[3].toString()), attempt: Number(r[4].toString()) };
  };

  // A task that blocks until released: keeps a worker's only slot busy while its sweeps run.
  let unblock: () => void = () => undefined;
  const Jobs = {
    calls: [] as { at: number; args: unknown[] }[],
    failuresLeft: 0,
    echo(...args: unknown[]) { Jobs.calls.push({ at: Date.now(), args }); return args[0]; },
    flaky(n: number) {
      Jobs.calls.push({ at: Date.now(), args: [n] });
      if (Jobs.failuresLeft-- > 0) throw new Error(`flaky failure ${Jobs.calls.length}`);
      return 'ok';
    },
    block() { return new Promise<void>((r) => { unblock = r; }); },
    hang() { Jobs.calls.push({ at: Date.now(), args: [] }); return new Promise(() => undefined); },
    slow(ms: number) { return sleep(ms).then(() => { Jobs.calls.push({ at: Date.now(), args: [ms] }); return ms; }); },
  };

  before(() => { redis = redisClient(); });
  beforeEach(() => {
    prefix = uniquePrefix('rel');
    queue = setup({ prefix });
    queue.register('Jobs', Jobs);
    Jobs.calls = [];
    Jobs.failuresLeft = 0;
  });
  afterEach(async () => {
    unblock();
    await queue.close();
    await dropPrefix(redis, prefix);
  });
  after(() => redis.disconnect());

  describe('leases and recovery', () => {
    it('re-runs a task whose worker died once its lease expires, and refuses the dead attempt\'s late finish', async () => {
      const t = await queue.async(Jobs, 'echo', { args: ['hi'] });
      const ghost = await ghostClaim();
      assert.equal(ghost.id, t.id);
      const w = queue.worker({ leaseMs: 300 });
      await w.start();
      await t.wait({ timeout: 5000 });
      assert.equal(t.state, 'succeeded');
      assert.equal(t.result, 'hi');
      assert.equal(t.attempts, 2);
      assert.equal(await field(t.id, 'stalled'), '1');
      // The "dead" worker comes back and reports a failure for attempt 1: refused, nothing overwritten.
      const r = await queue.internals.script('finish', 'default', ['ghost', 100, 0, 1, '1', String(t.id), String(ghost.attempt), 'fail', '', 0, 5], true) as Buffer[];
      assert.equal(r[0].toString(), String(t.id), 'finish of a stale attempt is refused');
      await t.reload();
      assert.equal(t.state, 'succeeded');
      assert.equal(t.result, 'hi');
      assert.equal(Jobs.calls.length, 1);
      await w.stop();
    });

    it('keeps renewing the lease of a long task, so no other worker runs it again', async () => {
      const t = await queue.async(Jobs, 'slow', { args: [1200] });
      const a = queue.worker({ leaseMs: 300 });
      const b = queue.worker({ leaseMs: 300 });
      await a.start();
      await b.start();
      await t.wait({ timeout: 5000 });
      assert.equal(t.state, 'succeeded');
      assert.equal(t.attempts, 1);
      assert.equal(await field(t.id, 'stalled'), null);
      assert.equal(Jobs.calls.length, 1);
      await Promise.all([a.stop(), b.stop()]);
    });

    for (const [maxStalls, failsAfter] of [[undefined, 2], [0, 1], [2, 3]] as const) {
      it(`fails a task with "worker lost" after ${failsAfter} stall(s) with maxStalls ${maxStalls ?? '1 (default)'}`, async () => {
        const busy = await queue.async(Jobs, 'block', { priority: 100 });
        const w = queue.worker({ leaseMs: 200, ...(maxStalls === undefined ? {} : { maxStalls }) });
        await w.start();
        await until(async () => (await field(busy.id, 'state')) === 'running', 5000, 'the blocker to run');
        const t = await queue.async(Jobs, 'echo', { args: [1] });
        for (let i = 1; i <= failsAfter; i++) {
          const g = await ghostClaim();
          assert.equal(g.id, t.id);
          assert.equal(g.attempt, i);
          const want = i < failsAfter ? 'queued' : 'failed';
          await until(async () => (await field(t.id, 'state')) === want, 5000, `the sweep to make it ${want} after stall ${i}`);
        }
        await t.reload();
        assert.equal(t.success, false);
        assert.equal((t.result as Error).name, 'WorkerLostError');
        assert.match((t.result as Error).message, /worker lost/);
        assert.equal(await field(t.id, 'stalled'), String(failsAfter));
        assert.equal(Jobs.calls.length, 0, 'never ran');
        assert.equal(await redis.zscore(queue.internals.keys('default').running, String(t.id)), null, 'no lease left');
        const m = await readTotals(redis, queue.internals.keys('default'));
        assert.equal(m.tasks.get('Jobs#echo')?.failed, 1, 'the metrics count it failed, once');
        unblock();
        await w.stop();
      });
    }

    it('rejects a bad maxStalls', () => {
      assert.throws(() => queue.worker({ maxStalls: -1 }), /maxStalls must be an integer >= 0/);
      assert.throws(() => queue.worker({ maxStalls: 1.5 }), /maxStalls/);
    });

    it('ends a task cancelled while its dead worker held it as cancelled, not re-run', async () => {
      const t = await queue.async(Jobs, 'echo', { args: [1] });
      await ghostClaim();
      assert.equal(await t.cancel(), 'running');
      const w = queue.worker({ leaseMs: 200 });
      await w.start();
      await until(async () => (await field(t.id, 'state')) === 'cancelled', 5000, 'the sweep to end it');
      await sleep(300);
      assert.equal(Jobs.calls.length, 0);
      await w.stop();
    });

    it('hands back running tasks at stop after the grace period; a cancelled one ends cancelled', async () => {
      const w = queue.worker({ concurrency: 2 });
      await w.start();
      const a = await queue.async(Jobs, 'hang');
      const b = await queue.async(Jobs, 'hang');
      await until(() => Jobs.calls.length === 2, 5000, 'both to run');
      await b.cancel();
      await w.stop({ graceMs: 50 });
      assert.equal(await redis.zcard(queue.internals.keys('default').running), 0, 'no lease left behind');
      assert.equal(await field(a.id, 'state'), 'queued');
      assert.equal(await field(a.id, 'released'), '1');
      assert.equal(await field(b.id, 'state'), 'cancelled');
    });
  });

  describe('retries with backoff', () => {
    it('retries a failing task with a fixed backoff, keeping every error, until it succeeds', async () => {
      Jobs.failuresLeft = 2;
      const t = await queue.async(Jobs, 'flaky', { args: [1], attempts: 3, backoff: { type: 'fixed', delay: 150 } });
      const w = queue.worker();
      await w.start();
      await t.wait({ timeout: 5000 });
      assert.equal(t.state, 'succeeded');
      assert.equal(t.result, 'ok');
      assert.equal(t.attempts, 3);
      assert.deepEqual(t.errors.map((e) => e.message), ['flaky failure 1', 'flaky failure 2']);
      for (let i = 1; i < 3; i++) assert.ok(Jobs.calls[i].at - Jobs.calls[i - 1].at >= 140, `attempt ${i + 1} waited the backoff`);
      await w.stop();
    });

    it('doubles an exponential backoff and fails after the last attempt with the last error', async () => {
      Jobs.failuresLeft = 99;
      const t = await queue.async(Jobs, 'flaky', { args: [1], attempts: 3, backoff: { type: 'exponential', delay: 100 } });
      const w = queue.worker();
      await w.start();
      await t.wait({ timeout: 5000 });
      assert.equal(t.state, 'failed');
      assert.equal(t.attempts, 3);
      assert.equal(t.errors.length, 3);
      assert.equal((t.result as Error).message, 'flaky failure 3');
      assert.ok(Jobs.calls[1].at - Jobs.calls[0].at >= 95);
      assert.ok(Jobs.calls[2].at - Jobs.calls[1].at >= 195, 'second delay doubled');
      await w.stop();
    });

    it('does not count a stall as a failed attempt', async () => {
      Jobs.failuresLeft = 1;
      const t = await queue.async(Jobs, 'flaky', { args: [1], attempts: 2 });
      await ghostClaim();
      const w = queue.worker({ leaseMs: 200 });
      await w.start();
      await t.wait({ timeout: 5000 });
      assert.equal(t.state, 'succeeded', 'stall + 1 failure + success fits in attempts: 2');
      assert.equal(t.attempts, 3);
      await w.stop();
    });

    it('keeps the seed\'s single attempt by default', async () => {
      Jobs.failuresLeft = 1;
      const t = await queue.async(Jobs, 'flaky', { args: [1] });
      const w = queue.worker();
      await w.start();
      await t.wait({ timeout: 5000 });
      assert.equal(t.state, 'failed');
      assert.equal(t.attempts, 1);
      await w.stop();
    });

    it('does not retry what another attempt cannot fix (unknown type, undecodable args)', async () => {
      const registry = queue.internals.registry;
      const base: Claimed = { queue: 'default', id: '1', attempt: 1, type: 'Jobs', objectId: '', action: 'echo', args: '', timeout: 0, maxAttempts: 5, backoff: '', stalled: 0, released: 0 };
      assert.equal((await perform(registry, { ...base, type: 'Nope' })).outcome, 'fail');
      assert.equal((await perform(registry, { ...base, args: Buffer.from([0xc1]) })).outcome, 'fail');
      Jobs.failuresLeft = 1;
      assert.equal((await perform(registry, { ...base, action: 'flaky' })).outcome, 'retry');
    });
  });

  describe('timeouts and AbortSignal', () => {
    it('fails an attempt that runs past its timeout with a TimeoutError, and the worker goes on', async () => {
      const w = queue.worker();
      await w.start();
      const t = await queue.async(Jobs, 'hang', { timeout: 100, attempts: 2 });
      const next = await queue.async(Jobs, 'echo', { args: ['after'], priority: 0 });
      await t.wait({ timeout: 5000 });
      assert.equal(t.state, 'failed');
      assert.equal(t.errors.length, 2, 'timed out twice');
      assert.equal((t.result as Error).name, 'TimeoutError');
      assert.match((t.result as Error).message, /Jobs#hang timed out after 100 ms/);
      await next.wait({ timeout: 5000 });
      assert.equal(next.result, 'after');
      assert.equal(await redis.zcard(queue.internals.keys('default').running), 0, 'lease released');
      await w.stop({ graceMs: 10 });
    });

    it('passes an AbortSignal as the last argument to a method that asks for one, aborted on timeout', async () => {
      const seen: { signal?: AbortSignal; reason?: unknown; args?: unknown[] } = {};
      const Mailer = {
        deliver(to: string, signal: AbortSignal) {
          seen.signal = signal;
          seen.args = [to];
          return new Promise((_r, reject) => signal.addEventListener('abort', () => { seen.reason = signal.reason; reject(signal.reason); }));
        },
        plain(...args: unknown[]) { return args.length; },
      };
      queue.register('Mailer', Mailer, { defaults: { deliver: { timeout: 100, signal: true } } });
      const w = queue.worker();
      await w.start();
      const t = await queue.async(Mailer, 'deliver', { args: ['a@b.c'] });
      const p = await queue.async(Mailer, 'plain', { args: [1, 2] });
      await t.wait({ timeout: 5000 });
      assert.equal(t.state, 'failed');
      assert.ok(seen.signal instanceof AbortSignal);
      assert.deepEqual(seen.args, ['a@b.c']);
      assert.ok(seen.reason instanceof TimeoutError);
      await p.wait({ timeout: 5000 });
      assert.equal(p.result, 2, 'no signal for a method that did not ask');
      assert.equal(await field(t.id, 'timeout'), '100', 'the default timeout was stored at enqueue');
      await w.stop();
    });

    it('aborts the signal when the worker finds its lease taken over', async () => {
      let reason: unknown;
      const Long = { run(signal: AbortSignal) { return new Promise((r) => signal.addEventListener('abort', () => { reason = signal.reason; r('late'); })); } };
      queue.register('Long', Long, { defaults: { run: { signal: true } } });
      const errors: Error[] = [];
      const w = queue.worker({ leaseMs: 300 });
      w.on('error', (e) => errors.push(e));
      await w.start();
      const t = await queue.async(Long, 'run');
      await until(async () => (await field(t.id, 'state')) === 'running', 5000, 'it to run');
      // As if the sweep had given the task to another worker: the attempt token moves on.
      await redis.hincrby(`${base()}t:${t.id}`, 'attempts', 1);
      await until(() => reason !== undefined, 5000, 'the signal to be aborted');
      assert.match(String((reason as Error).message), /lost the lease/);
      await sleep(100);
      assert.equal(await field(t.id, 'state'), 'running', 'the outcome of the lost attempt did not land');
      assert.ok(errors.some((e) => /finish refused/.test(e.message)));
      await w.stop();
    });

    it('aborts the signal of a task handed back at stop', async () => {
      let reason: unknown;
      const Long = { run(signal: AbortSignal) { return new Promise((r) => signal.addEventListener('abort', () => { reason = signal.reason; r(null); })); } };
      queue.register('Long', Long, { defaults: { run: { signal: true } } });
      const w = queue.worker();
      await w.start();
      const t = await queue.async(Long, 'run');
      await until(async () => (await field(t.id, 'state')) === 'running', 5000, 'it to run');
      await w.stop({ graceMs: 50 });
      assert.match(String((reason as Error)?.message), /handed back/);
      assert.equal(await field(t.id, 'state'), 'queued', 'handed back, its outcome did not land');
    });
  });

  describe('per-method defaults', () => {
    it('applies register(…, { defaults }) at enqueue; per-call options win', async () => {
      const Mailer = { deliver() { return 1; }, other() { return 2; } };
      queue.register('Mailer', Mailer, { defaults: { deliver: { attempts: 5, backoff: { type: 'exponential', delay: 1000, jitter: 0.2 }, priority: 3 } } });
      const a = await queue.async(Mailer, 'deliver');
      assert.equal(await field(a.id, 'max_attempts'), '5');
      assert.equal(await field(a.id, 'backoff'), 'exponential:1000:0.2');
      assert.equal(a.priority, 3);
      const b = await queue.async(Mailer, 'deliver', { attempts: 1, priority: 7 });
      assert.equal(await field(b.id, 'max_attempts'), null);
      assert.equal(b.priority, 7);
      const c = await queue.async(Mailer, 'other');
      assert.equal(await field(c.id, 'max_attempts'), null);
    });

    it('reads `static asyncDefaults` of a registered class', async () => {
      class Reports { static asyncDefaults = { build: { attempts: 4 } }; static build() { return 1; } }
      queue.register(Reports);
      const t = await queue.async(Reports, 'build');
      assert.equal(await field(t.id, 'max_attempts'), '4');
    });

    it('refuses bad defaults, naming what is wrong', () => {
      assert.throws(() => queue.register('A', { m() { return 1; } }, { defaults: { m: { atempts: 5 } as never } }), /defaults\.m has unknown option 'atempts'/);
      assert.throws(() => queue.register('B', { m() { return 1; } }, { defaults: { m: { signal: 'yes' } as never } }), /signal must be true or false/);
      assert.throws(() => queue.register('C', { m() { return 1; } }, { default: {} } as never), /options must be \{ defaults/);
      class Bad { static asyncDefaults = { m: { attempts: 0 } }; static m() { return 1; } }
      queue.register(Bad);
      return assert.rejects(queue.async(Bad, 'm'), /attempts must be an integer >= 1/);
    });

    describe('on a model', () => {
      let sequelize: Sequelize;
      class Invoice extends Model {
        declare id: number;
        static asyncDefaults = { send: { attempts: 3, backoff: { type: 'fixed' as const, delay: 10 } } };
        static sent = 0;
        send() { if (Invoice.sent++ === 0) throw new Error('smtp down'); return this.id; }
      }
      before(async () => {
        sequelize = await mysqlDb('sa_faults');
        Invoice.init({ id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true } }, { sequelize, tableName: `rel_invoices_${process.pid}` });
        await Invoice.sync({ force: true });
      });
      after(async () => {
        await Invoice.drop().catch(() => undefined);
        await sequelize.close();
      });

      it('uses the model\'s static asyncDefaults for instance tasks', async () => {
        const mq = setup({ prefix: uniquePrefix('relm'), sequelize, mirror: false });
        try {
          const inv = await Invoice.create();
          const t = await inv.async('send');
          const w = mq.worker();
          await w.start();
          await t.wait({ timeout: 5000 });
          assert.equal(t.state, 'succeeded');
          assert.equal(t.result, inv.id);
          assert.equal(t.attempts, 2);
          assert.equal(t.errors[0].message, 'smtp down');
        } finally {
          await mq.close();
          await dropPrefix(redis, mq.prefix);
        }
      });
    });
  });
});
