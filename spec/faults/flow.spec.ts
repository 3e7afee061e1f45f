// Flow control across worker processes (4 processes x concurrency 5, a Redis of their own): the
// rate bound per window, the concurrency cap (from the start and end times the tasks record) and
// its slots coming back after kill -9, pause under load and resume. Times are the ones recorded,
// so a slow machine makes these runs longer, not wrong; the two latency bounds (pause, resume) are
// loose enough for a loaded 2-core machine (see each).
import { strict as assert } from 'assert';
import Redis from 'ioredis';
import { setup, Queue } from '../../lib';
import { uniquePrefix, until, sleep } from '../helpers';
import { RedisServer } from './servers';
import { startWorker, kill9, killAll, WorkerProc } from './harness';

const PROCS = 4;
const CONCURRENCY = 5;

interface Run { i: number; pid: number; start: number; end?: number }

/** The runs the tasks logged ("s:i:pid:ms" at start, "e:i:pid:ms" at end), by start. */
function runsOf(lines: string[]): Run[] {
  const open = new Map<string, Run>();
  const out: Run[] = [];
  for (const l of lines) {
    const [kind, i, pid, ms] = l.split(':');
    const key = `${i}:${pid}`;
    if (kind === 's') { const r = { i: Number(i), pid: Number(pid), start: Number(ms) }; open.set(key, r); out.push(r); }
    else { const r = open.get(key); if (r) r.end = Number(ms); open.delete(key); }
  }
  return out.sort((a, b) => a.start - b.start);
}

/** How many runs are open at `t` (end exclusive; an unended run is open until `until`). */
const openAt = (runs: Run[], t: number, until = Infinity) => runs.filter((r) => r.start <= t && t < (r.end ?? until)).length;

/** The most runs open at once. */
function mostAtOnce(runs: Run[], until = Infinity): number {
  return Math.max(0, ...runs.map((r) => openAt(runs, r.start, until)));
}

