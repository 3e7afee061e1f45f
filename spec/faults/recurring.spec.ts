// Recurring tasks across real processes on the real Redis: exactly one task per tick with four
// schedulers racing (one schedule, and 300 ticked in batches), what 'missed' does after every
// process was stopped, and one schedule from fifty processes calling every() at once.
import { strict as assert } from 'assert';
import type Redis from 'ioredis';
import { setup } from '../../lib';
import { REDIS_URL, uniquePrefix, dropPrefix, redisClient, sleep, until } from '../helpers';
import { start, stop, killAll, Proc } from '../recurring/procs';
import { recurringTasks } from '../recurring/collect';

const EVERY_SECOND = '* * * * * *';

/** Starts `n` worker processes (each calls every() at boot, as an app would) and waits until they run. */
async function workers(prefix: string, n: number, opts: object): Promise<{ procs: Proc[]; before: number[]; after: number[] }> {
  const procs = Array.from({ length: n }, () => start({ REC_REDIS: REDIS_URL, REC_PREFIX: prefix, REC_MODE: 'worker', REC_PATTERN: EVERY_SECOND, REC_OPTS: JSON.stringify(opts) }));
  const lines = await Promise.all(procs.map((p) => p.line('ready')));
  return { procs, before: lines.map((l) => Number(l.split(' ')[1])), after: lines.map((l) => Number(l.split(' ')[2])) };
}

function assertContiguous(ticks: number[], what: string): void {
  assert.deepEqual(ticks, [...new Set(ticks)], `${what}: no tick twice`);
  for (const t of ticks) assert.equal(t % 1000, 0, `${what}: ${t} is a second tick`);
  for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i] - ticks[i - 1], 1000, `${what}: no tick missed between ${ticks[i - 1]} and ${ticks[i]}`);
}

