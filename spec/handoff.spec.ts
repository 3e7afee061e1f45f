// Hand-off (lib/worker/handoff.ts, include/handoff.lua): an enqueue that finds an idle worker
// registered claims the first due task for it in the same script, so the worker starts it from its
// BZPOPMIN's answer without a claim call. On a redis-server of its own (INFO commandstats counts
// every script call there, and a worker process is killed with -9).
import { strict as assert } from 'assert';
import Redis from 'ioredis';
import { createHash } from 'crypto';
import { loadScript, keysFor } from '../lib/scripts';
import { buildSpec } from '../lib/enqueue/options';
import { enqueueArgs } from '../lib/enqueue/blob';
import { setup, Queue } from '../lib';
import { handoffKey } from '../lib/keys';
import { parseHanded } from '../lib/worker/handoff';
import { RedisServer } from './faults/servers';
import { startWorker, kill9, killAll } from './faults/harness';
import { uniquePrefix, until, sleep } from './helpers';

const CLAIM_SHA = createHash('sha1').update(loadScript('claim').lua).digest('hex');
const ENQUEUE_SHA = createHash('sha1').update(loadScript('enqueue').lua).digest('hex');

/** The scripts the server ran since the last SLOWLOG RESET (slowlog-log-slower-than 0 logs every command). */
async function scriptsRun(redis: Redis): Promise<string[]> {
  const log = await redis.slowlog('GET', 1000) as [number, number, number, string[]][];
  return log.filter((e) => /^eval/i.test(e[3][0])).map((e) => e[3][1] === CLAIM_SHA ? 'claim' : e[3][1] === ENQUEUE_SHA ? 'enqueue' : 'other').reverse();
}

