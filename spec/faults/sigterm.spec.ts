// SIGTERM during load: worker processes stop claiming, let running tasks finish within their
// grace period and hand the rest back. Nothing is left running or leased; a new worker then
// finishes everything, and only handed-back tasks ran twice.
import { strict as assert } from 'assert';
import Redis from 'ioredis';
import { setup } from '../../lib';
import { uniquePrefix, until, sleep } from '../helpers';
import { RedisServer } from './servers';
import { startWorker, killAll } from './harness';

describe('faults: SIGTERM during load', function () {
  this.timeout(60000);
  let server: RedisServer;

  before(async () => { server = await RedisServer.start(); });
  after(async () => {
    await killAll();
    await server?.stop();
  });

  it('leaves nothing running or leased, hands back what outlived the grace period, and loses nothing', async () => {
    const prefix = uniquePrefix('term');
    const runsKey = `{${prefix}}:runs`;
    const queue = setup({ redis: server.url, prefix });
    const Sleeper = { nap: () => undefined };
    queue.register('Sleeper', Sleeper);
    const tasks = await Promise.all(Array.from({ length: 300 }, (_x, i) => queue.async(Sleeper, 'nap', { args: [i, 50 + (i * 7919) % 350] })));
    const base = { FAULT_REDIS: server.url, FAULT_PREFIX: prefix, FAULT_RUNS: runsKey, FAULT_CONCURRENCY: '4' };
    // Two stop with a 100 ms grace (tasks of up to 400 ms get handed back), one waits them out.
    const workers = [startWorker({ ...base, FAULT_GRACE_MS: '100' }), startWorker({ ...base, FAULT_GRACE_MS: '100' }), startWorker(base)];
    await Promise.all(workers.map((w) => w.ready));
    const r = new Redis(server.url, { maxRetriesPerRequest: null });
    await until(async () => (await r.llen(runsKey)) >= 30, 10000, 'the workers to be busy');
    for (const w of workers) w.proc.kill('SIGTERM');
    const codes = await Promise.all(workers.map((w) => w.exited));
    assert.deepEqual(codes, [0, 0, 0], 'every worker exited cleanly');
    for (const w of workers) assert.match(w.stdout, /stopped/);

    const k = queue.internals.keys('default');
    assert.equal(await r.zcard(k.running), 0, 'no lease left');
    const read = async () => Promise.all(tasks.map(async (t) => r.hmget(`${k.base}t:${t.id}`, 'state', 'released')));
    const after = await read();
    assert.equal(after.filter(([s]) => s === 'running').length, 0, 'nothing left running');
    assert.equal(after.filter(([s]) => s !== 'queued' && s !== 'succeeded').length, 0, 'nothing failed or lost');
    const handedBack = after.filter(([, rel]) => rel !== null).length;
    assert.ok(handedBack > 0, 'the 100 ms grace handed some tasks back');
    const doneAtStop = after.filter(([s]) => s === 'succeeded').length;

    const last = startWorker({ ...base, FAULT_CONCURRENCY: '25' });
    await last.ready;
    await until(async () => (await read()).every(([s]) => s === 'succeeded'), 20000, 'a new worker to finish everything');
    const execs = new Map<number, number>();
    for (const e of await r.lrange(runsKey, 0, -1)) { const n = Number(e.split(':')[0]); execs.set(n, (execs.get(n) ?? 0) + 1); }
    const released = await read();
    const reRuns = [...execs].filter(([, c]) => c > 1);
    for (const [n] of reRuns) assert.notEqual(released[n][1], null, `task #${n} ran twice without being handed back`);
    console.log(`      ${JSON.stringify({ tasks: tasks.length, doneAtStop, handedBack, reRuns: reRuns.length, lost: 0 })}`);
    last.proc.kill('SIGTERM');
    await last.exited;
    r.disconnect();
    await queue.close();
    await sleep(0);
  });
});
