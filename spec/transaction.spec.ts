// Transactional enqueue on real Redis, against MariaDB and PostgreSQL: a task queued inside an open
// transaction waits for the commit and is dropped on rollback (afterCreate hooks, explicit option,
// CLS); its 'pending' history row commits with the transaction, so a process killed between COMMIT
// and the push to Redis loses nothing (the mirror's recovery pass pushes it, once).
import assert from 'assert';
import { spawn } from 'child_process';
import { join } from 'path';
import { Sequelize, Model, DataTypes } from 'sequelize';
import type { Task } from '../types';
import { setup, Queue, PendingTask, runMirror } from '../lib';
import { recoverPending } from '../lib/mirror/pending';
import { redisClient, uniquePrefix, dropPrefix, until, sleep, REDIS_URL, DATABASES } from './helpers';

class Order extends Model {
  declare id: number;
  declare note: string;
  ship() { shipped.push(this.id); return { id: this.id, note: this.note }; }
  static tally() { return Order.count(); }
}

/** Ids of the orders ship() ran for (the crash test counts runs). */
const shipped: number[] = [];

for (const db of DATABASES) describe(`transactional enqueue (${db.label})`, function () {
  this.timeout(30000);
  let seq: Sequelize;
  let queue: Queue;
  let prefix: string;
  let fromHook: Task[] = [];
  const redis = redisClient();
  const hashKey = (id: number) => `{${prefix}:default}:t:${id}`;
  const rows = async () => (await seq.query('SELECT id, state FROM async_tasks ORDER BY id', { type: 'SELECT' })) as { id: number; state: string }[];

  before(async () => {
    seq = await db.open('sa_mirror_tx');
    Order.init({ note: DataTypes.STRING }, { sequelize: seq, tableName: 'orders' });
    // The seed's pattern: queue work from afterCreate, passing nothing about the transaction.
    Order.removeHook('afterCreate', 'ship');
    Order.addHook('afterCreate', 'ship', async (o: Order) => { fromHook.push(await o.async('ship')); });
    await Order.sync({ force: true });
    await seq.query('DROP TABLE IF EXISTS async_tasks');
  });
  const rowState = async (id: number, transaction?: unknown) => ((await seq.query('SELECT state FROM async_tasks WHERE id = ?',
    { replacements: [id], type: 'SELECT', transaction: transaction as never })) as { state: string }[])[0]?.state;
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

  it('a unique task refused at commit leaves no pending row, so the recovery pass never queues it once the lock is free', async () => {
    const order = await Order.create({ note: 'u' });
    const first = await order.async('ship', { unique: true });
    const inTx = await seq.transaction(async (transaction) => order.async('ship', { unique: true, transaction }));
    const refusedId = (inTx as PendingTask & { pendingId?: number }).id;
    assert.strictEqual(inTx.duplicate, true);
    assert.strictEqual(refusedId, first.id, 'the handle is the holder');
    // Only the holder's row: the refused task's pending row went at the push.
    assert.deepStrictEqual((await rows()).filter((r) => r.state === 'pending'), []);
    // The holder runs (the lock is free), and a recovery pass long after finds nothing to queue.
    const w = queue.worker();
    await w.start();
    await first.wait({ timeout: 5000 });
    await w.stop();
    assert.strictEqual(await recoverPending(queue.internals as never, seq, 0, Date.now() + 3600000), 0);
  });

  it('the recovery pass drops the pending row of a unique task it finds refused', async () => {
    const order = await Order.create({ note: 'r' });
    const key = `ship-${order.id}`;
    const holder = await order.async('ship', { unique: key });
    // What a process killed right after COMMIT leaves: a committed pending row of the same key, never pushed.
    const table = queue.internals.table;
    const id = holder.id + 1000;
    await seq.query(`INSERT INTO ${table} (id, queue, object_type, object_id, action, args, result, priority, state, cancelled, attempts, scheduled_at, created_at)
      VALUES (?, 'default', 'Order', ?, 'ship', NULL, ?, 10, 'pending', ?, 0, ?, ?)`,
    { replacements: [id, String(order.id), (await import('../lib/codec')).encode(['unique', key], 'task options'), false, new Date(), new Date(Date.now() - 60000)] });
    assert.strictEqual(await recoverPending(queue.internals as never, seq, 1000), 0, 'refused: nothing stored');
    assert.strictEqual(await rowState(id), undefined, 'its pending row is gone');
    assert.strictEqual(await redis.exists(hashKey(id)), 0);
  });

  it('afterCreate + rollback: no task in Redis and no row', async () => {
    const w = queue.worker();
    await w.start();
    await assert.rejects(seq.transaction(async (t) => {
      await Order.create({ note: 'never' }, { transaction: t });
      assert.strictEqual(fromHook[0].state, 'pending');
      // Its history row is written inside the transaction, and only there.
      assert.strictEqual(await rowState(fromHook[0].id, t), 'pending');
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
      assert.strictEqual(await rowState(fromHook[0].id, t), 'pending');
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
      assert.strictEqual(await rowState(fromHook[2].id, t), 'pending');
      assert.strictEqual(await fromHook[2].cancel(), 'cancelled');
      assert.strictEqual(await rowState(fromHook[2].id, t), undefined, 'a cancelled pending task takes its row along');
    });
    assert.strictEqual(await rowState(fromHook[1].id), undefined, 'the rolled-back savepoint took its row along');
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
  it('a process killed right after COMMIT, before the push: the recovery pass runs the task exactly once; a rollback leaves nothing', async function () {
    this.timeout(60000);
    await Order.sync();
    const app = join(__dirname, 'fixtures', 'tx-crash-app.ts');
    // node itself (not the tsx wrapper, which reports its child's SIGKILL as exit 137).
    const child = spawn(process.execPath, ['--import', 'tsx', app, db.url('sa_mirror_tx'), REDIS_URL, prefix],
      { env: { ...process.env, SEQUELIZE_ASYNC_TEST_CRASH_AFTER_COMMIT: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const [code, signal] = await new Promise<[number | null, string | null]>((r) => child.on('exit', (c, s) => r([c, s])));
    assert.strictEqual(signal, 'SIGKILL', `the app was killed by the hook (exit ${code}): ${out}${err}`);
    assert.doesNotMatch(out, /pushed/);
    const { order, task, state } = JSON.parse(out.split('\n')[0]) as { order: number; task: number; state: string };
    assert.strictEqual(state, 'pending');
    // Committed: the order and the task's pending row; nothing in Redis.
    assert.ok(await Order.findByPk(order), 'the order was committed');
    assert.strictEqual(await rowState(task), 'pending');
    assert.strictEqual(await redis.exists(hashKey(task)), 0, 'the push never happened');

    // A worker and the mirror loop (recovery after 300 ms instead of 10 s).
    shipped.length = 0;
    const w = queue.worker({ mirror: false });
    await w.start();
    const ac = new AbortController();
    const errors: Error[] = [];
    const loop = runMirror(queue, { signal: ac.signal, recoverAfterMs: 300, onError: (e) => errors.push(e) });
    try {
      await until(async () => (await rowState(task)) === 'succeeded', 20000, 'the recovered task to run and be mirrored');
      const h = (await queue.task(task))!;
      assert.strictEqual(h.result && (h.result as { id: number }).id, order);
      // Its options survived the crash (kept in the pending row).
      assert.strictEqual(await redis.hget(hashKey(task), 'max_attempts'), '3');
      // Another recovery pass (every 5 s) and an app's late push by id change nothing.
      await sleep(5500);
      const late = await queue.enqueuer.store([{ queue: 'default', type: 'Order', objectId: String(order), action: 'ship', args: null, argsValue: [], priority: 10, scheduledAt: Date.now(), extra: [] }], [task]);
      assert.strictEqual(late.length, 1);
      await sleep(300);
      assert.deepStrictEqual(shipped, [order], 'ran exactly once');
      assert.strictEqual(await redis.hget(hashKey(task), 'attempts'), '1');
      assert.strictEqual(await redis.hget(hashKey(task), 'state'), 'succeeded');
      assert.deepStrictEqual(errors, []);
    } finally {
      ac.abort();
      await loop;
      await w.stop();
    }

    // A rolled-back transaction leaves no row and no task, and nothing is recovered from it.
    let rolled = 0;
    await assert.rejects(seq.transaction(async (t) => {
      const o = await Order.create({ note: 'never' }, { transaction: t, hooks: false });
      rolled = (await o.async('ship', { transaction: t })).id;
      throw new Error('roll back');
    }), /roll back/);
    assert.strictEqual(await rowState(rolled), undefined);
    assert.strictEqual(await redis.exists(hashKey(rolled)), 0);
  });
});
