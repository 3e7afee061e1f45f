// The core behaviour, run against real Redis, against the in-process mock ('mock'), on a Redis
// Cluster of 3 masters and through Sentinel (spec/cluster-harness.ts): the same Lua scripts must
// behave the same on all.
import { strict as assert } from 'assert';
import { setup, Queue, TimeoutError } from '../lib';
import type { AsyncMixin } from '../types';
import { REDIS_URL, uniquePrefix, dropPrefix, redisClient, until } from './helpers';
import { sharedCluster, RedisCluster, sharedSentinel, SentinelSet } from './cluster-harness';

class Calc {
  static calls: unknown[][] = [];
  static add(a: number, b: number) { Calc.calls.push([a, b]); return a + b; }
  static echo(...args: unknown[]) { return args; }
  static nothing() { return undefined; }
  static nul() { return null; }
  static async later(ms: number) { await new Promise((r) => setTimeout(r, ms)); return 'done'; }
  static fail(msg: string) {
    const e = new RangeError(msg) as RangeError & { code?: string; detail?: unknown };
    e.code = 'E_CALC';
    e.detail = { at: 3 };
    throw e;
  }
  static async rejects() { throw new Error('async failure'); }
  static record(tag: string) { Calc.calls.push([tag]); }
}

const Mailer = {
  sent: [] as string[],
  deliver(to: string) { Mailer.sent.push(to); return `sent to ${to}`; },
};

