// Recurring tasks in one process against the real Redis: every() stores and upserts by name, bad
// input stores nothing, a worker's scheduler stores one task per tick (scheduledAt = the tick,
// recurrence = the name), unschedule stops it, overlap: false waits for the previous run, and a
// schedule whose target is gone from the code fails its task visibly.
import { strict as assert } from 'assert';
import type Redis from 'ioredis';
import { Sequelize, Model, DataTypes } from 'sequelize';
import { setup, Queue } from '../lib';
import { queuePerTest, REDIS_URL, uniquePrefix, dropPrefix, redisClient, until, sleep, mysqlDb } from './helpers';
import { recurringTasks } from './recurring/collect';

describe('recurring tasks', () => {
  let prefix: string;
  let queue: Queue;
  let redis: Redis;

  queuePerTest('rec', (t) => ({ prefix, queue, redis } = t));

  it('every() upserts by name and recurring() lists it; unschedule removes it', async () => {
    const Mailer = queue.register('Mailer', { deliverAll() { return 1; } });
    const r = await Mailer.every('0 9 * * MON', 'deliverAll', { tz: 'Europe/Berlin' });
    assert.equal(r.name, 'Mailer#deliverAll');
    assert.equal(r.changed, true);
    assert.equal((await Mailer.every('0 9 * * MON', 'deliverAll', { tz: 'Europe/Berlin' })).changed, false);
    let list = await queue.recurring();
    assert.equal(list.length, 1);
    assert.deepEqual({ ...list[0], next: undefined }, { name: 'Mailer#deliverAll', queue: 'default', pattern: '0 9 * * MON', tz: 'Europe/Berlin',
      target: 'Mailer', action: 'deliverAll', next: undefined, last: null, lastTaskId: null, lastState: null, lastError: null });
    assert.equal(list[0].next?.getTime(), r.next?.getTime());
    assert.equal(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', weekday: 'short', hour: '2-digit', minute: '2-digit' }).format(list[0].next!), 'Mon 09:00');
    // A changed option replaces it.
    assert.equal((await queue.every(Mailer, '@hourly', 'deliverAll', { name: 'Mailer#deliverAll' })).changed, true);
    list = await queue.recurring();
    assert.deepEqual(list.map((s) => [s.name, s.pattern, s.tz]), [['Mailer#deliverAll', '@hourly', 'UTC']]);
    assert.equal(await queue.unschedule('Mailer#deliverAll'), true);
    assert.equal(await queue.unschedule('Mailer#deliverAll'), false);
    assert.deepEqual(await queue.recurring(), []);
  });

  it('bad input is an error naming what was wrong, and nothing is stored', async () => {
    const Mailer = queue.register('Mailer', { deliverAll() { return 1; }, notAMethod: 5 });
    await assert.rejects(Mailer.every('0 9 * * MON', 'nope' as never), /Mailer#nope is not a function/);
    await assert.rejects(Mailer.every('0 9 * * MON', 'notAMethod' as never), /Mailer#notAMethod is not a function/);
    await assert.rejects(Mailer.every('0 9 * *', 'deliverAll'), /invalid pattern '0 9 \* \*': it has 4 fields/);
    await assert.rejects(Mailer.every('0 9 * * MON', 'deliverAll', { tz: 'Europe/Atlantis' }), /unknown time zone 'Europe\/Atlantis'/);
    await assert.rejects(Mailer.every('0 9 * * MON', 'deliverAll', { colour: 1 } as never), /unknown option 'colour'/);
    await assert.rejects(queue.every({}, '@daily', 'x'), /is not registered/);
    assert.deepEqual(await queue.recurring(), []);
    assert.deepEqual(await redis.keys(`{${prefix}:*}:recurring*`), []);
  });

  it('a worker stores one task per tick: scheduledAt is the tick, task.recurrence the name', async function () {
    this.timeout(15000);
    const runs: number[] = [];
    const Clock = queue.register('Clock', { tick() { runs.push(Date.now()); return 'tock'; } });
    await Clock.every('* * * * * *', 'tick', { name: 'each-second', args: [] });
    const w = queue.worker();
    await w.start();
    await until(async () => (await recurringTasks(redis, prefix)).filter((t) => t.state === 'succeeded').length >= 3, 8000, 'three ticks run');
    await w.stop();
    const tasks = await recurringTasks(redis, prefix);
    for (const t of tasks) assert.equal(t.scheduledAt % 1000, 0, `tick ${t.scheduledAt} is on a second`);
    const ticks = tasks.map((t) => t.scheduledAt);
    assert.deepEqual(ticks, [...new Set(ticks)], 'no tick twice');
    for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i] - ticks[i - 1], 1000, 'no tick missed');
    const handle = await queue.task(tasks[0].id);
    assert.equal(handle?.recurrence, 'each-second');
    assert.equal(handle?.scheduledAt.getTime(), tasks[0].scheduledAt);
    assert.equal(handle?.result, 'tock');
    const [info] = await queue.recurring();
    assert.equal(info.lastTaskId, tasks[tasks.length - 1].id);
    assert.equal(info.last?.getTime(), tasks[tasks.length - 1].scheduledAt);
  });

  it('a change of schedules wakes a sleeping scheduler (no polling), and unschedule stops the ticks', async function () {
    this.timeout(15000);
    const Clock = queue.register('Clock', { tick() { return 1; } });
    const w = queue.worker();
    await w.start();
    await sleep(200); // the scheduler sleeps: there is no schedule
    // From another process's point of view: a second queue object (its own connection) stores it.
    const other = setup({ redis: REDIS_URL, prefix });
    other.register('Clock', Clock);
    try {
      await other.every(Clock, '* * * * * *', 'tick');
      await until(async () => (await recurringTasks(redis, prefix)).length >= 2, 5000, 'ticks after every() in another queue object');
      assert.equal(await other.unschedule('Clock#tick'), true);
      await sleep(100);
      const n = (await recurringTasks(redis, prefix)).length;
      await sleep(2100);
      assert.equal((await recurringTasks(redis, prefix)).length, n, 'no task after unschedule');
    } finally {
      await w.stop();
      await other.close();
    }
  });

  it('overlap: false skips ticks while the previous run is queued or running', async function () {
    this.timeout(15000);
    const spans: [number, number][] = [];
    const Slow = queue.register('Slow', { async run() { const s = Date.now(); await sleep(2300); spans.push([s, Date.now()]); } });
    await Slow.every('* * * * * *', 'run', { overlap: false });
    const w = queue.worker({ concurrency: 4 });
    await w.start();
    await until(() => spans.length >= 2, 10000, 'two runs');
    await w.stop();
    const tasks = await recurringTasks(redis, prefix);
    // 2.3 s runs on a 1 s schedule: ticks were skipped, and no two runs overlapped.
    assert.ok(tasks.length <= spans.length + 1, `${tasks.length} tasks for ${spans.length} runs`);
    for (let i = 1; i < spans.length; i++) assert.ok(spans[i][0] >= spans[i - 1][1], 'runs do not overlap');
  });

  it('a schedule whose target is gone from the code fails its task with a clear error, and recurring() shows it', async function () {
    this.timeout(15000);
    const old = setup({ redis: REDIS_URL, prefix });
    const Report = old.register('Report', { nightly() { return 1; } });
    // A pattern that ticks once soon (then next year), so the failed task stays the last one.
    const d = new Date(Date.now() + 1500);
    await Report.every(`${d.getUTCSeconds()} ${d.getUTCMinutes()} ${d.getUTCHours()} ${d.getUTCDate()} ${d.getUTCMonth() + 1} *`, 'nightly');
    await old.close();
    // "After the deploy": this process has no Report.
    const w = queue.worker();
    await w.start();
    const t = await until(async () => (await recurringTasks(redis, prefix)).find((x) => x.state === 'failed'), 5000, 'the failed tick');
    await w.stop();
    const [info] = await queue.recurring();
    assert.equal(info.lastState, 'failed', JSON.stringify(info));
    assert.match(info.lastError ?? '', /unknown object type 'Report'/);
    const handle = await queue.task(t!.id);
    assert.equal((handle?.result as Error).name, 'CorruptTaskError');
  });
});

describe('recurring tasks on a model instance', function () {
  this.timeout(15000);
  class Counter extends Model { declare id: number; declare n: number; async bump() { await this.increment('n'); return this.id; } }
  let seq: Sequelize;
  let queue: Queue;
  let prefix: string;
  const redis = redisClient();

  before(async () => {
    seq = await mysqlDb('sa_cron_recurring');
    Counter.init({ n: { type: DataTypes.INTEGER, defaultValue: 0 } }, { sequelize: seq, tableName: 'counters' });
    await Counter.sync({ force: true });
  });
  after(async () => { await seq.close(); redis.disconnect(); });
  beforeEach(() => { prefix = uniquePrefix('reci'); queue = setup({ sequelize: seq, redis: REDIS_URL, prefix, mirror: false }); });
  afterEach(async () => { await queue.close(); await dropPrefix(redis, prefix); });

  it("order.every(...) recurs on that row, named 'Type(id)#action'", async () => {
    const [a, b] = await Promise.all([Counter.create(), Counter.create()]);
    const r = await a.every('* * * * * *', 'bump');
    assert.equal(r.name, `Counter(${a.id})#bump`);
    assert.deepEqual((await queue.recurring()).map((s) => s.target), [`Counter(${a.id})`]);
    const w = queue.worker();
    await w.start();
    await until(async () => (await a.reload()).n >= 2, 8000, 'two runs on the row');
    await w.stop();
    assert.equal((await b.reload()).n, 0, 'the other row is untouched');
    const tasks = await recurringTasks(redis, prefix);
    const t = await queue.task(tasks[0].id);
    assert.equal(t?.objectId, String(a.id));
  });
});