describe('recurring tasks across processes', function () {
  this.timeout(90000);
  let redis: Redis;
  const prefixes: string[] = [];
  const prefix = () => { const p = uniquePrefix('recp'); prefixes.push(p); return p; };

  before(() => { redis = redisClient(); });
  after(async () => {
    await killAll();
    for (const p of prefixes) await dropPrefix(redis, p);
    redis.disconnect();
  });

  it('4 worker processes, a schedule of every second for 12 s: exactly one task per tick, none missed, none twice', async () => {
    const p = prefix();
    const { procs, after } = await workers(p, 4, {});
    const from = Math.max(...after);
    await sleep(12000);
    const to = Date.now();
    await Promise.all(procs.map((x) => stop(x)));
    const tasks = await recurringTasks(redis, p);
    const ticks = tasks.map((t) => t.scheduledAt);
    assertContiguous(ticks, '4 processes');
    assert.ok(ticks[0] <= Math.ceil(from / 1000) * 1000, 'from the first tick once all ran');
    assert.ok(ticks[ticks.length - 1] >= Math.floor(to / 1000) * 1000 - 1000, 'up to the end');
    assert.ok(ticks.length >= 12, `${ticks.length} ticks`);
    assert.ok(tasks.every((t) => t.recurrence === 'Clock#tick'));
    assert.ok(tasks.filter((t) => t.state === 'succeeded').length >= ticks.length - 2, 'and they ran');
  });

  it('4 worker processes, 300 schedules of every second for 6 s (ticked in batches): exactly one task per schedule and tick', async () => {
    const p = prefix();
    const N = 300;
    const procs = Array.from({ length: 4 }, () => start({ REC_REDIS: REDIS_URL, REC_PREFIX: p, REC_MODE: 'worker', REC_PATTERN: EVERY_SECOND, REC_SCHEDULES: String(N) }));
    const after = (await Promise.all(procs.map((x) => x.line('ready')))).map((l) => Number(l.split(' ')[2]));
    const from = Math.ceil(Math.max(...after) / 1000) * 1000;
    await sleep(6000);
    const to = Date.now();
    await Promise.all(procs.map((x) => stop(x)));
    const byName = new Map<string, number[]>();
    for (const t of await recurringTasks(redis, p)) (byName.get(t.recurrence) ?? byName.set(t.recurrence, []).get(t.recurrence)!).push(t.scheduledAt);
    assert.equal(byName.size, N, 'every schedule ticked');
    for (const [name, ticks] of byName) {
      assertContiguous(ticks, name);
      assert.ok(ticks[0] <= from && ticks[ticks.length - 1] >= Math.floor(to / 1000) * 1000 - 1000, `${name}: ticked throughout (${ticks.length} ticks)`);
    }
  });

  it("all processes stopped for 5 s, then started: 'skip', 'latest' and 'all' each do what they promise", async () => {
    const modes = ['skip', 'latest', 'all'] as const;
    const ps = modes.map(() => prefix());
    // Three schedules, one per prefix, two processes each, run at the same time.
    const first = await Promise.all(modes.map((m, i) => workers(ps[i], 2, { missed: m })));
    await Promise.all(ps.map((p) => until(async () => (await recurringTasks(redis, p)).length >= 2, 10000, 'two ticks')));
    await Promise.all(first.flatMap((w) => w.procs.map((x) => stop(x))));
    const last = await Promise.all(ps.map(async (p) => Math.max(...(await recurringTasks(redis, p)).map((t) => t.scheduledAt))));
    await sleep(5000);
    const second = await Promise.all(modes.map((m, i) => workers(ps[i], 2, { missed: m })));
    await sleep(2500);
    await Promise.all(second.flatMap((w) => w.procs.map((x) => stop(x))));
    for (const [i, mode] of modes.entries()) {
      const S = last[i];
      const startedFrom = Math.min(...second[i].before); // every scheduler of the restart started after this
      const startedTo = Math.max(...second[i].after); // ... and before this
      const ticks = (await recurringTasks(redis, ps[i])).map((t) => t.scheduledAt).filter((t) => t > S);
      assertContiguous(ticks, mode);
      assert.ok(ticks.length > 0 && ticks[ticks.length - 1] >= Math.floor(startedTo / 1000) * 1000, `${mode}: runs again after the restart`);
      if (mode === 'all') {
        assert.equal(ticks[0], S + 1000, "all: every missed tick ran, from the first after the stop");
      } else if (mode === 'latest') {
        assert.ok(ticks[0] > S + 1000, 'latest: the older missed ticks did not run');
        assert.ok(ticks[0] < startedTo, 'latest: the newest missed tick ran (it lies before a scheduler started)');
        assert.ok(ticks.filter((t) => t < startedFrom).length <= 1, 'latest: one missed tick at most');
      } else {
        assert.ok(ticks[0] >= startedFrom, `skip: no missed tick ran (first ${ticks[0]}, restart from ${startedFrom})`);
      }
    }
  });

  it('50 processes calling every() with the same name at once: one schedule', async () => {
    const p = prefix();
    const go = `${p}-go`;
    const procs = Array.from({ length: 50 }, () => start({ REC_REDIS: REDIS_URL, REC_PREFIX: p, REC_MODE: 'every', REC_PATTERN: '0 9 * * MON', REC_GO: go }));
    await Promise.all(procs.map((x) => x.line('waiting')));
    await redis.rpush(go, ...procs.map(() => 'go'));
    const lines = await Promise.all(procs.map((x) => x.line('every')));
    await Promise.all(procs.map((x) => x.exited));
    await redis.del(go);
    assert.equal(lines.filter((l) => l === 'every true').length, 1, 'one call stored it, the 49 others found it stored');
    const q = setup({ redis: REDIS_URL, prefix: p });
    try {
      const list = await q.recurring();
      assert.equal(list.length, 1);
      assert.equal(list[0].name, 'Clock#tick');
      assert.equal(await redis.zcard(`{${p}:default}:recurring-next`), 1);
    } finally { await q.close(); }
  });
});