/** The most of the sorted times inside any window [t, t + ms). */
function mostInWindow(times: number[], ms: number): number {
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i] - times[j] >= ms) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('faults: flow control across worker processes', function () {
  this.timeout(120000);
  let server: RedisServer;
  let r: Redis;
  let queue: Queue;
  let prefix: string;
  let runsKey: string;
  const Timed = { run: (_i: number, _ms: number) => undefined };

  before(async () => {
    server = await RedisServer.start();
    r = new Redis(server.url, { maxRetriesPerRequest: null });
  });
  beforeEach(() => {
    prefix = uniquePrefix('flowf');
    runsKey = `{${prefix}}:runs`;
    queue = setup({ redis: server.url, prefix });
    queue.register('Timed', Timed);
  });
  afterEach(async () => {
    await killAll();
    await queue.close();
  });
  after(async () => {
    await killAll();
    r?.disconnect();
    await server?.stop();
  });

  const workers = async (extra: Record<string, string> = {}): Promise<WorkerProc[]> => {
    const env = { FAULT_REDIS: server.url, FAULT_PREFIX: prefix, FAULT_RUNS: runsKey, FAULT_CONCURRENCY: String(CONCURRENCY), FAULT_QUEUES: 'api', ...extra };
    const ws = Array.from({ length: PROCS }, () => startWorker(env));
    await Promise.all(ws.map((w) => w.ready));
    return ws;
  };
  const enqueue = async (n: number, ms: number) => {
    const ids: number[] = [];
    for (let i = 0; i < n; i += 200) {
      const batch = await queue.bulk(Array.from({ length: Math.min(200, n - i) }, (_x, j) => [Timed, 'run', { args: [i + j, ms], queue: 'api' }] as [object, string, object]));
      ids.push(...batch.map((t) => t.id));
    }
    return ids;
  };
  const runs = async () => runsOf(await r.lrange(runsKey, 0, -1));

  it('rate 20 per 1,000 ms: no window of 1,000 ms has more than 20 starts, and 6 s reach at least 90% of the limit', async () => {
    await queue.limit('api', { rate: { max: 20, duration: 1000 } });
    const ids = await enqueue(300, 5);
    await workers();
    const first = await until(async () => (await runs())[0]?.start, 10000, 'a first start');
    await sleep(6000 - (Date.now() - first) + 200);
    const k = queue.internals.keys('api');
    // The bound is on the claim's own start times (the hashes' started_at: the time the script counted).
    const started = (await Promise.all(ids.map((id) => r.hget(`${k.base}t:${id}`, 'started_at')))).filter(Boolean).map(Number).sort((a, b) => a - b);
    const from = started[0];
    const inSix = started.filter((t) => t < from + 6000).length;
    const most = mostInWindow(started, 1000);
    process.stdout.write(`      (rate: ${inSix} starts in the first 6 s, at most ${most} in any 1,000 ms window)\n`);
    assert.ok(most <= 20, `at most 20 starts in any 1,000 ms window, got ${most}`);
    assert.ok(inSix >= 0.9 * 120, `at least 90% of 120 starts in 6 s, got ${inSix}`);
  });

  it('concurrency 3: never more than 3 running at once; a kill -9 of a process holding slots gives them back within the lease', async () => {
    const LEASE = 1500;
    await queue.limit('api', { concurrency: 3 });
    const ids = await enqueue(40, 300);
    const ws = await workers({ FAULT_LEASE_MS: String(LEASE) });
    // A process that is running a task now.
    const victim: WorkerProc = await until(async () => {
      const open = (await runs()).filter((x) => x.end === undefined && Date.now() - x.start < 150);
      return ws.find((w) => open.some((x) => x.pid === w.pid)) as WorkerProc;
    }, 10000, 'a process holding a slot');
    const killedAt = Date.now();
    await kill9(victim);
    await until(async () => new Set((await runs()).filter((x) => x.end !== undefined).map((x) => x.i)).size === ids.length, 60000, 'every task to end');
    const all = await runs();
    // A killed run ran until the kill (its slot stayed taken until its lease was swept).
    const spans = all.map((x) => (x.pid === victim.pid && x.end === undefined ? { ...x, end: killedAt } : x));
    const held = spans.filter((x) => x.pid === victim.pid && x.start <= killedAt && (x.end as number) >= killedAt).length;
    assert.ok(held >= 1, 'the killed process held a slot');
    assert.ok(mostAtOnce(spans) <= 3, `never more than 3 at once, got ${mostAtOnce(spans)}`);
    assert.equal(mostAtOnce(spans), 3, 'the cap was reached');
    // Back to 3 at once after the kill: within the lease plus one sweep interval (leaseMs/2) and 500 ms of slack.
    const back = spans.find((x) => x.start > killedAt && openAt(spans, x.start) === 3);
    assert.ok(back, 'three ran at once again after the kill');
    process.stdout.write(`      (concurrency: ${held} slot(s) killed, 3 running again ${back.start - killedAt} ms after the kill, lease ${LEASE} ms)\n`);
    assert.ok(back.start - killedAt <= LEASE * 1.5 + 500, `slots back ${back.start - killedAt} ms after the kill`);
  });

  it('pause under load: nothing starts later than 50 ms after pause() returned, prefetched tasks go back; resume starts the next one at once', async () => {
    // Tasks of 80 ms: a prefetched task not handed back would start up to 80 ms after the pause.
    const ids = await enqueue(800, 80);
    await workers({ FAULT_PREFETCH: '5' });
    await until(async () => (await runs()).length > 60, 20000, 'the load to run');
    await queue.pause('api');
    const pausedAt = Date.now();
    await sleep(500);
    const after = (await runs()).filter((x) => x.start > pausedAt);
    const late = after.filter((x) => x.start > pausedAt + 50);
    assert.deepEqual(late.map((x) => x.start - pausedAt), [], 'starts later than 50 ms after pause() returned');
    // Running ones finished; the prefetched ones went back (no lease is left).
    await until(async () => (await queue.stats()).api.running === 0, 2000, 'no task running or held once paused');
    const s = (await queue.stats()).api;
    const ended = new Set((await runs()).filter((x) => x.end !== undefined).map((x) => x.i)).size;
    assert.equal(s.queued + ended, ids.length, 'every task either done or queued again');
    assert.equal(s.paused, true);

    await sleep(200); // every worker idle, blocked on the marker
    const t0 = Date.now();
    await queue.resume('api');
    const resumedAt = Date.now();
    const next: Run = await until(async () => (await runs()).find((x) => x.start >= t0) as Run, 5000, 'a start after resume');
    // 20 ms on an idle machine; a loaded 2-core machine gets 250 ms (an idle worker's own wait is 5 s, so this still tells waking from polling).
    process.stdout.write(`      (pause: ${after.length} started within 50 ms after pause(); resume: first start ${next.start - resumedAt} ms after resume() returned)\n`);
    assert.ok(next.start - resumedAt <= 250, `the next task started ${next.start - resumedAt} ms after resume() returned`);
  });

  it('a pause and limits last across a kill -9 of Redis (AOF) and of the workers', async () => {
    const aof = await RedisServer.start(true);
    const q = setup({ redis: aof.url, prefix });
    q.register('Timed', Timed);
    try {
      await q.limit('api', { concurrency: 2 });
      await q.pause('api');
      await q.async(Timed, 'run', { args: [1, 1], queue: 'api' });
      await aof.crash();
      await aof.up();
      const ws = Array.from({ length: 2 }, () => startWorker({ FAULT_REDIS: aof.url, FAULT_PREFIX: prefix, FAULT_RUNS: runsKey, FAULT_QUEUES: 'api' }));
      await Promise.all(ws.map((w) => w.ready));
      await sleep(300);
      const s = await until(async () => (await q.stats()).api, 5000, 'Redis back');
      assert.equal(s.paused, true);
      assert.deepEqual(s.limits, { concurrency: 2 });
      assert.equal(s.queued, 1, 'nothing started');
      await q.resume('api');
      await until(async () => (await q.stats()).api.queued === 0 && (await q.stats()).api.running === 0, 5000, 'the task to run after resume');
    } finally {
      await killAll();
      await q.close();
      await aof.stop();
    }
  });
});
