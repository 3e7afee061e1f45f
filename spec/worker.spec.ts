// The worker's lease keeping and its conditions: the sweep at start and over every queue of the
// prefix, abandonWorker for a worker known dead, the 'swept' counts, typed LeaseLostError and
// FinishRefusedError, start() against an unreachable Redis, and one 'error' + one 'reconnected'
// per Redis outage. A dead worker is played by a "ghost": claim.lua run by hand, its lease never
// renewed, which is what a killed process leaves behind.
import { strict as assert } from 'assert';
import type Redis from 'ioredis';
import { ReplyError } from 'ioredis';
import { setup, Queue } from '../lib';
import { LeaseLostError, FinishRefusedError, RedisUnreachableError } from '../lib/errors';
import { parseClaimReply } from '../lib/claim-reply';
import { abandonWorker } from '../lib/worker/lease-keeper';
import { isConnectionError } from '../lib/worker/redis-watch';
import type { SweptEvent } from '../lib/worker/events';
import { uniquePrefix, dropPrefix, redisClient, until, sleep } from './helpers';
import { RedisServer } from './faults/servers';

describe('worker: sweep, abandoned workers, typed conditions, Redis outages', function () {
  this.timeout(20000);
  let queue: Queue;
  let redis: Redis;
  let prefix: string;
  const field = (q: string, id: number, f: string) => redis.hget(`${queue.internals.keys(q).base}t:${id}`, f);
  /** Claims the next due task of a queue for a worker that then "dies": its lease is never renewed. */
  const ghostClaim = async (q: string, leaseMs: number, worker = 'ghost') => {
    const r = parseClaimReply(q, await queue.internals.script('claim', q, [worker, leaseMs, 1], true) as Buffer[]);
    assert.equal(r.got, 1, `${worker} claimed a task in ${q}`);
    return Number(r.tasks[0].id);
  };
  const Jobs = { echo: (x: unknown) => x };

  before(() => { redis = redisClient(); });
  beforeEach(() => {
    prefix = uniquePrefix('wk');
    queue = setup({ prefix });
    queue.register('Jobs', Jobs);
  });
  afterEach(async () => {
    await queue.close();
    await dropPrefix(redis, prefix);
  });
  after(() => redis.disconnect());

  describe('the sweep', () => {
    it('runs at start: a lease that ran out before the worker came up is recovered without waiting leaseMs/2', async () => {
      const t = await queue.async(Jobs, 'echo', { args: ['hi'] });
      await ghostClaim('default', 50);
      await sleep(100);
      const w = queue.worker({ leaseMs: 60000 }); // its next timed sweep would be 30 s away
      const swept: SweptEvent[] = [];
      w.on('swept', (e) => swept.push(e));
      await w.start();
      await t.wait({ timeout: 3000 });
      assert.equal(t.state, 'succeeded');
      assert.equal(t.attempts, 2);
      assert.equal(await field('default', t.id, 'stalled'), '1');
      assert.deepEqual(swept, [{ queue: 'default', recovered: 1, failed: 0 }]);
      await w.stop();
    });

    it('covers a queue no running worker serves: its dead worker\'s task is recovered by a worker of another queue', async () => {
      const orphan = await queue.async(Jobs, 'echo', { args: [1], queue: 'orphan' });
      await ghostClaim('orphan', 50);
      await sleep(100);
      const w = queue.worker({ queues: ['other'], leaseMs: 60000 });
      const swept: SweptEvent[] = [];
      w.on('swept', (e) => swept.push(e));
      await w.start();
      await until(async () => (await field('orphan', orphan.id, 'state')) === 'queued', 3000, 'the orphan task to be queued again');
      assert.equal(await field('orphan', orphan.id, 'stalled'), '1');
      assert.equal(await redis.zscore(queue.internals.keys('orphan').running, String(orphan.id)), null, 'no lease left');
      assert.deepEqual(swept, [{ queue: 'orphan', recovered: 1, failed: 0 }]);
      await w.stop();
      // It waits for a worker of its own queue, which runs it as attempt 2.
      const o = queue.worker({ queues: ['orphan'] });
      await o.start();
      await orphan.wait({ timeout: 3000 });
      assert.equal(orphan.state, 'succeeded');
      assert.equal(orphan.attempts, 2);
      await o.stop();
    });

    it('counts what it failed in \'swept\': past maxStalls the task fails with "worker lost"', async () => {
      const t = await queue.async(Jobs, 'echo', { args: [1] });
      await ghostClaim('default', 50);
      await sleep(100);
      const w = queue.worker({ leaseMs: 60000, maxStalls: 0 });
      const swept: SweptEvent[] = [];
      w.on('swept', (e) => swept.push(e));
      await w.start();
      await t.wait({ timeout: 3000 });
      assert.equal(t.state, 'failed');
      assert.equal((t.result as Error).name, 'WorkerLostError');
      assert.deepEqual(swept, [{ queue: 'default', recovered: 0, failed: 1 }]);
      await w.stop();
    });

    it('emits no \'swept\' when there was nothing to recover', async () => {
      const w = queue.worker({ leaseMs: 200 });
      let swept = 0;
      w.on('swept', () => swept++);
      await w.start();
      const t = await queue.async(Jobs, 'echo', { args: [1] });
      await t.wait({ timeout: 3000 });
      await sleep(300); // a few timed sweeps
      assert.equal(swept, 0);
      await w.stop();
    });
  });

  describe('abandonWorker', () => {
    it('frees the running tasks of a worker known dead at once, as stalls, and names it in stalled_by', async () => {
      const a = await queue.async(Jobs, 'echo', { args: ['a'] });
      const b = await queue.async(Jobs, 'echo', { args: ['b'], queue: 'mail' });
      const c = await queue.async(Jobs, 'echo', { args: ['c'] });
      await ghostClaim('default', 60000, 'dead-1');
      await ghostClaim('mail', 60000, 'dead-1');
      await ghostClaim('default', 60000, 'alive-2');
      const r = await abandonWorker(queue.internals, 'dead-1');
      assert.deepEqual(r.sort((x, y) => x.queue.localeCompare(y.queue)), [
        { queue: 'default', abandoned: 1, recovered: 1, failed: 0, sweptHere: true },
        { queue: 'mail', abandoned: 1, recovered: 1, failed: 0, sweptHere: true },
      ]);
      for (const [q, t] of [['default', a], ['mail', b]] as const) {
        assert.equal(await field(q, t.id, 'state'), 'queued', `task ${t.id} is queued again`);
        assert.equal(await field(q, t.id, 'stalled'), '1', 'counted as a stall');
        assert.equal(await field(q, t.id, 'stalled_by'), 'dead-1', 'the hash says which worker died');
      }
      // Another worker's task keeps its lease.
      assert.equal(await field('default', c.id, 'state'), 'running');
      assert.equal(await field('default', c.id, 'stalled_by'), null);
      assert.ok(Number(await redis.zscore(queue.internals.keys('default').running, String(c.id))) > Date.now() + 30000);
      const w = queue.worker({ queues: ['default', 'mail'] });
      await w.start();
      await Promise.all([a.wait({ timeout: 3000 }), b.wait({ timeout: 3000 })]);
      assert.deepEqual([a.state, a.attempts, b.state, b.attempts], ['succeeded', 2, 'succeeded', 2]);
      await w.stop();
    });

    it('takes an idle dead worker out of the hand-off: the next task is not handed to it', async () => {
      const k = queue.internals.keys('default');
      await queue.async(Jobs, 'echo', { args: [0] }); // the queue is known to the prefix
      // What an idle worker killed by -9 leaves: its entry among the idlers, fresh.
      await redis.zadd(k.idlers, Date.now() + 5000, '60000:1:dead-4');
      assert.deepEqual(await abandonWorker(queue.internals, 'dead-4'), []);
      assert.equal(await redis.zcard(k.idlers), 0, 'its idler entry is gone');
      const t = await queue.async(Jobs, 'echo', { args: [1] });
      assert.equal(await redis.exists(`${k.base}handoff:dead-4`), 0, 'nothing handed to it');
      assert.equal(await field('default', t.id, 'state'), 'queued');
    });

    it('fails them with "worker lost" past maxStalls, and does nothing for a worker that held nothing', async () => {
      const t = await queue.async(Jobs, 'echo', { args: [1] });
      await ghostClaim('default', 60000, 'dead-2');
      assert.deepEqual(await abandonWorker(queue.internals, 'nobody'), []);
      assert.equal(await field('default', t.id, 'state'), 'running');
      const r = await abandonWorker(queue.internals, 'dead-2', { maxStalls: 0 });
      assert.deepEqual(r, [{ queue: 'default', abandoned: 1, recovered: 0, failed: 1, sweptHere: true }]);
      await t.reload();
      assert.equal(t.state, 'failed');
      assert.equal((t.result as Error).name, 'WorkerLostError');
      await assert.rejects(abandonWorker(queue.internals, ''), /dead worker's name/);
    });
  });

  describe('typed conditions', () => {
    it('reports a lost lease as a LeaseLostError and the refused finish as a FinishRefusedError (queue, ids)', async () => {
      let release: (v: string) => void = () => undefined;
      let calls = 0;
      const Slow = { run: () => (++calls === 1 ? new Promise<string>((r) => { release = r; }) : 'again') };
      queue.register('Slow', Slow);
      const errors: Error[] = [];
      const w = queue.worker({ leaseMs: 300 });
      w.on('error', (e) => errors.push(e));
      await w.start();
      const t = await queue.async(Slow, 'run');
      await until(async () => (await field('default', t.id, 'state')) === 'running', 5000, 'it to run');
      // As if the sweep had given the task to another worker: the attempt token moves on.
      await redis.hincrby(`${queue.internals.keys('default').base}t:${t.id}`, 'attempts', 1);
      await until(() => errors.some((e) => e instanceof LeaseLostError), 3000, 'a LeaseLostError');
      const lost = errors.find((e) => e instanceof LeaseLostError) as LeaseLostError;
      assert.equal(lost.queue, 'default');
      assert.deepEqual(lost.ids, [String(t.id)]);
      assert.equal(lost.name, 'LeaseLostError');
      assert.match(lost.message, new RegExp(`lost the lease of task\\(s\\) ${t.id} Slow#run in queue default`));
      await sleep(400);
      assert.equal(errors.filter((e) => e instanceof LeaseLostError).length, 1, 'a lost lease is reported once, not on every renewal');
      release('late');
      await until(() => errors.some((e) => e instanceof FinishRefusedError), 3000, 'a FinishRefusedError');
      const refused = errors.find((e) => e instanceof FinishRefusedError) as FinishRefusedError;
      assert.equal(refused.queue, 'default');
      assert.deepEqual(refused.ids, [String(t.id)]);
      assert.match(refused.message, /finish refused for task\(s\) \d+ Slow#run in queue default/);
      // Its lease ran out unrenewed, so the sweep queued it again; the next attempt's outcome is the one kept.
      await t.wait({ timeout: 3000 });
      assert.equal(t.result, 'again', 'the lost attempt\'s outcome did not land');
      assert.equal(t.attempts, 3);
      await w.stop();
    });

    it('passes an error Redis answered with on as it is: not an outage, no \'reconnected\'', async () => {
      // The idle wait's BZPOPMIN on a marker that is not a zset: Redis answers WRONGTYPE.
      await redis.set(queue.internals.keys('default').marker, 'damaged');
      const errors: Error[] = [];
      let back = 0;
      const w = queue.worker();
      w.on('error', (e) => errors.push(e));
      w.on('reconnected', () => back++);
      await w.start();
      await until(() => errors.length > 0, 3000, 'the WRONGTYPE error');
      assert.ok(errors.every((e) => e instanceof ReplyError && /WRONGTYPE/.test(e.message)), errors.map(String).join(' | '));
      await redis.del(queue.internals.keys('default').marker);
      const t = await queue.async(Jobs, 'echo', { args: [1] });
      await t.wait({ timeout: 3000 });
      assert.equal(back, 0);
      await w.stop();
    });

    it('tells an error Redis answered with from no answer at all', () => {
      assert.equal(isConnectionError(new ReplyError('ERR wrong number of arguments')), false);
      assert.equal(isConnectionError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })), true);
      assert.equal(isConnectionError(new RedisUnreachableError('Redis at 127.0.0.1:1 unreachable', '127.0.0.1:1')), true);
      assert.equal(isConnectionError(new Error('Connection is closed.')), true);
      assert.equal(isConnectionError(new TypeError('a bug')), false);
    });
  });

  describe('stop, then close', () => {
    // The start-up sweep, the flow and recurring subscriptions still in flight when stop() returns
    // used to report "Redis unreachable" once close() cut them off.
    it('a worker stopped right after its work, its queue closed at once, reports no error', async () => {
      const errors: string[] = [];
      for (let i = 0; i < 24; i++) {
        const q = setup({ prefix: `${prefix}x${i}`, retention: 0 });
        q.register('Jobs', Jobs);
        const n = [1, 5, 40][i % 3];
        await Promise.all(Array.from({ length: n }, (_, k) => q.async(Jobs, 'echo', { args: [k] })));
        const w = q.worker({ concurrency: i % 2 ? 50 : 1, prefetch: i % 4 < 2 ? 0 : 'auto' });
        w.on('error', (e) => errors.push(`run ${i}: ${e.message}`));
        let seen = 0;
        const all = new Promise<void>((r) => w.on('task', () => { if (++seen === n) r(); }));
        void w.start();
        await all;
        await w.stop();
        await q.close();
        await dropPrefix(redis, `${prefix}x${i}`);
      }
      await sleep(100);
      assert.deepEqual(errors, []);
    });
  });

  describe('Redis unreachable', () => {
    it('start() rejects with the queue\'s connect error and leaves nothing running; a later start works', async () => {
      const t = await queue.async(Jobs, 'echo', { args: [1] });
      const down = new RedisUnreachableError('Redis at 127.0.0.1:1 unreachable: connect ECONNREFUSED 127.0.0.1:1', '127.0.0.1:1');
      // What the queue's connected() does when the connect timeout passes without an answer.
      const host = queue.internals as unknown as { connected?: () => Promise<void> };
      const own = host.connected;
      host.connected = () => Promise.reject(down);
      const w = queue.worker();
      await assert.rejects(w.start(), (e) => e === down);
      assert.equal(queue.internals.listenerCount('enqueued'), 0, 'not listening for enqueues');
      await sleep(200);
      assert.equal(await field('default', t.id, 'state'), 'queued', 'it claimed nothing');
      host.connected = own;
      if (!own) delete host.connected;
      await w.start();
      await t.wait({ timeout: 3000 });
      assert.equal(t.state, 'succeeded');
      await w.stop();
    });

    it('adds one error listener to the queue\'s client however many workers share it, and removes it at stop', async () => {
      await queue.connected(); // the connect timeout's own listener goes once Redis is ready
      const before = queue.redis.listenerCount('error');
      const ws = Array.from({ length: 12 }, () => queue.worker());
      await Promise.all(ws.map((w) => w.start()));
      assert.equal(queue.redis.listenerCount('error'), before + 1);
      await Promise.all(ws.map((w) => w.stop()));
      assert.equal(queue.redis.listenerCount('error'), before);
    });

    it('reports a Redis that goes away once (RedisUnreachableError), and once \'reconnected\' when it is back', async function () {
      this.timeout(30000);
      const server = await RedisServer.start();
      const q = setup({ prefix, redis: server.url });
      q.on('error', () => undefined); // the queue's own report of each reconnect attempt is not what is tested here
      try {
        q.register('Jobs', Jobs);
        const errors: Error[] = [];
        const back: { downMs: number }[] = [];
        const w = q.worker({ leaseMs: 300 }); // renewals and sweeps every 100-150 ms: many retries while down
        w.on('error', (e) => errors.push(e));
        w.on('reconnected', (e) => back.push(e));
        await w.start();
        const before = await q.async(Jobs, 'echo', { args: ['before'] });
        await before.wait({ timeout: 3000 });
        await server.crash();
        await until(() => errors.length > 0, 5000, 'the outage to be reported');
        await sleep(1500); // reconnect attempts, renewals, sweeps and waits keep failing meanwhile
        await server.up(); // the same port, empty
        await until(() => back.length > 0, 10000, '\'reconnected\'');
        const after = await q.async(Jobs, 'echo', { args: ['after'] });
        await after.wait({ timeout: 5000 });
        assert.equal(after.result, 'after');
        await sleep(300);
        assert.equal(errors.length, 1, `one error, got: ${errors.map((e) => `${e.name}: ${e.message}`).join(' | ')}`);
        assert.ok(errors[0] instanceof RedisUnreachableError, `${errors[0].name}: ${errors[0].message}`);
        assert.equal((errors[0] as RedisUnreachableError).address, `127.0.0.1:${server.port}`);
        assert.match(errors[0].message, new RegExp(`Redis at 127.0.0.1:${server.port} unreachable`));
        assert.equal(back.length, 1);
        assert.ok(back[0].downMs >= 1500, `downMs ${back[0].downMs}`);
        await w.stop();
      } finally {
        await q.close();
        await server.stop();
      }
    });
  });
});
