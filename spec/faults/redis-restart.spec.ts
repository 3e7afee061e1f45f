// Redis restart: a redis-server of the spec's own (appendonly yes, appendfsync always) is
// killed with kill -9 in the middle of a run and started again on the same port and files.
// No task whose enqueue returned may be lost, and every worker process reconnects by itself.
import { strict as assert } from 'assert';
import Redis from 'ioredis';
import { setup } from '../../lib';
import { uniquePrefix, until, sleep } from '../helpers';
import { RedisServer } from './servers';
import { startWorker, killAll, WorkerProc } from './harness';

describe('faults: Redis killed and restarted mid-run (AOF, appendfsync always)', function () {
  this.timeout(90000);
  let server: RedisServer;

  before(async () => { server = await RedisServer.start(true); });
  after(async () => {
    await killAll();
    await server?.stop();
  });

  it('loses no task whose enqueue returned; workers and producer reconnect by themselves', async () => {
    const prefix = uniquePrefix('rr');
    const runsKey = `{${prefix}}:runs`;
    const queue = setup({ redis: server.url, prefix });
    // The queue's client has no 'error' listener of its own: ioredis would print every failed reconnect.
    queue.redis.on('error', () => undefined);
    const Sleeper = { nap: () => undefined };
    queue.register('Sleeper', Sleeper);
    // A claim or finish whose reply was lost in the crash is sent again by ioredis; the script
    // answers it with the first call's reply (include/replay.lua), so what that call claimed is
    // run at once, not recovered as a stall: the default maxStalls (1) and 0 stalls below.
    const env = { FAULT_REDIS: server.url, FAULT_PREFIX: prefix, FAULT_RUNS: runsKey, FAULT_CONCURRENCY: '4', FAULT_LEASE_MS: '5000', ...(process.env.FAULT_PREFETCH ? { FAULT_PREFETCH: process.env.FAULT_PREFETCH } : {}) };
    const workers: WorkerProc[] = Array.from({ length: 4 }, () => startWorker(env));
    await Promise.all(workers.map((w) => w.ready));

    // Producer: 20 enqueues in flight at a time for 6 s, paced at ~1,000 tasks/s (below what the
    // 16 slots run, ~1,500/s: unpaced, a fast machine enqueued 32,000 tasks, more than the wait
    // below gives time to run); what resolved is what must not be lost.
    const returned: number[] = [];
    let i = 0, inFlightAtCrash = 0, crashed = false, firstAfterRestart = -1;
    const t0 = Date.now();
    const produce = async () => {
      let nextAt = t0;
      while (Date.now() - t0 < 6000) {
        nextAt += 20;
        await sleep(nextAt - Date.now());
        const n = i;
        i += 20;
        const batch = await Promise.all(Array.from({ length: 20 }, (_x, j) => queue.async(Sleeper, 'nap', { args: [n + j, 1 + ((n + j) * 7919) % 20] })));
        returned.push(...batch.map((t) => t.id));
        if (crashed && firstAfterRestart < 0) firstAfterRestart = i;
      }
    };
    const producing = produce();
    await sleep(2000);
    inFlightAtCrash = await (async () => { const r = new Redis(server.url); const n = await r.zcard(queue.internals.keys('default').running); r.disconnect(); return n; })();
    await server.crash();
    const down = Date.now();
    await sleep(1000);
    await server.up();
    crashed = true;
    const downMs = Date.now() - down;
    await producing;

    const r = new Redis(server.url, { maxRetriesPerRequest: null });
    const k = queue.internals.keys('default');
    const states = async () => {
      const p = r.pipeline();
      for (const id of returned) p.hget(`${k.base}t:${id}`, 'state');
      return ((await p.exec()) ?? []).map(([, s]) => s as string | null);
    };
    await until(async () => (await states()).every((s) => s === 'succeeded'), 30000, 'every returned enqueue to succeed').catch(async (e) => {
      const s = await states();
      const bad = returned.map((id, j) => [id, s[j]]).filter(([, st]) => st !== 'succeeded');
      throw new Error(`${e.message}: ${bad.length} not succeeded, e.g. ${JSON.stringify(bad.slice(0, 5))}`);
    });

    // Every worker process ran tasks enqueued after the restart: each reconnected.
    const log = (await r.lrange(runsKey, 0, -1)).map((e) => e.split(':').map(Number));
    for (const w of workers) {
      assert.ok(w.proc.exitCode === null, `worker ${w.pid} is still up`);
      assert.ok(log.some(([n, pid]) => pid === w.pid && n >= firstAfterRestart), `worker ${w.pid} ran nothing after the restart`);
    }
    const execs = new Map<number, number>();
    for (const [n] of log) execs.set(n, (execs.get(n) ?? 0) + 1);
    const reRuns = [...execs.values()].reduce((a, b) => a + b - 1, 0);
    const sp = r.pipeline();
    for (const id of returned) sp.hget(`${k.base}t:${id}`, 'stalled');
    const stalls = ((await sp.exec()) ?? []).filter(([, s]) => Number(s) > 0).length;
    console.log(`      ${JSON.stringify({ enqueued: returned.length, lost: 0, redisDownMs: downMs, leasedAtCrash: inFlightAtCrash, reRuns, stalls })}`);
    assert.strictEqual(stalls, 0, 'no task waited out its lease: a resent claim or finish got its first reply');
    assert.equal(await r.zcard(k.running), 0);
    for (const w of workers) w.proc.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    r.disconnect();
    await queue.close();
  });
});
