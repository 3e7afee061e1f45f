// Sequelize models on real MariaDB: instance and static async/schedule, rows reloaded by
// primary key, deleted rows, unsaved instances.
import { strict as assert } from 'assert';
import { DataTypes, Model, Sequelize, ModelStatic } from 'sequelize';
import { setup, Queue } from '../lib';
import { REDIS_URL, uniquePrefix, dropPrefix, redisClient, mysqlDb, until } from './helpers';

interface OrderRow extends Model { id: number; email: string; mailed: number }

describe('Sequelize models (MariaDB)', function () {
  this.timeout(30000);
  let sequelize: Sequelize;
  let queue: Queue;
  let prefix: string;
  let Order: ModelStatic<OrderRow>;
  const mailed: string[] = [];

  before(async () => {
    sequelize = await mysqlDb('sa_models');
  });

  after(async () => {
    await sequelize.close();
  });

  beforeEach(async () => {
    prefix = uniquePrefix('mdl');
    mailed.length = 0;
    // Defined before setup(): it must still get async/schedule.
    Order = sequelize.define<OrderRow>('Order', {
      email: DataTypes.STRING,
      mailed: { type: DataTypes.INTEGER, defaultValue: 0 },
    }, { tableName: `orders_${prefix}` });
    Object.assign(Order.prototype, {
      async sendConfirmationEmail(this: OrderRow, greeting: string) {
        mailed.push(`${greeting} ${this.email}`);
        await this.increment('mailed');
        return { to: this.email };
      },
    });
    Object.assign(Order, { async purgeOld(days: number) { return `purged ${days}`; } });
    await Order.sync({ force: true });
    queue = setup({ sequelize, redis: REDIS_URL, prefix, mirror: false });
  });

  afterEach(async () => {
    await queue.close();
    await Order.drop();
    const r = redisClient();
    await dropPrefix(r, prefix);
    r.disconnect();
  });

  it('runs an instance method on the row reloaded by primary key', async () => {
    const order = await Order.create({ email: 'ann@example.com' });
    const task = await order.async('sendConfirmationEmail', { args: ['Hello'] });
    assert.equal(task.objectType, 'Order');
    assert.equal(task.objectId, String(order.id));
    await queue.worker().start();
    await task.wait({ timeout: 5000 });
    assert.equal(task.state, 'succeeded', String(task.result));
    assert.deepEqual(task.result, { to: 'ann@example.com' });
    assert.deepEqual(mailed, ['Hello ann@example.com']);
    await order.reload();
    assert.equal(order.mailed, 1);
  });

  it('saves an unsaved instance before queueing it', async () => {
    const order = Order.build({ email: 'new@example.com' });
    assert.equal(order.isNewRecord, true);
    const task = await order.schedule(Date.now() - 1, 'sendConfirmationEmail', { args: ['Hi'] });
    assert.equal(order.isNewRecord, false);
    assert.ok(order.id > 0);
    assert.equal(task.priority, 20);
    assert.equal(await Order.count(), 1);
    await queue.worker().start();
    await task.wait({ timeout: 5000 });
    assert.equal(task.state, 'succeeded');
  });

  it('saves an unsaved instance inside the transaction given, so a rollback leaves no row and no task', async () => {
    const t = await sequelize.transaction();
    const order = Order.build({ email: 'tx@example.com' });
    const task = await order.async('sendConfirmationEmail', { args: ['Hi'], transaction: t });
    assert.equal(task.state, 'pending');
    await t.rollback();
    assert.equal(await Order.count(), 0);
    assert.deepEqual(await queue.stats(), {});
  });

  it('fails a task whose row was deleted with an error naming model and id, and goes on', async () => {
    const gone = await Order.create({ email: 'gone@example.com' });
    const kept = await Order.create({ email: 'kept@example.com' });
    const t1 = await gone.async('sendConfirmationEmail', { args: ['Hey'], priority: 50 });
    const t2 = await kept.async('sendConfirmationEmail', { args: ['Hey'] });
    await gone.destroy();
    await queue.worker().start();
    await t1.wait({ timeout: 5000 });
    await t2.wait({ timeout: 5000 });
    assert.equal(t1.state, 'failed');
    const err = t1.result as Error;
    assert.equal(err.name, 'RecordNotFoundError');
    assert.match(err.message, new RegExp(`Order with id ${gone.id} was not found`));
    assert.equal(t2.state, 'succeeded');
    assert.deepEqual(mailed, ['Hey kept@example.com']);
  });

  it('runs static model methods and works on models defined after setup()', async () => {
    const t = await (Order as unknown as { async: OrderRow['async'] }).async('purgeOld', { args: [30] });
    const Late = sequelize.define('LateModel', { name: DataTypes.STRING }, { tableName: `late_${prefix}` });
    Object.assign(Late, { hello: (n: string) => `hello ${n}` });
    const t2 = await (Late as unknown as { async: OrderRow['async'] }).async('hello', { args: ['late'] });
    await queue.worker().start();
    await t.wait({ timeout: 5000 });
    await t2.wait({ timeout: 5000 });
    assert.equal(t.result, 'purged 30');
    assert.equal(t2.result, 'hello late');
    sequelize.modelManager.removeModel(Late);
  });

  it('refuses an action the model does not have, storing nothing', async () => {
    const order = await Order.create({ email: 'x@example.com' });
    await assert.rejects(order.async('sendConfirmationMail'), /Order#sendConfirmationMail is not a function/);
    await assert.rejects(order.async('constructor'), /may not be called/);
    const stats = await queue.stats();
    assert.deepEqual(stats, {});
  });

  it('a worker keeps going after many failing tasks', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const o = await Order.create({ email: `d${i}@example.com` });
      ids.push((await o.async('sendConfirmationEmail', { args: ['x'] })).id);
      await o.destroy();
    }
    const ok = await (await Order.create({ email: 'ok@example.com' })).async('sendConfirmationEmail', { args: ['ok'] });
    await queue.worker().start();
    await ok.wait({ timeout: 5000 });
    await until(async () => (await Promise.all(ids.map((id) => queue.task(id)))).every((t) => t?.state === 'failed'), 5000, 'all failures');
    assert.equal(ok.state, 'succeeded');
  });
  describe("only the model's own methods", () => {
    const sequelizeMethods: [string, 'static' | 'instance'][] = [['destroy', 'static'], ['drop', 'static'], ['truncate', 'static'],
      ['sync', 'static'], ['bulkCreate', 'static'], ['init', 'static'], ['addHook', 'static'], ['destroy', 'instance'], ['save', 'instance'],
      ['update', 'instance'], ['async', 'static'], ['schedule', 'instance']];
    for (const [name, side] of sequelizeMethods) {
      it(`refuses the ${side} ${name} (not the app's own) at enqueue, naming it, storing nothing`, async () => {
        const order = await Order.create({ email: 'keep@example.com' });
        const call = side === 'static' ? (Order as unknown as { async(a: string, o?: object): Promise<unknown> }).async(name, { args: [{ where: {}, truncate: true }] })
          : (order as unknown as { async(a: string): Promise<unknown> }).async(name);
        await assert.rejects(call, (e: Error) => {
          assert.match(e.message, new RegExp(`Order#${name} `));
          if (name !== 'async' && name !== 'schedule') assert.match(e.message, new RegExp(`static asyncAllow = \\['${name}'\\]`));
          return true;
        });
        assert.deepEqual(await queue.stats(), {});
        assert.equal(await Order.count(), 1);
      });
    }

    it('refuses association accessors Sequelize generated (setItems)', async () => {
      const Item = sequelize.define('Item', { name: DataTypes.STRING }, { tableName: `items_${prefix}` });
      Order.hasMany(Item);
      const order = await Order.create({ email: 'a@example.com' });
      await assert.rejects((order as unknown as { async(a: string): Promise<unknown> }).async('setItems'), /association method Sequelize generated/);
    });

    it("runs a Sequelize method the model lists in static asyncAllow", async () => {
      Object.assign(Order, { asyncAllow: ['destroy'] });
      const doomed = await Order.create({ email: 'gone@example.com' });
      const t = await (doomed as unknown as { async(a: string): Promise<{ wait(o: object): Promise<{ state: string }> }> }).async('destroy');
      await queue.worker().start();
      assert.equal((await t.wait({ timeout: 5000 })).state, 'succeeded');
      assert.equal(await Order.count(), 0);
    });

    it('fails a hand-written task hash that calls a Sequelize method, and the table keeps its rows', async () => {
      await Order.create({ email: 'stays@example.com' });
      // As anyone who can write a task hash could (or a Retry button on a doctored task).
      const t = await Order.async('purgeOld', { args: [30] });
      await queue.internals.redis.hset(`${queue.internals.keys('default').base}t:${t.id}`, 'action', 'destroy');
      await queue.worker().start();
      const done = await t.wait({ timeout: 5000 });
      assert.equal(done.state, 'failed');
      assert.match(String((done.result as Error).message), /Order#destroy is a Sequelize Model method.*asyncAllow/);
      assert.equal(await Order.count(), 1);
    });
  });
});