describe('hand-off: an enqueue hands its task to an idle worker', function () {
  this.timeout(30000);
  let server: RedisServer;
  let redis: Redis;
  let queue: Queue;
  let prefix: string;
  const runs: { id: number; scripts: string[] }[] = [];
  const idlers = () => redis.zrange(queue.internals.keys('default').idlers, 0, -1);
  const field = (id: number, f: string) => redis.hget(`${queue.internals.keys('default').base}t:${id}`, f);

  before(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.url);
  });
  after(async () => {
    await killAll();
    redis.disconnect();
    await server.stop();
  });
  const Jobs = {
    // Script calls counted as the method starts: the enqueue's, and a claim's if there was one.
    async echo(x: number, s: string) { runs.push({ id: x, scripts: await scriptsRun(redis) }); return `${s}${x * 2}`; },
    async who(x: number, ms = 0) { await sleep(ms); return x; },
  };
  const Sleeper = { async nap(i: number) { return i; } };
  beforeEach(() => {
    prefix = uniquePrefix('ho');
    queue = setup({ prefix, redis: server.url });
    runs.length = 0;
    queue.register('Jobs', Jobs);
    queue.register('Sleeper', Sleeper);
  });
  afterEach(async () => { await queue.close(); });

  it('runs the task of an idle worker with no claim call: one script call from enqueue to the method, result stored', async () => {
    const w = queue.worker({ concurrency: 1 });
    await w.start();
    await (await queue.async(Jobs, 'who', { args: [0] })).wait({ timeout: 3000 }); // (the scripts loaded: EVALSHA from here on)
    await until(async () => (await idlers()).length === 1, 3000, 'the worker registered');
    await redis.config('SET', 'slowlog-log-slower-than', '0');
    await redis.slowlog('RESET');
    const t = await queue.async(Jobs, 'echo', { args: [7, '5:ab:é\u0000☃'] }); // (framed by length: colons and any bytes pass)
    await until(() => runs.length === 1, 3000, 'the task ran');
    await redis.config('SET', 'slowlog-log-slower-than', '10000');
    assert.deepEqual(runs[0].scripts.filter((s) => s !== 'other'), ['enqueue'], 'the enqueue, and no claim.lua, before the method started');
    await t.wait({ timeout: 3000 });
    assert.equal(t.result, '5:ab:é\u0000☃14', 'its args arrived whole and its result is stored');
    await w.stop();
  });

  it('writes a lone async() to Redis before the call returns; the calls after it in the same stretch go in one more call', async () => {
    await queue.async(Jobs, 'who', { args: [0] }); // (scripts loaded)
    await redis.config('SET', 'slowlog-log-slower-than', '0');
    await redis.slowlog('RESET');
    const stream = queue.redis.stream;
    const before = stream.bytesWritten;
    // An idle worker's pickup waits on this write: it must not wait for the caller's own code to end.
    const first = queue.async(Jobs, 'who', { args: [1] });
    const afterFirst = stream.bytesWritten;
    const rest = Array.from({ length: 9 }, (_, i) => queue.async(Jobs, 'who', { args: [i + 2] }));
    const afterRest = stream.bytesWritten;
    const tasks = await Promise.all([first, ...rest]);
    await redis.config('SET', 'slowlog-log-slower-than', '10000');
    assert.ok(afterFirst > before, 'the first enqueue was on the socket when async() returned');
    assert.equal(afterRest, afterFirst, 'the nine after it wait for the batch (a microtask later)');
    assert.deepEqual((await scriptsRun(redis)).filter((s) => s === 'enqueue'), ['enqueue', 'enqueue'], 'two enqueue.lua calls for the ten');
    assert.deepEqual(tasks.map((t) => t.state), Array(10).fill('queued'));
    assert.equal(new Set(tasks.map((t) => t.id)).size, 10);
  });

  it('is not done while the queue is paused: the worker stays registered and runs it on resume', async () => {
    const w = queue.worker({ concurrency: 1 });
    await w.start();
    await until(async () => (await idlers()).length === 1, 3000, 'the worker registered');
    await queue.pause('default');
    const t = await queue.async(Jobs, 'who', { args: [1] });
    await sleep(300);
    assert.equal(await field(t.id, 'state'), 'queued', 'not started while paused');
    assert.equal(await redis.exists(handoffKey(queue.internals.keys('default'), w.name)), 0, 'nothing handed');
    assert.equal((await idlers()).length, 1, 'still registered');
    await queue.resume('default');
    await t.wait({ timeout: 3000 });
    assert.equal(t.state, 'succeeded');
    await w.stop();
  });

  it('hands the highest-priority due task, not the one just enqueued', async () => {
    const k = queue.internals.keys('default');
    const high = await queue.async(Jobs, 'who', { args: [1], priority: 10 });
    // A worker that registered and is not reading (so the handed task stays in its key to be read here).
    await redis.zadd(k.idlers, Date.now() + 5000, '30000:1:reader');
    const low = await queue.async(Jobs, 'who', { args: [2], priority: 0 });
    const [member] = await redis.zrange(handoffKey(k, 'reader'), 0, -1, 'WITHSCORES').then((r) => [r[0]]);
    const handed = parseHanded('default', Buffer.from(member, 'latin1'));
    assert.equal(Number(handed?.id), high.id, 'the higher-priority task waiting was handed');
    assert.equal(handed?.attempt, 1);
    assert.equal(await field(high.id, 'state'), 'running');
    assert.equal(await field(high.id, 'worker'), 'reader');
    assert.equal(await field(low.id, 'state'), 'queued');
    assert.ok((await redis.pttl(handoffKey(k, 'reader'))) > 0, 'the handoff key expires (with the lease)');
  });

  // A worker that registered and is not reading: what it was handed stays in its key, to be read here.
  const reader = async (name = 'reader') => {
    const k = queue.internals.keys('default');
    await redis.zadd(k.idlers, Date.now() + 5000, `30000:1:${name}`);
    return async () => {
      const [member] = await redis.zrange(handoffKey(k, name), 0, -1);
      return member === undefined ? null : parseHanded('default', Buffer.from(member, 'latin1'));
    };
  };

  it('a lone task with nothing else due is stored running for the idler at once: no due entry, lease, wait counted', async () => {
    const k = queue.internals.keys('default');
    const handedTo = await reader();
    // Waits counted, over every bucket (w1 is up to 5 ms; a loaded machine may take longer).
    const waits = async () => Object.entries(await redis.hgetall(k.metrics)).filter(([f]) => /^w\d+$/.test(f)).reduce((n, [, v]) => n + Number(v), 0);
    const before = await waits();
    const t = await queue.async(Jobs, 'who', { args: [4, 5], attempts: 3, timeout: 900, backoff: { type: 'fixed', delay: 100 } });
    const handed = await handedTo();
    assert.equal(Number(handed?.id), t.id, 'handed');
    assert.deepEqual([handed?.attempt, handed?.maxAttempts, handed?.timeout, handed?.type, handed?.action], [1, 3, 900, 'Jobs', 'who']);
    assert.ok(handed?.backoff, 'its backoff travels with it');
    assert.deepEqual([await field(t.id, 'state'), await field(t.id, 'attempts'), await field(t.id, 'worker')], ['running', '1', 'reader']);
    assert.ok(Number(await field(t.id, 'started_at')) > 0, 'started_at set');
    assert.equal(await redis.exists(k.levels), 0, 'no due entry: it never waited');
    const lease = Number(await redis.zscore(k.running, String(t.id)));
    assert.ok(lease > Date.now() + 25000, 'leased for the lease the idler registered with (30 s)');
    assert.equal(await waits(), before + 1, 'its wait is counted, as a claim counts it');
    assert.equal(await redis.exists(k.marker), 0, 'no other worker woken: nothing else is due');
  });

  it('the direct hand-off with the mirror on appends the task to the outbox, as a claim would (enqueue.lua called as the enqueuer does)', async () => {
    const k = queue.internals.keys('default');
    await redis.zadd(k.idlers, Date.now() + 7000, '30000:1:mirrorer');
    const spec = buildSpec('Jobs', null, 'who', { args: [7] }, 10);
    const argv = [k.base, String(Date.now()), '1', '0', ...enqueueArgs([spec], [424242])];
    assert.equal(await redis.evalsha(ENQUEUE_SHA, keysFor('enqueue', k).length, ...keysFor('enqueue', k), ...argv).catch(async (e) => {
      if (!/NOSCRIPT/.test(String(e))) throw e;
      await redis.script('LOAD', loadScript('enqueue').lua);
      return redis.evalsha(ENQUEUE_SHA, keysFor('enqueue', k).length, ...keysFor('enqueue', k), ...argv);
    }), '1');
    assert.equal(await field(424242, 'state'), 'running');
    assert.equal(await redis.exists(handoffKey(k, 'mirrorer')), 1, 'handed');
    assert.deepEqual(await redis.lrange(k.outbox, 0, -1), ['424242'], 'one outbox entry: the mirror writes its running row');
  });

  it('an idler entry past its time (a worker killed while idle, long ago) is dropped: nothing handed to it', async () => {
    const k = queue.internals.keys('default');
    await redis.zadd(k.idlers, Date.now() - 1, '30000:1:stale');
    const t = await queue.async(Jobs, 'who', { args: [1] });
    assert.equal(await field(t.id, 'state'), 'queued');
    assert.equal(await redis.exists(handoffKey(k, 'stale')), 0);
    assert.deepEqual(await idlers(), [], 'the stale entry is gone');
  });

  it('a lone enqueue does not jump a scheduled task whose time has come: that one is handed', async () => {
    const early = await queue.schedule(Jobs, Date.now() + 150, 'who', { args: [1] }); // priority 20
    await sleep(250); // due now, still in `scheduled` (no worker promoted it)
    const handedTo = await reader();
    const late = await queue.async(Jobs, 'who', { args: [2] }); // priority 10
    assert.equal(Number((await handedTo())?.id), early.id, 'the due scheduled task (higher priority) was handed');
    assert.equal(await field(late.id, 'state'), 'queued');
  });

  it("unique: a task handed at once frees its lock (uniqueUntil 'started'); with 'finished' it keeps it", async () => {
    await reader('r1');
    const a = await queue.async(Jobs, 'who', { args: [1], unique: 'u' });
    assert.equal(await field(a.id, 'state'), 'running');
    const b = await queue.async(Jobs, 'who', { args: [1], unique: 'u' });
    assert.ok(!b.duplicate && b.id !== a.id, 'started: the next one of the key is queued');
    await redis.del(queue.internals.keys('default').levels, `${queue.internals.keys('default').base}fifo:10`);
    await reader('r2');
    const c = await queue.async(Jobs, 'who', { args: [2], unique: 'f', uniqueUntil: 'finished' });
    assert.equal(await field(c.id, 'state'), 'running');
    const d = await queue.async(Jobs, 'who', { args: [2], unique: 'f', uniqueUntil: 'finished' });
    assert.ok(d.duplicate && d.id === c.id, 'finished: refused while it runs');
  });

  it('gives each task to exactly one of two idle workers', async () => {
    const seen: { id: number; w: string }[] = [];
    const ws = [queue.worker({ name: 'w-a', concurrency: 1 }), queue.worker({ name: 'w-b', concurrency: 1 })];
    for (const w of ws) { w.on('task', (e) => seen.push({ id: Number(e.id), w: w.name })); await w.start(); }
    await until(async () => (await idlers()).length === 2, 3000, 'both registered');
    const ids: number[] = [];
    for (let i = 0; i < 30; i++) {
      ids.push((await queue.async(Jobs, 'who', { args: [i, i % 3 === 0 ? 15 : 0] })).id);
      await sleep(i % 2 ? 2 : 12);
    }
    await until(() => seen.length >= 30, 5000, 'all ran');
    await sleep(100);
    assert.deepEqual(seen.map((s) => s.id).sort((a, b) => a - b), [...ids].sort((a, b) => a - b), 'each task once');
    for (const id of ids) assert.equal(await field(id, 'attempts'), '1', `task ${id} ran in one attempt`);
    assert.ok(new Set(seen.map((s) => s.w)).size === 2, 'both took tasks');
    for (const w of ws) await w.stop();
  });

  it('concurrency 2: a worker with a free slot stays registered after a hand-off; a full one is handed nothing', async () => {
    const w = queue.worker({ concurrency: 2, prefetch: 0 });
    await w.start();
    await until(async () => (await idlers()).length === 1, 3000, 'registered');
    const a = await queue.async(Jobs, 'who', { args: [1, 400] });
    await until(async () => (await field(a.id, 'state')) === 'running', 1000, 'a handed');
    await until(async () => (await idlers()).length === 1, 1000, 'registered again: a slot is free');
    const b = await queue.async(Jobs, 'who', { args: [2, 400] });
    assert.equal(await field(b.id, 'worker'), w.name, 'b handed too');
    await sleep(100);
    assert.deepEqual(await idlers(), [], 'full: not registered');
    const c = await queue.async(Jobs, 'who', { args: [3] });
    assert.equal(await field(c.id, 'state'), 'queued', 'nobody to hand it to: it waits for a slot');
    await c.wait({ timeout: 3000 });
    assert.equal(c.state, 'succeeded');
    await until(async () => (await idlers()).length === 1, 3000, 'idle again: registered');
    await w.stop();
  });

  it('a worker killed (-9) while idle: a task handed to it runs elsewhere once its lease runs out', async () => {
    const proc = startWorker({ FAULT_REDIS: server.url, FAULT_PREFIX: prefix, FAULT_CONCURRENCY: '1', FAULT_LEASE_MS: '1500', FAULT_RUNS: `${prefix}:runs` });
    await proc.ready;
    await until(async () => (await idlers()).length === 1, 3000, 'the process registered');
    const [dead] = await idlers();
    await kill9(proc);
    const t = await queue.async(Sleeper, 'nap', { args: [1, 0] });
    assert.equal(await field(t.id, 'state'), 'running', 'handed to the dead worker (its entry was fresh)');
    assert.equal(await field(t.id, 'worker'), dead.split(':').slice(2).join(':'));
    const at = Date.now();
    const w = queue.worker({ concurrency: 1, leaseMs: 1000 }); // sweeps every 500 ms
    await w.start();
    await t.wait({ timeout: 5000 });
    const ms = Date.now() - at;
    assert.equal(t.state, 'succeeded');
    assert.equal(t.attempts, 2, 'the handed attempt was the dead worker\'s');
    assert.ok(ms < 1500 + 1000, `ran after the dead worker's lease (1.5 s), at most a sweep later (${ms} ms)`);
    await w.stop();
  });

  it('at stop, leaves idlers and hands back a task handed and not read: another worker runs it', async () => {
    const k = queue.internals.keys('default');
    const w1 = queue.worker({ name: 'stopper', concurrency: 1 });
    await w1.start();
    await until(async () => (await idlers()).length === 1, 3000, 'registered');
    await w1.stop();
    assert.deepEqual(await idlers(), [], 'its entry is gone');
    // A worker that registered and stops before it read what it was handed (played by hand).
    await redis.zadd(k.idlers, Date.now() + 5000, '30000:1:gone');
    const t = await queue.async(Jobs, 'who', { args: [3] });
    assert.equal(await field(t.id, 'worker'), 'gone');
    assert.equal(await queue.internals.script('idle-leave', 'default', ['30000:1:gone']), '1', 'one handed back');
    assert.equal(await field(t.id, 'state'), 'queued');
    const w2 = queue.worker({ name: 'other', concurrency: 1 });
    await w2.start();
    await t.wait({ timeout: 3000 });
    assert.equal(t.state, 'succeeded');
    assert.equal(await field(t.id, 'worker'), 'other');
    await w2.stop();
  });
});
