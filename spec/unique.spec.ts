// Unique tasks on the real Redis: a duplicate is refused (the existing task's handle comes back in
// the enqueue's one reply, task.duplicate, nothing stored), per entry in bulk and at commit in a
// transaction, and on ioredis-mock; the lock is
// released by the step that ends it (the start for 'started'; a final state, cancel, for
// 'finished'), kept by a retry, and a lock whose task is gone is free.
import { strict as assert } from 'assert';
import type Redis from 'ioredis';
import { Sequelize, Model, DataTypes } from 'sequelize';
import { setup, Queue } from '../lib';
import { unlock, lockHolder } from '../lib/unique';
import { queuePerTest, REDIS_URL, until, mysqlDb } from './helpers';

describe('unique tasks', function () {
  this.timeout(20000);
  let prefix: string;
  let queue: Queue;
  let redis: Redis;
  const taskCount = async () => (await redis.keys(`{${prefix}:default}:t:*`)).length;

  queuePerTest('uniq', (t) => ({ prefix, queue, redis } = t));

  it('unique: true keys on type, object id, action and args; a duplicate returns the existing task and stores nothing', async () => {
    const Crm = queue.register('Crm', { sync(_id: number) { return 1; }, other() { return 2; } });
    const a = await Crm.async('sync', { args: [42], unique: true });
    const b = await Crm.async('sync', { args: [42], unique: true });
    assert.equal(a.duplicate, false);
    assert.equal(b.duplicate, true);
    assert.equal(b.id, a.id);
    assert.equal(b.state, 'queued');
    assert.deepEqual(b.args, [42]);
    assert.equal(await taskCount(), 1);
    const c = await Crm.async('sync', { args: [43], unique: true });
    const d = await Crm.async('other', { unique: true });
    assert.notEqual(c.id, a.id);
    assert.equal(c.duplicate || d.duplicate, false);
    assert.equal(await taskCount(), 3);
    assert.match((await queue.task(a.id))!.unique ?? '', /^Crm::sync:[0-9a-f]{40}$/);
  });

  it("unique: 'key' across actions; in bulk per entry, and in one batch", async () => {
    const Crm = queue.register('Crm', { a() { return 1; }, b() { return 2; } });
    const [x, y, z] = await queue.bulk([[Crm, 'a', { unique: 'crm-42' }], [Crm, 'b', { unique: 'crm-42' }], [Crm, 'b', { unique: 'crm-43' }]]);
    assert.equal(y.id, x.id);
    assert.equal(y.duplicate, true);
    assert.equal(y.action, 'a', "the handle is the existing task's");
    assert.equal(z.duplicate, false);
    const same = await Promise.all([1, 2, 3].map(() => Crm.async('a', { unique: 'crm-44' })));
    assert.equal(new Set(same.map((t) => t.id)).size, 1);
    assert.deepEqual(same.map((t) => t.duplicate), [false, true, true]);
    assert.equal(await taskCount(), 3);
  });

  it('a batch of distinct keys takes every lock at once; one key held, or gone stale, in a batch is still found', async () => {
    const Crm = queue.register('Crm', { a() { return 1; } });
    const keys = Array.from({ length: 20 }, (_, i) => `b-${i}`);
    const all = await queue.bulk(keys.map((k) => [Crm, 'a', { unique: k }] as [object, string, object]));
    assert.deepEqual(all.map((t) => t.duplicate), keys.map(() => false));
    for (let i = 0; i < keys.length; i++) assert.equal(await lockHolder(queue.internals, keys[i]), all[i].id, `lock ${keys[i]} held by its own task`);
    // b-3 is held: that one is refused, the rest of the batch stored, each with its lock.
    const again = await queue.bulk([[Crm, 'a', { unique: 'c-1' }], [Crm, 'a', { unique: 'b-3' }], [Crm, 'a', { unique: 'c-2' }]]);
    assert.deepEqual(again.map((t) => t.duplicate), [false, true, false]);
    assert.equal(again[1].id, all[3].id);
    assert.equal(await lockHolder(queue.internals, 'c-2'), again[2].id);
    // A lock whose task is gone (deleted by hand) is taken over inside a batch too.
    await redis.del(`{${prefix}:default}:t:${all[5].id}`);
    const over = await queue.bulk([[Crm, 'a', { unique: 'b-5' }], [Crm, 'a', { unique: 'c-3' }]]);
    assert.deepEqual(over.map((t) => t.duplicate), [false, false]);
    assert.equal(await lockHolder(queue.internals, 'b-5'), over[0].id);
    // Single enqueues coalesced into one call: 50 distinct keys, then the same 50 again (all refused).
    const one = await Promise.all(Array.from({ length: 50 }, (_, i) => Crm.async('a', { unique: `s-${i}` })));
    const two = await Promise.all(Array.from({ length: 50 }, (_, i) => Crm.async('a', { unique: `s-${i}` })));
    assert.ok(one.every((t) => !t.duplicate) && two.every((t, i) => t.duplicate && t.id === one[i].id));
    assert.equal(await taskCount(), 20 + 2 + 2 + 50 - 1);
  });

  it('a batch of long, non-ASCII keys (200 characters, up to 600 bytes) locks each under its own key', async () => {
    const Crm = queue.register('Crm', { a() { return 1; } });
    const keys = ['é', '日本', 'x'].map((c, i) => `${i}`.padEnd(200, c));
    const all = await queue.bulk(keys.map((k) => [Crm, 'a', { unique: k }] as [object, string, object]));
    assert.deepEqual(all.map((t) => t.duplicate), [false, false, false]);
    for (let i = 0; i < keys.length; i++) {
      assert.equal(await lockHolder(queue.internals, keys[i]), all[i].id, `lock ${i} held by its own task`);
      assert.equal((await queue.task(all[i].id))!.unique, keys[i]);
    }
    const again = await queue.bulk(keys.map((k) => [Crm, 'a', { unique: k }] as [object, string, object]));
    assert.deepEqual(again.map((t) => [t.duplicate, t.id]), all.map((t) => [true, t.id]));
  });

  it("a refused duplicate's handle shows the task holding the lock, as stored, in the enqueue's one round trip", async () => {
    const Crm = queue.register('Crm', { sync(..._a: unknown[]) { return 1; }, other(_n?: number) { return 2; } });
    const at = Date.now() + 60000;
    const a = await Crm.async('sync', { args: [42, { name: 'Zoë' }], unique: 'crm-42', priority: 3, scheduledAt: at });
    const client = queue.internals.redis as unknown as { sendCommand(c: { name: string }, ...r: unknown[]): unknown };
    const send = client.sendCommand;
    const sent: string[] = [];
    client.sendCommand = function (c, ...r) { sent.push(c.name); return send.call(this, c, ...r); };
    let b: Awaited<ReturnType<typeof Crm.async>>;
    try { b = await Crm.async('other', { args: [7], unique: 'crm-42' }); } finally { client.sendCommand = send; }
    assert.deepEqual(sent, ['evalsha'], 'the enqueue script only: the holder comes back in its reply');
    assert.deepEqual([b.id, b.duplicate, b.state, b.action, b.args, b.priority, b.scheduledAt.getTime(), b.unique],
      [a.id, true, 'scheduled', 'sync', [42, { name: 'Zoë' }], 3, at, 'crm-42'], "the holder's fields, not the refused call's");
    assert.deepEqual(b.createdAt, (await queue.task(a.id))!.createdAt);
    assert.equal(await taskCount(), 1);
  });

  it("uniqueUntil 'started' (default): once it started, a new one may be queued", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const Job = queue.register('Job', { async run() { await gate; return 1; } });
    const a = await Job.async('run', { unique: 'k' });
    const w = queue.worker();
    await w.start();
    await until(async () => (await a.reload()).state === 'running', 5000, 'started');
    try {
      assert.equal(await lockHolder(queue.internals, 'k'), null, 'the start released the lock in the claim');
      const b = await Job.async('run', { unique: 'k' });
      assert.equal(b.duplicate, false);
      assert.notEqual(b.id, a.id);
      assert.equal(await lockHolder(queue.internals, 'k'), b.id);
      assert.equal((await Job.async('run', { unique: 'k' })).id, b.id, 'b waits (one slot): it holds the lock');
    } finally {
      release();
      await w.stop();
    }
  });

  it("uniqueUntil 'finished': none while one runs; a retry keeps the lock; the end frees it", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    let fails = 1;
    const Job = queue.register('Job', { async run() { await gate; if (fails-- > 0) throw new Error('once'); return 1; } });
    const opts = { unique: 'k', uniqueUntil: 'finished' as const };
    const a = await Job.async('run', { ...opts, attempts: 2, backoff: { type: 'fixed', delay: 1500 } });
    const w = queue.worker();
    await w.start();
    try {
      await until(async () => (await a.reload()).state === 'running', 5000, 'running');
      assert.equal((await Job.async('run', opts)).id, a.id, 'refused while running');
    } finally { release(); }
    // The first attempt failed; the retry waits out its backoff, holding the lock.
    await until(async () => (await a.reload()).state === 'scheduled', 5000, 'the retry waiting');
    const dup = await Job.async('run', opts);
    assert.equal(dup.id, a.id, 'the retry keeps the lock');
    assert.deepEqual([dup.state, dup.attempts, dup.errors.map((e) => e.message)], ['scheduled', 1, ['once']], 'its handle shows the attempt so far');
    await a.wait({ timeout: 5000 });
    assert.equal(a.state, 'succeeded');
    assert.equal(await lockHolder(queue.internals, 'k'), null, 'released in the finishing step');
    assert.equal((await Job.async('run', opts)).duplicate, false);
    await w.stop();
  });

  it('cancel and final failure release the lock', async () => {
    const Job = queue.register('Job', { run() { throw new Error('no'); } });
    const a = await Job.async('run', { unique: 'k', uniqueUntil: 'finished' });
    assert.equal(await a.cancel(), 'cancelled');
    assert.equal(await lockHolder(queue.internals, 'k'), null);
    const b = await Job.async('run', { unique: 'k', uniqueUntil: 'finished' });
    assert.equal(b.duplicate, false);
    const w = queue.worker();
    await w.start();
    await b.wait({ timeout: 5000 });
    await w.stop();
    assert.equal(b.state, 'failed');
    assert.equal(await lockHolder(queue.internals, 'k'), null);
  });

  it('a lock whose task is gone is free; unlock() frees one by hand', async () => {
    const Job = queue.register('Job', { run() { return 1; } });
    const a = await Job.async('run', { unique: 'k' });
    await redis.del(`{${prefix}:default}:t:${a.id}`);
    const b = await Job.async('run', { unique: 'k' });
    assert.equal(b.duplicate, false);
    assert.equal(await unlock(queue.internals, 'k'), true);
    assert.equal(await unlock(queue.internals, 'k'), false);
    assert.equal((await Job.async('run', { unique: 'k' })).duplicate, false);
  });

  it('bad unique options are errors naming them', async () => {
    const Job = queue.register('Job', { run() { return 1; } });
    await assert.rejects(Job.async('run', { unique: '' }), /unique must be true or a key of 1-200 characters/);
    await assert.rejects(Job.async('run', { uniqueUntil: 'finished' }), /uniqueUntil needs unique/);
    await assert.rejects(Job.async('run', { unique: true, uniqueUntil: 'done' as never }), /uniqueUntil must be 'started' or 'finished'/);
    assert.equal(await taskCount(), 0);
  });

  describe('in a transaction', () => {
    class Order extends Model { declare id: number; sync() { return this.id; } }
    let seq: Sequelize;
    before(async () => {
      seq = await mysqlDb('sa_cron_unique');
      Order.init({ note: DataTypes.STRING }, { sequelize: seq, tableName: 'orders' });
      await Order.sync({ force: true });
    });
    after(async () => { await seq.close(); });

    it('is checked at commit: the pending handle becomes the existing task', async () => {
      const q = setup({ sequelize: seq, redis: REDIS_URL, prefix, mirror: false });
      try {
        const order = await Order.create({ note: 'x' });
        const first = await order.async('sync', { unique: true });
        const inTx = await seq.transaction(async (transaction) => order.async('sync', { unique: true, transaction }));
        assert.equal(inTx.duplicate, true);
        assert.equal(inTx.id, first.id);
        assert.equal(await taskCount(), 1);
      } finally { await q.close(); }
    });
  });

  it("on ioredis-mock (the 'list' layout): a duplicate returns the holder's handle; its end frees the lock", async () => {
    const q = setup({ redis: 'mock', prefix });
    try {
      const Crm = q.register('Crm', { sync(..._a: unknown[]) { return 1; }, other(_n?: number) { return 2; } });
      const a = await Crm.async('sync', { args: [42, { name: 'Zoë' }], unique: 'crm-42', uniqueUntil: 'finished', priority: 3 });
      const [b, c] = await q.bulk([[Crm, 'other', { args: [7], unique: 'crm-42' }], [Crm, 'other', { unique: 'crm-43' }]]);
      assert.deepEqual([b.id, b.duplicate, b.state, b.action, b.args, b.priority, b.unique], [a.id, true, 'queued', 'sync', [42, { name: 'Zoë' }], 3, 'crm-42']);
      assert.equal(c.duplicate, false);
      assert.equal(await a.cancel(), 'cancelled');
      assert.equal((await Crm.async('other', { unique: 'crm-42' })).duplicate, false);
    } finally { await q.close(); }
  });
});
