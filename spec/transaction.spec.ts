// Transactional enqueue on real MariaDB and Redis: a task queued inside an open transaction
// waits for the commit and is dropped on rollback (afterCreate hooks, explicit option, CLS).
import assert from 'assert';
import { Sequelize, Model, DataTypes } from 'sequelize';
import type { Task } from '../types';
import { setup, Queue, PendingTask } from '../lib';
import { redisClient, uniquePrefix, dropPrefix, mysqlDb, until, sleep, REDIS_URL } from './helpers';

class Order extends Model {
  declare id: number;
  declare note: string;
  ship() { return { id: this.id, note: this.note }; }
  static tally() { return Order.count(); }
}

describe('transactional enqueue', function () {
  this.timeout(30000);
  let seq: Sequelize;
  let queue: Queue;
  let prefix: string;
  let fromHook: Task[] = [];
  const redis = redisClient();
  const hashKey = (id: number) => `{${prefix}:default}:t:${id}`;
  const rows = async () => (await seq.query('SELECT id, state FROM async_tasks ORDER BY id', { type: 'SELECT' })) as { id: number; state: string }[];

  before(async () => {
    seq = await mysqlDb('sa_mirror_tx');
    Order.init({ note: DataTypes.STRING }, { sequelize: seq, tableName: 'orders' });
    // The seed's pattern: queue work from afterCreate, passing nothing about the transaction.
    Order.addHook('afterCreate', 'ship', async (o: Order) => { fromHook.push(await o.async('ship')); });
    await Order.sync({ force: true });
    await seq.query('DROP TABLE IF EXISTS async_tasks');
  });
  after(async () => { await seq.close(); redis.disconnect(); });
  beforeEach(async () => {
    prefix = uniquePrefix('tx');
    fromHook = [];
    queue = setup({ sequelize: seq, redis: REDIS_URL, prefix });
    await queue.migrate();
    await seq.query('DELETE FROM async_tasks');
  });
  afterEach(async () => {
    await queue.close();
    await dropPrefix(redis, prefix);
  });

  it('afterCreate + rollback: no task in Redis and no row', async () => {
    const w = queue.worker();
    await w.start();
    await assert.rejects(seq.transaction(async (t) => {
      await Order.create({ note: 'never' }, { transaction: t });
      assert.strictEqual(fromHook[0].state, 'pending');
      throw new Error('roll it back');
    }), /roll it back/);
    const h = fromHook[0] as PendingTask;
    assert.strictEqual(h.state, 'cancelled');
    assert.strictEqual(h.dropped, true);
    assert.strictEqual((await h.wait({ timeout: 1000 })).state, 'cancelled');
    await sleep(300);
    await w.stop();
    assert.strictEqual(await redis.exists(hashKey(h.id)), 0);
    assert.strictEqual((await queue.stats()).default, undefined);
    assert.deepStrictEqual(await rows(), []);
  });

  it('afterCreate + commit: pending until the commit, then the task runs and finds the record', async () => {
    const w = queue.worker();
    await w.start();
    let id = 0;
    await seq.transaction(async (t) => {
      const o = await Order.create({ note: 'ship me' }, { transaction: t });
      id = o.id;
      assert.strictEqual(fromHook[0].state, 'pending');
      await sleep(200); // a worker is idle and waiting: it must not see the task yet
      assert.strictEqual(await redis.exists(hashKey(fromHook[0].id)), 0);
    });
    const h = fromHook[0];
    assert.ok(['queued', 'running', 'succeeded'].includes(h.state), h.state);
    await h.wait({ timeout: 5000 });
    assert.strictEqual(h.state, 'succeeded');
    assert.deepStrictEqual(h.result, { id, note: 'ship me' });
    await until(async () => (await rows()).some((r) => Number(r.id) === h.id && r.state === 'succeeded'), 5000, 'the row');
    await w.stop();
  });

  it('wait() started while pending resolves after the commit', async () => {
    const w = queue.worker();
    await w.start();
    const t = await seq.transaction();
    await Order.create({ note: 'later' }, { transaction: t });
    const h = fromHook[0];
    const waiting = h.wait({ timeout: 5000 });
    await sleep(100);
    await t.commit();
    assert.strictEqual((await waiting).state, 'succeeded');
    await w.stop();
  });

  it('explicit { transaction }: rollback drops, commit queues; transaction: null queues at once', async () => {
    const o = await Order.create({ note: 'outside' }, { hooks: false });
    // Outside any transaction: immediate.
    const now = await o.async('ship');
    assert.strictEqual(now.state, 'queued');

    const t1 = await seq.transaction();
    const dropped = await o.async('ship', { transaction: t1 });
    const viaStatic = await Order.async('tally', { transaction: t1 });
    assert.strictEqual(dropped.state, 'pending');
    assert.strictEqual(viaStatic.state, 'pending');
    await t1.rollback();
    assert.strictEqual(dropped.state, 'cancelled');
    assert.strictEqual(viaStatic.state, 'cancelled');

    const t2 = await seq.transaction();
    const kept = await o.async('ship', { transaction: t2, priority: 3 });
    const immediate = await o.async('ship', { transaction: null });
    assert.strictEqual(immediate.state, 'queued');
    assert.strictEqual(kept.state, 'pending');
    await t2.commit();
    assert.strictEqual(kept.state, 'queued');
    assert.strictEqual(kept.priority, 3);

    const w = queue.worker();
    await w.start();
    await kept.wait({ timeout: 5000 });
    assert.deepStrictEqual(kept.result, { id: o.id, note: 'outside' });
    await w.stop();
    for (const h of [dropped, viaStatic]) assert.strictEqual(await redis.exists(hashKey(h.id)), 0);
    assert.deepStrictEqual((await rows()).map((r) => Number(r.id)).sort((a, b) => a - b), [now.id, kept.id, immediate.id].sort((a, b) => a - b));

    await assert.rejects(o.async('ship', { transaction: {} as never }), /transaction must be a Sequelize transaction or null/);
    await assert.rejects(o.async('ship', { transaction: t1 }), /rolled back/);
  });

  it('a savepoint rolled back drops only its own tasks; cancel() of a pending task drops it', async () => {
    await seq.transaction(async (t) => {
      await Order.create({ note: 'outer' }, { transaction: t });
      await assert.rejects(seq.transaction({ transaction: t }, async (sp) => {
        await Order.create({ note: 'inner' }, { transaction: sp });
        throw new Error('inner fails');
      }));
      await Order.create({ note: 'cancel me' }, { transaction: t });
      assert.strictEqual(await fromHook[2].cancel(), 'cancelled');
    });
    assert.deepStrictEqual(fromHook.map((h) => h.state), ['queued', 'cancelled', 'cancelled']);
    const w = queue.worker();
    await w.start();
    await fromHook[0].wait({ timeout: 5000 });
    assert.strictEqual((fromHook[0].result as { note: string }).note, 'outer');
    await w.stop();
    assert.strictEqual(await redis.exists(hashKey(fromHook[1].id)), 0);
    assert.strictEqual(await redis.exists(hashKey(fromHook[2].id)), 0);
  });

  it('under Sequelize CLS: queued after commit, dropped on rollback, without passing the transaction', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const cls = require('cls-hooked');
    const ns = cls.createNamespace(`sa-tx-${prefix}`);
    Sequelize.useCLS(ns);
    try {
      let inTx: Task | undefined;
      await assert.rejects(seq.transaction(async () => {
        const o = await Order.create({ note: 'cls rollback' }, { hooks: false });
        inTx = await o.async('ship');
        assert.strictEqual(inTx.state, 'pending');
        throw new Error('undo');
      }));
      assert.strictEqual(inTx!.state, 'cancelled');
      const h = await seq.transaction(async () => {
        const o = await Order.create({ note: 'cls commit' }, { hooks: false });
        const x = await o.async('ship');
        assert.strictEqual(x.state, 'pending');
        return x;
      });
      assert.strictEqual(h.state, 'queued');
      const w = queue.worker();
      await w.start();
      await h.wait({ timeout: 5000 });
      assert.strictEqual((h.result as { note: string }).note, 'cls commit');
      await w.stop();
      assert.strictEqual(await redis.exists(hashKey(inTx!.id)), 0);
    } finally {
      delete (Sequelize as unknown as { _cls?: unknown })._cls;
      cls.destroyNamespace(`sa-tx-${prefix}`);
    }
  });
});