const NAMES = { redis: 'real Redis', mock: 'ioredis-mock', cluster: 'a Redis Cluster (3 masters, a replica each)', sentinel: 'Sentinel (a master, a replica, 3 sentinels)' };
for (const backend of ['redis', 'mock', 'cluster', 'sentinel'] as const) {
  describe(`core behaviour on ${NAMES[backend]}`, function () {
    this.timeout(backend === 'mock' ? 60000 : 20000);
    let queue: Queue;
    let prefix: string;
    let cluster: RedisCluster | undefined;
    let sentinels: SentinelSet | undefined;

    before(async () => {
      if (backend === 'cluster') cluster = await sharedCluster();
      if (backend === 'sentinel') sentinels = await sharedSentinel();
    });

    beforeEach(() => {
      prefix = uniquePrefix('conf');
      queue = setup({ redis: backend === 'redis' ? REDIS_URL : backend === 'mock' ? 'mock'
        : backend === 'cluster' ? { cluster: cluster!.startupNodes } : { sentinels: sentinels!.sentinelAddrs, name: sentinels!.name }, prefix });
      queue.register(Calc);
      queue.register('Mailer', Mailer);
      Calc.calls = [];
      Mailer.sent = [];
    });

    afterEach(async () => {
      if (backend === 'redis') {
        const r = redisClient();
        await dropPrefix(r, prefix);
        r.disconnect();
      }
      await queue.close();
    });

    async function runAll(concurrency = 1) {
      const w = queue.worker({ concurrency });
      await w.start();
      return w;
    }

    it('runs a class method with args and stores its result', async () => {
      const task = await (Calc as unknown as AsyncMixin).async('add', { args: [29, 90] });
      assert.equal(task.state, 'queued');
      assert.deepEqual(task.args, [29, 90]);
      assert.equal(task.priority, 10);
      assert.equal(task.objectType, 'Calc');
      assert.equal(task.objectId, null);
      await runAll();
      await task.wait({ timeout: 5000 });
      assert.equal(task.state, 'succeeded');
      assert.equal(task.success, true);
      assert.equal(task.result, 119);
      assert.deepEqual(task.args, [29, 90]);
      assert.equal(task.attempts, 1);
      assert.ok(task.startedAt && task.finishedAt && task.finishedAt >= task.startedAt);
    });

    it('runs methods of registered module objects', async () => {
      const task = await queue.async(Mailer, 'deliver', { args: ['ann@example.com'] });
      await runAll();
      await task.wait({ timeout: 5000 });
      assert.deepEqual(Mailer.sent, ['ann@example.com']);
      assert.equal(task.result, 'sent to ann@example.com');
    });

    it('round-trips Date, Buffer, BigInt, Map, Set, nested values and null through args and results', async () => {
      const args = [new Date('2008-11-18T03:00:00.123Z'), Buffer.from([0, 1, 254, 255]), 12345678901234567890123n, -7n,
        new Map<unknown, unknown>([['a', 1], [2, new Set(['x'])]]), new Set([1, 'two', null]),
        { deep: { list: [1, [2, [3]]], when: new Date(0), none: null } }, null, 2 ** 53 - 1, -1.5, 'ünïcödé ✓'];
      const task = await queue.async(Calc, 'echo', { args });
      await runAll();
      await task.wait({ timeout: 5000 });
      assert.equal(task.state, 'succeeded');
      assert.deepEqual(task.args, args);
      assert.deepEqual(task.result, args);
      const r = task.result as unknown[];
      assert.ok(r[0] instanceof Date && Buffer.isBuffer(r[1]) && typeof r[2] === 'bigint' && r[4] instanceof Map && r[5] instanceof Set);
    });

    it('stores nothing for null/undefined results and still succeeds', async () => {
      const a = await queue.async(Calc, 'nothing');
      const b = await queue.async(Calc, 'nul');
      await runAll();
      for (const t of [a, b]) {
        await t.wait({ timeout: 5000 });
        assert.equal(t.success, true);
        assert.equal(t.result, undefined);
      }
      const h = await queue.internals.readHash('default', a.id);
      assert.ok(h && !('result' in h), 'no result field is stored');
    });

    it('stores an exception with name, message, stack, own properties and backtrace', async () => {
      const task = await queue.async(Calc, 'fail', { args: ['too big'] });
      const other = await queue.async(Calc, 'rejects');
      await runAll();
      await task.wait({ timeout: 5000 });
      assert.equal(task.state, 'failed');
      assert.equal(task.success, false);
      const err = task.result as Error & { code: string; detail: unknown; backtrace: string[] };
      assert.ok(err instanceof Error);
      assert.equal(err.name, 'RangeError');
      assert.equal(err.message, 'too big');
      assert.equal(err.code, 'E_CALC');
      assert.deepEqual(err.detail, { at: 3 });
      assert.match(err.stack!, /RangeError: too big\n\s+at /);
      assert.ok(err.backtrace.length > 0 && err.backtrace.every((l) => l.startsWith('at ')));
      assert.match(err.backtrace[0], /fail/);
      assert.deepEqual(task.errors.map((e) => e.message), ['too big']);
      await other.wait({ timeout: 5000 });
      assert.equal((other.result as Error).message, 'async failure');
    });

    it('runs the highest priority first, then the earliest scheduled time, then the lowest id', async () => {
      const t0 = Date.now() - 10000;
      const made = [
        await queue.async(Calc, 'record', { args: ['p5-late'], priority: 5, scheduledAt: t0 + 20 }),
        await queue.async(Calc, 'record', { args: ['p5-early'], priority: 5, scheduledAt: t0 + 10 }),
        await queue.async(Calc, 'record', { args: ['p12'], priority: 12, scheduledAt: t0 + 30 }),
        await queue.async(Calc, 'record', { args: ['p-3'], priority: -3, scheduledAt: t0 }),
        await queue.async(Calc, 'record', { args: ['p5-early-second'], priority: 5, scheduledAt: t0 + 10 }),
        await queue.schedule(Calc, t0 + 40, 'record', { args: ['schedule-default-20'] }),
      ];
      await runAll();
      await Promise.all(made.map((t) => t.wait({ timeout: 5000 })));
      assert.deepEqual(Calc.calls.map((c) => c[0]), ['schedule-default-20', 'p12', 'p5-early', 'p5-early-second', 'p5-late', 'p-3']);
      assert.equal(made[5].priority, 20);
    });

    it('never runs a scheduled task early, and it does not hold back due tasks', async () => {
      const at = Date.now() + 400;
      const later = await queue.schedule(Calc, new Date(at), 'record', { args: ['later'], priority: 99 });
      assert.equal(later.state, 'scheduled');
      const now = await queue.async(Calc, 'record', { args: ['now'] });
      await runAll();
      await now.wait({ timeout: 5000 });
      await later.reload();
      assert.equal(later.state, 'scheduled');
      await later.wait({ timeout: 5000 });
      assert.ok(later.startedAt!.getTime() >= at, `started ${at - later.startedAt!.getTime()} ms early`);
      assert.deepEqual(Calc.calls.map((c) => c[0]), ['now', 'later']);
    });

    it('cancels queued and scheduled tasks so they never run, and only marks a running one', async () => {
      const queued = await queue.async(Calc, 'record', { args: ['queued'] });
      const sched = await queue.schedule(Calc, Date.now() + 200, 'record', { args: ['scheduled'] });
      assert.equal(await queued.cancel(), 'cancelled');
      assert.equal(await sched.cancel(), 'cancelled');
      assert.equal(queued.state, 'cancelled');
      assert.equal(queued.cancelled, true);
      const running = await queue.async(Calc, 'later', { args: [300] });
      await runAll();
      await until(async () => (await running.reload()).state === 'running', 5000, 'the task to start');
      assert.equal(await running.cancel(), 'running');
      await running.wait({ timeout: 5000 });
      assert.equal(running.state, 'succeeded');
      assert.equal(running.cancelled, true);
      assert.equal(running.result, 'done');
      await new Promise((r) => setTimeout(r, 400));
      assert.deepEqual(Calc.calls, []);
      assert.equal(await queued.cancel(), 'cancelled', 'cancelling twice is harmless');
    });

    it('finds a task by id from any queue', async () => {
      const t = await queue.async(Calc, 'add', { args: [1, 2], queue: 'mailers', priority: 3 });
      const found = await queue.task(t.id);
      assert.ok(found);
      assert.equal(found.queue, 'mailers');
      assert.equal(found.action, 'add');
      assert.equal(found.priority, 3);
      assert.deepEqual(found.args, [1, 2]);
      assert.equal(await queue.task(t.id + 100000), null);
    });

    it('task.wait rejects with a TimeoutError when nothing runs it', async () => {
      const t = await queue.async(Calc, 'add', { args: [1, 1] });
      await assert.rejects(t.wait({ timeout: 50 }), TimeoutError);
    });

    it('works each queue in the order a worker lists them', async () => {
      const low = await queue.async(Calc, 'record', { args: ['low-queue'], queue: 'low', priority: 1000 });
      const high = await queue.async(Calc, 'record', { args: ['high-queue'], queue: 'high', priority: 1 });
      const w = queue.worker({ queues: ['high', 'low'] });
      await w.start();
      await Promise.all([low.wait({ timeout: 5000 }), high.wait({ timeout: 5000 })]);
      assert.deepEqual(Calc.calls.map((c) => c[0]), ['high-queue', 'low-queue']);
    });
  });
}
