// Unique tasks across real processes on the real Redis: 200 concurrent enqueues from 4 processes
// give one task; a worker killed with kill -9 mid-run (uniqueUntil 'finished') leaves no lock
// behind once the sweep recovered the task (it runs to the end) or failed it ("worker lost").
import { strict as assert } from 'assert';
import type Redis from 'ioredis';
import { setup, Queue } from '../../lib';
import { lockHolder } from '../../lib/unique';
import { REDIS_URL, uniquePrefix, dropPrefix, redisClient, until } from '../helpers';
import { start, kill9, stop, killAll } from '../recurring/procs';

describe('unique tasks across processes', function () {
  this.timeout(60000);
  let redis: Redis;
  const prefixes: string[] = [];
  const prefix = () => { const p = uniquePrefix('uniqp'); prefixes.push(p); return p; };

  before(() => { redis = redisClient(); });
  after(async () => {
    await killAll();
    for (const p of prefixes) await dropPrefix(redis, p);
    redis.disconnect();
  });

  it("200 concurrent async(..., { unique: 'k' }) from 4 processes: one task, 200 handles with its id", async () => {
    const p = prefix();
    const go = `${p}-go`;
    const procs = [1, 2, 3, 4].map(() => start({ REC_REDIS: REDIS_URL, REC_PREFIX: p, REC_MODE: 'unique', REC_N: '50', REC_GO: go }));
    await Promise.all(procs.map((x) => x.line('waiting')));
    await redis.rpush(go, 'go', 'go', 'go', 'go');
    const ids = (await Promise.all(procs.map((x) => x.line('ids')))).flatMap((l) => l.slice(4).split(',').map(Number));
    await redis.del(go);
    assert.equal(ids.length, 200);
    assert.equal(new Set(ids).size, 1, `one id in all handles (got ${[...new Set(ids)].join(', ')})`);
    assert.deepEqual(await redis.keys(`{${p}:default}:t:*`), [`{${p}:default}:t:${ids[0]}`], 'one task stored');
  });

  for (const [maxStalls, outcome] of [[0, 'failed'], [1, 'succeeded']] as const) {
    it(`uniqueUntil 'finished', worker killed by kill -9 mid-run, the sweep ${outcome === 'failed' ? 'fails it (worker lost)' : 'recovers it'}: then the lock is free`, async () => {
      const p = prefix();
      const q: Queue = setup({ redis: REDIS_URL, prefix: p });
      try {
        const Sleeper = q.register('Sleeper', { async nap(ms: number) { return ms; } });
        const opts = { args: [2500] as [number], unique: 'kk', uniqueUntil: 'finished' as const };
        const a = await Sleeper.async('nap', opts);
        const env = { REC_REDIS: REDIS_URL, REC_PREFIX: p, REC_MODE: 'worker', REC_LEASE_MS: '1000', REC_MAX_STALLS: String(maxStalls) };
        const first = start(env);
        await until(async () => (await a.reload()).state === 'running', 10000, 'running in the first process');
        await kill9(first);
        assert.equal((await Sleeper.async('nap', opts)).id, a.id, 'the lock holds while the task is stuck running');
        const second = start(env);
        await a.wait({ timeout: 20000 });
        assert.equal(a.state, outcome);
        if (outcome === 'failed') assert.equal((a.result as Error).name, 'WorkerLostError');
        else assert.equal(a.attempts, 2, 'run again by the second process');
        assert.equal(await lockHolder(q.internals, 'kk'), null, 'released in the step that ended it');
        const b = await Sleeper.async('nap', { ...opts, args: [1] as [number] });
        assert.equal(b.duplicate, false, 'a new one is accepted');
        await b.wait({ timeout: 10000 });
        await stop(second);
      } finally { await q.close(); }
    });
  }
});
