// Task metrics recorded by claim.lua / finish.lua (lib/lua/include/metrics.lua), read back as
// Prometheus text (queue.metrics(), GET <mount>/metrics) and as the dashboard's Redis-backed chart.
// Run on real Redis and on ioredis-mock (its Lua VM has 32-bit integers and odd floats).
import { strict as assert } from 'assert';
import http from 'http';
import type { AddressInfo } from 'net';
import { setup, Queue } from '../lib';
import { runScript } from '../lib/scripts';
import { parseClaimReply } from '../lib/claim-reply';
import { readSeries, readTotals, MINUTE_SLOTS, HOUR_SLOTS, BUCKETS_MS } from '../lib/metrics/read';
import { RedisMetricsSource } from '../lib/web/redis-metrics-source';
import { Presence } from '../lib/presence';
import { REDIS_URL, uniquePrefix, dropPrefix, redisClient, until } from './helpers';

class Job {
  static ok(n: number) { return n; }
  static boom() { throw new Error('boom'); }
  static async slow(ms: number) { await new Promise((r) => setTimeout(r, ms)); return 'late'; }
}

/** A sample line of the Prometheus text format: name, labels, value. */
interface Sample { name: string; labels: Record<string, string>; value: number }
interface Family { type: string; help: string; samples: Sample[] }

/** A small parser of the text exposition format (0.0.4): # HELP, # TYPE, samples with labels. */
function parsePrometheus(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: Family | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const f = families.get(meta[2]) ?? { type: '', help: '', samples: [] };
      if (meta[1] === 'HELP') f.help = meta[3]; else f.type = meta[3];
      families.set(meta[2], f);
      current = f;
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    const re = /([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)",?/gy;
    let l: RegExpExecArray | null;
    const body = m[2] ?? '';
    let read = 0;
    while ((l = re.exec(body))) { labels[l[1]] = l[2].replace(/\\(.)/g, (_x, c: string) => (c === 'n' ? '\n' : c)); read = re.lastIndex; }
    assert.equal(read, body.length, `bad labels in ${line}`);
    const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
    assert.ok(!Number.isNaN(value), `bad value in ${line}`);
    assert.ok(current, `sample before any # TYPE: ${line}`);
    current.samples.push({ name: m[1], labels, value });
  }
  return families;
}

const sample = (f: Family | undefined, name: string, labels: Record<string, string>) =>
  f?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length === Object.keys(labels).length)?.value;

/** Checks every histogram of a family: buckets cumulative and monotonic, +Inf = _count. Returns the counts by label set. */
function checkHistogram(f: Family, name: string): Map<string, number> {
  const counts = new Map<string, number>();
  const groups = new Map<string, Sample[]>();
  for (const s of f.samples.filter((x) => x.name === `${name}_bucket`)) {
    const { le, ...rest } = s.labels;
    assert.ok(le !== undefined, `${name}_bucket without le`);
    const key = JSON.stringify(rest);
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const [key, list] of groups) {
    const les = list.map((s) => (s.labels.le === '+Inf' ? Infinity : Number(s.labels.le)));
    assert.deepEqual(les, [...BUCKETS_MS.map((ms) => ms / 1000), Infinity], `${name} ${key}: the fixed buckets in order`);
    for (let i = 1; i < list.length; i++) assert.ok(list[i].value >= list[i - 1].value, `${name} ${key}: buckets never decrease`);
    const labels = JSON.parse(key) as Record<string, string>;
    const count = sample(f, `${name}_count`, labels);
    assert.equal(list[list.length - 1].value, count, `${name} ${key}: +Inf bucket = _count`);
    assert.ok(sample(f, `${name}_sum`, labels)! >= 0);
    counts.set(key, count!);
  }
  return counts;
}

