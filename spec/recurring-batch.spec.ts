// Many recurring schedules due at the same second, in one process against the real Redis: each
// gets exactly one task per tick with the tick as its scheduledAt, stored together (one or a few
// recur-tick calls: the tasks of one call share its createdAt) and promptly; the missed policies
// still hold for schedules stored in one batch; and the scheduler runs on ioredis-mock.
import { strict as assert } from 'assert';
import type Redis from 'ioredis';
import { setup, Queue } from '../lib';
import { BATCH_SCHEDULES } from '../lib/recurring/scheduler';
import { queuePerTest, uniquePrefix, until, sleep } from './helpers';
import { recurringTasks, Stored } from './recurring/collect';

const EVERY_SECOND = '* * * * * *';

/** Tasks by schedule name, each list in tick order. */
function bySchedule(tasks: Stored[]): Map<string, Stored[]> {
  const out = new Map<string, Stored[]>();
  for (const t of tasks) (out.get(t.recurrence) ?? out.set(t.recurrence, []).get(t.recurrence)!).push(t);
  return out;
}

describe('recurring tasks: many schedules due at once', function () {
  this.timeout(30000);
  let prefix: string;
  let queue: Queue;
  let redis: Redis;

  queuePerTest('recb', (t) => ({ prefix, queue, redis } = t));

  it('300 schedules of every second: one task each per tick, scheduledAt the tick, stored together and at once', async () => {
    const N = 300;
    const Clock = queue.register('Clock', { tick() { return 1; } });
    for (let i = 0; i < N; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => Clock.every(EVERY_SECOND, 'tick', { name: `s${i + j}` })));
    const w = queue.worker({ concurrency: 20 });
    await w.start();
    // Three whole ticks after the start.
    const first = Math.ceil(Date.now() / 1000) * 1000;
    await until(async () => (await recurringTasks(redis, prefix)).filter((t) => t.scheduledAt === first + 2000).length === N, 10000, 'the third tick of all 300');
    await w.stop();
    const tasks = await recurringTasks(redis, prefix);
    const schedules = bySchedule(tasks);
    assert.equal(schedules.size, N, 'every schedule ticked');
    for (const [name, ts] of schedules) {
      const ticks = ts.map((t) => t.scheduledAt);
      assert.deepEqual(ticks, [...new Set(ticks)], `${name}: no tick twice`);
      for (const t of ticks) assert.equal(t % 1000, 0, `${name}: ${t} is a second`);
      for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i] - ticks[i - 1], 1000, `${name}: no tick missed`);
    }
    for (const tick of [first, first + 1000, first + 2000]) {
      const at = tasks.filter((t) => t.scheduledAt === tick);
      assert.equal(at.length, N, `tick ${tick}: one task per schedule`);
      assert.equal(new Set(at.map((t) => t.recurrence)).size, N, `tick ${tick}: each schedule once`);
      // The tasks of one recur-tick call share its createdAt (the time the call was sent).
      const calls = new Set(at.map((t) => t.createdAt)).size;
      assert.ok(calls <= Math.ceil(N / BATCH_SCHEDULES), `tick ${tick}: stored by ${calls} calls (at most ${Math.ceil(N / BATCH_SCHEDULES)} expected)`);
      const late = Math.max(...at.map((t) => t.createdAt - tick));
      assert.ok(late >= 0 && late < 500, `tick ${tick}: all 300 stored within ${late} ms of it`);
    }
  });

  it("schedules ticked in one batch after no scheduler ran for 3 s: 'skip', 'latest' and 'all' each as promised", async () => {
    const Clock = queue.register('Clock', { tick() { return 1; } });
    const modes = ['skip', 'latest', 'all'] as const;
    // 50 of each, so that each batch holds all three policies.
    const firstTick = new Map<string, number>();
    await Promise.all(modes.flatMap((m) => Array.from({ length: 50 }, async (_, i) => {
      const r = await Clock.every(EVERY_SECOND, 'tick', { name: `${m}-${i}`, missed: m });
      firstTick.set(r.name, r.next!.getTime());
    })));
    await sleep(3200); // no worker: ticks pass unstored
    const w = queue.worker({ concurrency: 20 });
    const startedFrom = Date.now();
    await w.start();
    const startedTo = Date.now();
    await sleep(1500);
    await w.stop();
    const schedules = bySchedule(await recurringTasks(redis, prefix));
    assert.equal(schedules.size, 150, 'every schedule ticked');
    for (const [name, ts] of schedules) {
      const ticks = ts.map((t) => t.scheduledAt);
      assert.deepEqual(ticks, [...new Set(ticks)], `${name}: no tick twice`);
      for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i] - ticks[i - 1], 1000, `${name}: contiguous`);
      assert.ok(ticks[ticks.length - 1] >= Math.floor(startedTo / 1000) * 1000, `${name}: ticks after the start`);
      const from = firstTick.get(name)!;
      if (name.startsWith('all-')) assert.equal(ticks[0], from, `${name}: every missed tick, from the first after every()`);
      else if (name.startsWith('latest-')) {
        assert.ok(ticks[0] > from + 1000, `${name}: the older missed ticks did not run`);
        assert.ok(ticks[0] < startedTo, `${name}: the newest missed tick ran (it lies before the scheduler started)`);
        assert.ok(ticks.filter((t) => t < startedFrom).length <= 1, `${name}: one missed tick at most`);
      } else assert.ok(ticks[0] >= startedFrom, `${name}: no missed tick (first ${ticks[0]}, started ${startedFrom})`);
    }
  });
});

describe('recurring tasks on ioredis-mock', function () {
  this.timeout(15000);

  it('a worker stores one task per tick for each schedule, scheduledAt the tick', async () => {
    const prefix = uniquePrefix('recm');
    const queue = setup({ redis: 'mock', prefix });
    try {
      const Clock = queue.register('Clock', { tick() { return 1; } });
      await Promise.all(Array.from({ length: 5 }, (_, i) => Clock.every(EVERY_SECOND, 'tick', { name: `m${i}`, overlap: i !== 0 })));
      const w = queue.worker();
      const errors: Error[] = [];
      w.on('error', (e) => errors.push(e));
      await w.start();
      const mock = queue.redis as unknown as Redis;
      await until(async () => (await recurringTasks(mock, prefix)).filter((t) => t.state === 'succeeded').length >= 10, 8000, 'two ticks of each');
      await w.stop();
      assert.deepEqual(errors.map(String), []);
      const schedules = bySchedule(await recurringTasks(mock, prefix));
      assert.equal(schedules.size, 5);
      for (const [name, ts] of schedules) {
        const ticks = ts.map((t) => t.scheduledAt);
        assert.deepEqual(ticks, [...new Set(ticks)], `${name}: no tick twice`);
        for (const t of ticks) assert.equal(t % 1000, 0, `${name}: ${t} is a second`);
      }
    } finally {
      await queue.close();
    }
  });
});
