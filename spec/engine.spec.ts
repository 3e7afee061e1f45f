// Engine properties against real Redis: exact ordering, exactly-once under concurrent
// workers, validation at enqueue (nothing stored on bad input), wake-up latency.
import { strict as assert } from 'assert';
import { setup, Queue, MIN_PRIORITY, MAX_PRIORITY } from '../lib';
import { REDIS_URL, uniquePrefix, dropPrefix, redisClient, until, sleep } from './helpers';
import Redis from 'ioredis';
import { RedisServer } from './faults/servers';

class Job {
  static seen: number[] = [];
  static mark(n: number) { Job.seen.push(n); }
  static noop() {}
  static prototypeTrap() {}
}

describe('engine on real Redis', function () {
  this.timeout(60000);
  let queue: Queue;
  let prefix: string;
  const others: Queue[] = [];

  beforeEach(() => {
    prefix = uniquePrefix('eng');
    queue = setup({ redis: REDIS_URL, prefix });
    queue.register(Job);
    Job.seen = [];
  });

  afterEach(async () => {
    await Promise.all([queue, ...others.splice(0)].map((q) => q.close()));
    const r = redisClient();
    await dropPrefix(r, prefix);
    r.disconnect();
  });

  async function keyCount(): Promise<number> {
    const r = redisClient();
    const keys = await r.keys(`{${prefix}:*`);
    r.disconnect();
    return keys.length;
  }

  it('orders due tasks by priority desc, scheduled time asc, id asc — random cases against a reference sort', async () => {
    let seed = 42;
    const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    const priorities = [MIN_PRIORITY, -1, 0, 10, 20, 11, MAX_PRIORITY, 2 ** 30];
    const base = Date.now() - 100000;
    for (let round = 0; round < 3; round++) {
      Job.seen = [];
      const made: { n: number; id: number; priority: number; at: number }[] = [];
      for (let n = 0; n < 150; n++) {
        const priority = priorities[rand(priorities.length)];
        const at = base + rand(5) * 1000 + rand(3); // few distinct times, so ties happen
        const t = await queue.async(Job, 'mark', { args: [n], priority, scheduledAt: at });
        made.push({ n, id: t.id, priority, at });
      }
      const expected = [...made].sort((a, b) => b.priority - a.priority || a.at - b.at || a.id - b.id).map((m) => m.n);
      const w = queue.worker();
      await w.start();
      await until(() => Job.seen.length === made.length, 20000, 'all tasks to run');
      await w.stop();
      assert.deepEqual(Job.seen, expected);
    }
  });

  it('keeps exact order across in-order arrivals (the list) and late ones (the zset), and cancels from either', async () => {
    const k = queue.internals.keys('default');
    const r = redisClient();
    try {
      const now = Date.now();
      // A second producer with its own id block and a clock 50 ms behind: its tasks sort before
      // the first producer's, though they arrive after them.
      const other = setup({ redis: REDIS_URL, prefix });
      other.register(Job);
      others.push(other);
      const made: { n: number; id: number; at: number }[] = [];
      const add = async (q: Queue, n: number, at: number) => made.push({ n, id: (await q.async(Job, 'mark', { args: [n], scheduledAt: at })).id, at });
      for (let n = 0; n < 10; n++) await add(queue, n, now - 1000 + n);
      for (let n = 10; n < 20; n++) await add(other, n, now - 1050 + n);
      await queue.bulk(Array.from({ length: 10 }, (_, i) => [Job, 'mark', { args: [20 + i], scheduledAt: now - 1000 + 5 }] as [object, string, object]))
        .then((ts) => ts.forEach((t, i) => made.push({ n: 20 + i, id: t.id, at: now - 1000 + 5 })));
      const [inList, inZset] = [await r.llen(`${k.base}fifo:10`), await r.zcard(`${k.base}due:10`)];
      assert.ok(inList > 0 && inZset > 0, `both kinds of entry (list ${inList}, zset ${inZset})`);
      assert.equal(inList + inZset, 30);
      assert.equal((await queue.stats()).default.queued, 30);
      // Cancel one from each: neither runs, both leave their structure.
      const fromList = made[9], fromZset = made[10];
      assert.equal(await (await queue.task(fromList.id))!.cancel(), 'cancelled');
      assert.equal(await (await queue.task(fromZset.id))!.cancel(), 'cancelled');
      assert.equal(await r.llen(`${k.base}fifo:10`) + await r.zcard(`${k.base}due:10`), 28);
      assert.equal((await queue.stats()).default.queued, 28);
      const expected = made.filter((m) => m !== fromList && m !== fromZset).sort((a, b) => a.at - b.at || a.id - b.id).map((m) => m.n);
      const w = queue.worker({ prefetch: 0 });
      await w.start();
      await until(() => Job.seen.length === 28, 10000, 'all tasks to run');
      await w.stop();
      assert.deepEqual(Job.seen, expected);
      assert.equal(await r.exists(`${k.base}fifo:10`, `${k.base}due:10`), 0, 'nothing left behind');
      assert.deepEqual(await r.zrange(k.levels, 0, -1), []);
    } finally { r.disconnect(); }
  });

  it('runs every task exactly once with 4 workers on separate connections (8,000 tasks)', async () => {
    const N = 8000;
    const counts = new Map<number, number>();
    class Counter { static hit(n: number) { counts.set(n, (counts.get(n) ?? 0) + 1); } }
    const qs = [queue, ...[1, 2, 3].map(() => setup({ redis: REDIS_URL, prefix }))];
    others.push(...qs.slice(1));
    for (const q of qs) q.register(Counter);
    const workers = qs.map((q) => q.worker({ concurrency: 8 }));
    await Promise.all(workers.map((w) => w.start()));
    const per = new Map<string, number>();
    workers.forEach((w) => w.on('task', () => per.set(w.name, (per.get(w.name) ?? 0) + 1)));
    for (let i = 0; i < N; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => qs[j % 4].async(Counter, 'hit', { args: [i + j] })));
    }
    await until(() => counts.size === N, 30000, 'all tasks to run');
    await sleep(200);
    assert.equal(counts.size, N);
    assert.ok([...counts.values()].every((c) => c === 1), 'a task ran twice');
    assert.equal([...per.values()].reduce((a, b) => a + b, 0), N);
    assert.equal(per.size, 4, `only ${per.size} workers got work`);
    const stats = await queue.stats();
    assert.equal(stats.default.queued + stats.default.running + stats.default.scheduled, 0);
  });

  describe('bad input is refused at enqueue and stores nothing', () => {
    const cases: [string, () => Promise<unknown>, RegExp, ErrorConstructor][] = [
      ['priority above the range', () => queue.async(Job, 'noop', { priority: MAX_PRIORITY + 1 }), /priority must be an integer from -2147483648 to 2147483647 \(got 2147483648\)/, RangeError],
      ['priority below the range', () => queue.async(Job, 'noop', { priority: MIN_PRIORITY - 1 }), /priority must be an integer/, RangeError],
      ['a fractional priority', () => queue.async(Job, 'noop', { priority: 1.5 }), /priority must be an integer .* \(got 1.5\)/, RangeError],
      ['a string priority', () => queue.async(Job, 'noop', { priority: '5' as unknown as number }), /priority must be an integer/, RangeError],
      ['a function in args', () => queue.async(Job, 'mark', { args: [{ cb: () => 1 }] }), /args\[0\]\.cb is a function, which cannot be stored/, TypeError],
      ['a symbol in args', () => queue.async(Job, 'mark', { args: [1, Symbol('s')] }), /args\[1\] is a symbol, which cannot be stored/, TypeError],
      ['a circular structure in args', () => { const o: Record<string, unknown> = {}; o.self = o; return queue.async(Job, 'mark', { args: [o] }); }, /args\[0\]\.self is a circular reference/, TypeError],
      ['args that are not an array', () => queue.async(Job, 'mark', { args: 5 as unknown as unknown[] }), /args must be an array/, TypeError],
      ['an unknown option', () => queue.async(Job, 'noop', { priorty: 5 } as object), /unknown option 'priorty'/, TypeError],
      ['an invalid date', () => queue.schedule(Job, new Date('nope'), 'noop'), /schedule time must be a valid Date/, TypeError],
      ['an unregistered class', () => queue.async(class Stranger { static go() {} }, 'go'), /Stranger is not registered: call queue.register\(Stranger\) first/, TypeError],
      ['a name that is not a function', () => queue.async(Job, 'seen'), /Job#seen is not a function/, TypeError],
      ['a missing method', () => queue.async(Job, 'nope'), /Job#nope is not a function/, TypeError],
      ['constructor', () => queue.async(Job, 'constructor'), /Job#constructor may not be called/, TypeError],
      ['__proto__', () => queue.async(Job, '__proto__'), /may not be called|method name/, TypeError],
      ['an inherited Object member', () => queue.async(Job, 'toString'), /Job#toString may not be called/, TypeError],
      ['an inherited Function member', () => queue.async(Job, 'bind'), /Job#bind may not be called/, TypeError],
      ['a bad queue name', () => queue.async(Job, 'noop', { queue: 'a b' }), /queue name must be/, TypeError],
    ];
    for (const [what, run, message, type] of cases) {
      it(`refuses ${what}`, async () => {
        await assert.rejects(run(), (e: Error) => { assert.ok(e instanceof type, `${e.name}: ${e.message}`); assert.match(e.message, message); return true; });
        assert.equal(await keyCount(), 0, 'something was stored');
      });
    }
  });

  it('a Redis that lost its scripts (SCRIPT FLUSH, as after a restart without persistence) gets them again: enqueue, claim and finish go on', async () => {
    const server = await RedisServer.start();
    const q = setup({ redis: server.url, prefix });
    try {
      q.register(Job);
      const w = q.worker({ concurrency: 2 });
      await w.start();
      await (await q.async(Job, 'mark', { args: [1] })).wait({ timeout: 5000 });
      const admin = new Redis(server.url);
      await admin.script('FLUSH');
      assert.deepEqual(await admin.script('EXISTS', '0'.repeat(40)), [0]);
      // Each hot-path script (enqueue, then the worker's claim and finish) meets NOSCRIPT once.
      const ts = await Promise.all([2, 3, 4].map((n) => q.async(Job, 'mark', { args: [n] })));
      for (const t of ts) await t.wait({ timeout: 5000 });
      assert.deepEqual(ts.map((t) => t.state), ['succeeded', 'succeeded', 'succeeded']);
      assert.deepEqual([...Job.seen].sort(), [1, 2, 3, 4]);
      admin.disconnect();
      await w.stop();
    } finally {
      await q.close();
      await server.stop();
    }
  });

  it('bulk stores many tasks, and stores none when one entry is bad', async () => {
    await assert.rejects(queue.bulk([[Job, 'mark', { args: [1] }], [Job, 'nope']]), /bulk entry 1: Job#nope is not a function/);
    assert.equal(await keyCount(), 0);
    const tasks = await queue.bulk(Array.from({ length: 2500 }, (_, i) => [Job, 'mark', { args: [i], priority: i % 3 }] as [object, string, object]));
    assert.equal(tasks.length, 2500);
    assert.equal(new Set(tasks.map((t) => t.id)).size, 2500);
    const w = queue.worker({ concurrency: 20 });
    await w.start();
    await until(() => Job.seen.length === 2500, 20000, 'all bulk tasks');
    assert.deepEqual([...Job.seen].sort((a, b) => a - b), Array.from({ length: 2500 }, (_, i) => i));
  });

  it('prefetch: short tasks still run once each and in order, and a stop hands unstarted ones back', async () => {
    const w = queue.worker({ concurrency: 1, prefetch: 8 });
    for (let i = 0; i < 40; i++) await queue.async(Job, 'mark', { args: [i] });
    await w.start();
    await until(() => Job.seen.length === 40, 10000, 'prefetched tasks');
    assert.deepEqual(Job.seen, Array.from({ length: 40 }, (_, i) => i));
    // A slow task with prefetched ones behind it: stopping runs none of those and hands them back.
    const gate: { open?: () => void } = {};
    class Slow { static hold() { return new Promise<void>((r) => { gate.open = r; }); } }
    queue.register(Slow);
    const slow = await queue.async(Slow, 'hold', { priority: 100 });
    const behind = await Promise.all([1, 2, 3].map((n) => queue.async(Job, 'mark', { args: [100 + n] })));
    await until(async () => (await behind[2].reload()).state === 'running', 5000, 'tasks to be prefetched');
    const stopping = w.stop({ graceMs: 5000 });
    gate.open!();
    await stopping;
    await slow.reload();
    assert.equal(slow.state, 'succeeded');
    for (const t of behind) {
      await t.reload();
      assert.equal(t.state, 'queued', `task ${t.id} should be back in the queue`);
    }
    assert.equal(Job.seen.length, 40);
  });

  it("prefetch 'auto' (the default): after short tasks it claims ahead, and hands back what waits behind a long task", async () => {
    const a = queue.worker();
    await a.start();
    await queue.bulk(Array.from({ length: 50 }, (_, i) => [Job, 'mark', { args: [i] }] as [object, string, object]));
    await until(() => Job.seen.length === 50, 10000, 'short tasks');
    const gate: { open?: () => void } = {};
    class Slow { static hold() { return new Promise<void>((r) => { gate.open = r; }); } }
    queue.register(Slow);
    // One enqueue call: the slow task and the short ones behind it become due together.
    const [slow, ...behind] = await queue.bulk([[Slow, 'hold', { priority: 100 }],
      ...[1, 2, 3].map((n) => [Job, 'mark', { args: [100 + n] }] as [object, string, object])]);
    await until(() => gate.open !== undefined, 5000, 'the slow task to start');
    // Claimed ahead with the slow task, then handed back to the queue for other workers.
    const r = redisClient();
    try {
      await until(async () => (await Promise.all(behind.map((t) => r.hmget(`{${prefix}:default}:t:${t.id}`, 'state', 'released'))))
        .every(([state, released]) => state === 'queued' && released === '1'), 5000, 'prefetched tasks to be handed back');
    } finally { r.disconnect(); }
    const b = queue.worker();
    await b.start();
    await until(() => Job.seen.length === 53, 5000, 'another worker to run the handed-back tasks');
    assert.equal((await slow.reload()).state, 'running', 'the slow task is still running meanwhile');
    gate.open!();
    await slow.wait({ timeout: 5000 });
    assert.deepEqual(Job.seen.slice(50).sort(), [101, 102, 103]);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('wakes an idle worker within milliseconds of an enqueue from another process (not a poll interval)', async () => {
    const w = queue.worker();
    await w.start();
    // Another queue object, as in another process: only Redis (the marker key) can wake the worker.
    const producer = setup({ redis: REDIS_URL, prefix });
    producer.register(Job);
    others.push(producer);
    await producer.async(Job, 'noop').then((t) => t.wait({ timeout: 5000 })); // connections warm
    await sleep(300); // the worker is now blocked waiting
    const lat: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = Date.now();
      const t = await producer.async(Job, 'noop');
      await t.wait({ timeout: 5000 });
      lat.push(t.startedAt!.getTime() - t0);
      await sleep(20);
    }
    lat.sort((a, b) => a - b);
    // A generous bound: this is not a benchmark (that is `npm run bench`), only proof of no polling.
    assert.ok(lat[10] < 100, `median pickup ${lat[10]} ms`);
  });

  it('starts a scheduled task within 50 ms of its time on an idle worker', async () => {
    const w = queue.worker();
    await w.start();
    const late: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = await queue.schedule(Job, Date.now() + 150, 'noop');
      await t.wait({ timeout: 5000 });
      late.push(t.startedAt!.getTime() - t.scheduledAt.getTime());
    }
    assert.ok(late.every((l) => l >= 0), `ran early: ${late}`);
    late.sort((a, b) => a - b);
    assert.ok(late[2] <= 50, `median start ${late[2]} ms after its time`);
  });
});