for (const backend of ['redis', 'mock'] as const) {
  describe(`metrics on ${backend === 'redis' ? 'real Redis' : 'ioredis-mock'}`, function () {
    this.timeout(backend === 'mock' ? 60000 : 20000);
    let queue: Queue;
    let prefix: string;
    const open = (opts: Record<string, unknown> = {}) => {
      queue = setup({ redis: backend === 'redis' ? REDIS_URL : 'mock', prefix, mirror: false, ...opts });
      queue.register(Job);
      return queue;
    };

    beforeEach(() => { prefix = uniquePrefix('metr'); });
    afterEach(async () => {
      if (backend === 'redis') {
        const r = redisClient();
        await dropPrefix(r, prefix);
        r.disconnect();
      }
      await queue.close();
    });

    async function runUntilDone(concurrency: number, done: () => Promise<boolean>) {
      const w = queue.worker({ concurrency });
      await w.start();
      await until(done, 15000, 'the tasks to finish');
      return w;
    }

    it('gives the Prometheus text with the documented names and labels, counts equal to what ran', async () => {
      open({ retention: 0 });
      const oks = await Promise.all(Array.from({ length: 7 }, (_, i) => queue.async(Job, 'ok', { args: [i] })));
      const boom = await queue.async(Job, 'boom', { attempts: 3, backoff: { type: 'fixed', delay: 0 } });
      const slow = await queue.async(Job, 'slow', { args: [30] });
      const w = await runUntilDone(4, async () => {
        const m = await readTotals(queue.redis, queue.internals.keys('default'));
        return (m.tasks.get('Job#ok')?.succeeded ?? 0) === 7 && (m.tasks.get('Job#boom')?.failed ?? 0) === 1 && (m.tasks.get('Job#slow')?.succeeded ?? 0) === 1;
      });
      // A worker process announces itself (the CLI runner does so): the workers gauge counts it.
      const presence = new Presence(queue.redis, prefix, { name: 'spec-w', uid: null, pid: process.pid, supervisor: null, queues: ['default'], concurrency: 4 }, w);
      await presence.start();
      const text = await queue.metrics();
      await presence.stop();
      await w.stop();
      assert.ok(oks.length && boom.id && slow.id);
      const p = parsePrometheus(text);
      const expect = { sequelize_async_tasks_total: 'counter', sequelize_async_task_duration_seconds: 'histogram', sequelize_async_task_wait_seconds: 'histogram',
        sequelize_async_queue_tasks: 'gauge', sequelize_async_queue_latency_seconds: 'gauge', sequelize_async_workers: 'gauge', sequelize_async_mirror_lag: 'gauge' };
      assert.deepEqual(Object.fromEntries([...p].map(([n, f]) => [n, f.type])), expect);
      const total = p.get('sequelize_async_tasks_total');
      for (const s of total!.samples) assert.deepEqual(Object.keys(s.labels).sort(), ['outcome', 'queue', 'task']);
      const t = (task: string, outcome: string) => sample(total, 'sequelize_async_tasks_total', { queue: 'default', task, outcome });
      assert.equal(t('Job#ok', 'succeeded'), 7);
      assert.equal(t('Job#ok', 'failed'), 0);
      assert.equal(t('Job#boom', 'retried'), 2);
      assert.equal(t('Job#boom', 'failed'), 1);
      assert.equal(t('Job#boom', 'succeeded'), 0);
      assert.equal(t('Job#slow', 'succeeded'), 1);
      // One duration per attempt, per Type#action; one wait per claim (10 tasks, 2 more attempts).
      const d = checkHistogram(p.get('sequelize_async_task_duration_seconds')!, 'sequelize_async_task_duration_seconds');
      assert.equal(d.get(JSON.stringify({ queue: 'default', task: 'Job#ok' })), 7);
      assert.equal(d.get(JSON.stringify({ queue: 'default', task: 'Job#boom' })), 3);
      assert.equal(d.get(JSON.stringify({ queue: 'default', task: 'Job#slow' })), 1);
      const slowSum = sample(p.get('sequelize_async_task_duration_seconds'), 'sequelize_async_task_duration_seconds_sum', { queue: 'default', task: 'Job#slow' })!;
      assert.ok(slowSum >= 0.025, `the slow task's duration is counted (${slowSum} s)`);
      const wt = checkHistogram(p.get('sequelize_async_task_wait_seconds')!, 'sequelize_async_task_wait_seconds');
      assert.deepEqual([...wt], [[JSON.stringify({ queue: 'default' }), 11]]);
      const g = (name: string, labels: Record<string, string>) => sample(p.get(name), name, labels);
      for (const state of ['queued', 'scheduled', 'running']) assert.equal(g('sequelize_async_queue_tasks', { queue: 'default', state }), 0);
      assert.equal(g('sequelize_async_queue_latency_seconds', { queue: 'default' }), 0);
      assert.equal(g('sequelize_async_workers', { queue: 'default' }), 1, 'the worker was live when scraped');
      assert.equal(g('sequelize_async_mirror_lag', { queue: 'default' }), 0);
      // retention 0: no finished task is left in Redis, the totals still count them all.
      assert.equal(await queue.redis.zcard(queue.internals.keys('default').finished), 0);
      assert.deepEqual(await new RedisMetricsSource(queue.internals).totals(), new Map([['default', { succeeded: 8, failed: 1 }]]));
    });

    it('serves GET <mount>/metrics on the dashboard handler; gauges show what waits', async () => {
      open();
      await queue.async(Job, 'ok', { args: [1] });
      await queue.schedule(Job, Date.now() + 3600000, 'ok', { args: [2] });
      const server = http.createServer(queue.dashboard({ base: '/async' }));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const { port } = server.address() as AddressInfo;
        const res = await fetch(`http://127.0.0.1:${port}/async/metrics`);
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
        const p = parsePrometheus(await res.text());
        const g = (name: string, labels: Record<string, string>) => sample(p.get(name), name, labels);
        assert.equal(g('sequelize_async_queue_tasks', { queue: 'default', state: 'queued' }), 1);
        assert.equal(g('sequelize_async_queue_tasks', { queue: 'default', state: 'scheduled' }), 1);
        assert.equal(g('sequelize_async_workers', { queue: 'default' }), 0);
        const latency = g('sequelize_async_queue_latency_seconds', { queue: 'default' })!;
        assert.ok(latency >= 0 && latency < 60, `the due task's age (${latency} s)`);
        assert.equal(p.get('sequelize_async_tasks_total')!.samples.length, 0, 'nothing ran yet');
        assert.ok(p.has('sequelize_async_task_duration_seconds'));
        // The overview chart reads the recorded metrics without the mirror.
        const chart = await (await fetch(`http://127.0.0.1:${port}/async/api/metrics?range=hour`, { headers: { accept: 'application/json' } })).json() as { series: { processed: number[] } | null };
        assert.equal(chart.series?.processed.length, 60);
      } finally {
        await new Promise((r) => server.close(r));
      }
    });

    // The scripts take `now` from ARGV 2: drive the clock by calling them with a chosen one.
    const at = (now: number) => [queue.internals.keys('default').base, now, '0', 60000];
    async function claimAt(now: number) {
      const k = queue.internals.keys('default');
      return parseClaimReply('default', await runScript(queue.redis, 'claim', k, [...at(now), 'w1', 30000, 1, '1'], true) as Buffer[]);
    }
    /** Finishes attempt `attempt` of task `id` at `now` with `outcome`; a retry is due at once and claimed again in the same call. */
    async function finishAt(now: number, id: string, attempt: number, outcome: 'ok' | 'fail' | 'retry', ms = 12) {
      const k = queue.internals.keys('default');
      return parseClaimReply('default', await runScript(queue.redis, 'finish', k,
        [...at(now), 'w1', 30000, outcome === 'retry' ? 1 : 0, '1', '1', id, String(attempt), outcome, '', String(now), ms], true) as Buffer[]);
    }

    it('counts per minute for 24 hours and per hour for 30 days; a slot from a day before starts again at 0', async () => {
      open();
      const t0 = Date.UTC(2026, 0, 1, 10, 0, 30);
      const task = await queue.async(Job, 'ok', { args: [1] });
      let c = await claimAt(t0);
      assert.equal(c.tasks[0].id, String(task.id));
      c = await finishAt(t0, String(task.id), 1, 'retry');
      c = await finishAt(t0 + 60000, String(task.id), 2, 'retry');
      await finishAt(t0 + 60000, String(task.id), 3, 'fail');
      const k = queue.internals.keys('default');
      const minutes = await readSeries(queue.redis, k, 'minute', 3, t0 + 60000);
      assert.deepEqual(minutes, [{ succeeded: 0, failed: 0, retried: 0 }, { succeeded: 0, failed: 0, retried: 1 }, { succeeded: 0, failed: 1, retried: 1 }]);
      const hours = await readSeries(queue.redis, k, 'hour', 2, t0 + 60000);
      assert.deepEqual(hours, [{ succeeded: 0, failed: 0, retried: 0 }, { succeeded: 0, failed: 1, retried: 2 }]);
      // A day and a minute later the minute ring reuses the slot of t0 + 1 min: it starts again at 0,
      // and the minute of t0 is out of the last 24 hours.
      const day = 24 * 3600000;
      const t2 = await queue.async(Job, 'ok', { args: [2] });
      c = await claimAt(t0 + day + 60000);
      await finishAt(t0 + day + 60000, String(t2.id), c.tasks[0].attempt, 'ok');
      assert.deepEqual((await readSeries(queue.redis, k, 'minute', MINUTE_SLOTS, t0 + day + 60000)).filter((x) => x.succeeded + x.failed + x.retried > 0),
        [{ succeeded: 1, failed: 0, retried: 0 }], 'the minutes of the day before are no longer in the last 24 hours');
      assert.deepEqual((await readSeries(queue.redis, k, 'hour', 25, t0 + day + 60000))[0], { succeeded: 0, failed: 1, retried: 2 }, 'the hour of t0 is still in the 30 days');
      // 31 days later the hour ring has moved on too; the totals since the start have not.
      const t3 = await queue.async(Job, 'ok', { args: [3] });
      c = await claimAt(t0 + 31 * day);
      await finishAt(t0 + 31 * day, String(t3.id), c.tasks[0].attempt, 'ok');
      const all = await readSeries(queue.redis, k, 'hour', HOUR_SLOTS, t0 + 31 * day);
      assert.equal(all.reduce((a, x) => a + x.succeeded + x.failed + x.retried, 0), 1);
      const totals = await readTotals(queue.redis, k);
      assert.deepEqual({ ...totals.tasks.get('Job#ok'), duration: undefined }, { succeeded: 2, failed: 1, retried: 2, duration: undefined });
      assert.equal(totals.tasks.get('Job#ok')!.duration.count, 5);
      assert.equal(totals.tasks.get('Job#ok')!.duration.sumMs, 60);
      assert.equal(totals.wait.count, 5, 'one wait per claimed attempt');
    });

    it('keeps memory bounded: weeks of load leave at most the documented keys and fields', async () => {
      open();
      const k = queue.internals.keys('default');
      const task = await queue.async(Job, 'ok', { args: [1] });
      // One finish.lua per step (a retry due at once is claimed again in the same call); steps of 61
      // minutes visit every minute slot (61 and 1440 share no factor) and every hour slot.
      const t0 = Date.UTC(2026, 0, 1);
      let c = await claimAt(t0);
      // (ioredis-mock runs Lua slowly: fewer steps there, the full turn of both rings on Redis.)
      const steps = backend === 'mock' ? 300 : 2200;
      const slots = new Set<string>();
      for (let i = 1; i <= steps; i++) {
        const now = t0 + i * 61 * 60000;
        c = await finishAt(now, String(task.id), c.tasks[0].attempt, 'retry', i);
        assert.equal(c.got, 1);
        slots.add(`m${Math.floor(now / 60000) % MINUTE_SLOTS}`).add(`h${Math.floor(now / 3600000) % HOUR_SLOTS}`);
      }
      assert.ok(await queue.redis.hlen(k.metricsSeries) <= MINUTE_SLOTS + HOUR_SLOTS);
      assert.equal(await queue.redis.hlen(k.metricsSeries), slots.size, 'one field per slot visited');
      if (backend === 'redis') assert.equal(slots.size, MINUTE_SLOTS + HOUR_SLOTS, 'every slot was visited: the bound is reached, not passed');
      // Totals: per Type#action 3 outcomes + 15 duration buckets + sum; per queue 15 wait buckets + sum.
      assert.ok(await queue.redis.hlen(k.metrics) <= (3 + BUCKETS_MS.length + 2) + (BUCKETS_MS.length + 2));
      const totals = await readTotals(queue.redis, k);
      assert.equal(totals.tasks.get('Job#ok')!.retried, steps);
      assert.equal(totals.wait.count, steps + 1);
      if (backend === 'redis') {
        const keys = await queue.redis.keys(`${k.base}metrics*`);
        assert.deepEqual(keys.sort(), [k.metrics, k.metricsSeries].sort());
      }
    });

    it('setup metrics: false records nothing', async () => {
      open({ metrics: false });
      await queue.async(Job, 'ok', { args: [1] });
      await queue.async(Job, 'boom');
      const w = await runUntilDone(2, async () => (await queue.redis.zcard(queue.internals.keys('default').finished)) === 2);
      await w.stop();
      const k = queue.internals.keys('default');
      assert.equal(await queue.redis.exists(k.metrics, k.metricsSeries), 0);
      const p = parsePrometheus(await queue.metrics());
      assert.equal(p.get('sequelize_async_tasks_total')!.samples.length, 0);
    });

    it('a damaged total (not a number) counts again from 0; the outcomes it was written with still land', async () => {
      open({ retention: 60000 });
      const k = queue.internals.keys('default');
      // A call's totals go in with one read and one write (one HINCRBY for a lone field): a field that
      // is not a whole number must not abort finish.lua, which records the outcomes and claims in the
      // same step. Every wait bucket is damaged too, whichever the waits fall in.
      const waits = BUCKETS_MS.map((_ms, i) => `w${i + 1}`).concat(`w${BUCKETS_MS.length + 1}`);
      await queue.redis.hset(k.metrics, 's:Job#ok', 'garbage', 'd1:Job#ok', '1.5e999', ...waits.flatMap((f) => [f, 'x']));
      const tasks = await Promise.all([1, 2, 3].map((i) => queue.async(Job, 'ok', { args: [i] })));
      const w = await runUntilDone(3, async () => (await queue.redis.zcard(k.finished)) === 3);
      await w.stop();
      for (const t of tasks) assert.equal((await queue.task(t.id))?.state, 'succeeded');
      assert.equal((await readTotals(queue.redis, k)).tasks.get('Job#ok')?.succeeded, 3);
      assert.deepEqual(await queue.redis.hmget(k.metrics, 's:Job#ok', 'd1:Job#ok'), ['3', '3']);
      const counted = (await queue.redis.hmget(k.metrics, ...waits)).filter((v) => v !== 'x');
      assert.ok(counted.every((v) => /^\d+$/.test(String(v))), `wait buckets written are whole numbers: ${counted.join(', ')}`);
      assert.equal(counted.reduce((n, v) => n + Number(v), 0), 3, 'three waits, one per claim');
    });

    it('refuses a metrics setting that is not a boolean', () => {
      assert.throws(() => setup({ redis: 'mock', metrics: 'yes' as unknown as boolean }), /setup: metrics must be true or false/);
      open();
    });
  });
}
