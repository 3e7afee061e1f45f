// Flow control in one process: pause/resume, limits (rate, concurrency), RateLimitedError, their
// checks and their stats, on real Redis and (the Lua in the claim) on ioredis-mock. The slow
// multi-process cases (rate bound, cap under kill -9, pause under load) are spec/faults/flow.spec.ts.
import { strict as assert } from 'assert';
import { execFile, execFileSync } from 'child_process';
import { join } from 'path';
import type Redis from 'ioredis';
import { setup, Queue, RateLimitedError } from '../lib';
import { parseClaimReply } from '../lib/claim-reply';
import { REDIS_URL, uniquePrefix, dropPrefix, redisClient, until, sleep } from './helpers';
import { Proxy } from './faults/servers';
import { flowChannel } from '../lib/keys';

/** The claim's own start times (the task hashes' started_at), sorted. */
async function startedAt(queue: Queue, q: string, ids: number[]): Promise<number[]> {
  const k = queue.internals.keys(q);
  return (await Promise.all(ids.map((id) => queue.redis.hget(`${k.base}t:${id}`, 'started_at')))).map(Number).sort((a, b) => a - b);
}

/** The starts the rate log counts: its entries' counts ("ms:...:count") and the total kept beside them (flow.rate_n). */
async function loggedStarts(queue: Queue, q: string): Promise<{ entries: number; count: number }> {
  const k = queue.internals.keys(q);
  const members = await queue.redis.zrange(k.flowStarts, 0, -1);
  const entries = members.reduce((n, m) => n + Number(/:(\d+)$/.exec(m)?.[1] ?? 1), 0);
  return { entries, count: Number(await queue.redis.hget(k.flow, 'rate_n') ?? 0) };
}

/** How often a task went back to the queue unfinished (its hash's `released`). */
async function released(queue: Queue, q: string, id: number): Promise<number> {
  return Number(await queue.redis.hget(`${queue.internals.keys(q).base}t:${id}`, 'released') ?? 0);
}

/** The most starts inside any window [t, t + ms) of the sorted times. */
function mostInWindow(times: number[], ms: number): number {
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i] - times[j] >= ms) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/** The most intervals open at once. */
function mostAtOnce(spans: [number, number][]): number {
  const ev = spans.flatMap(([s, e]) => [[s, 1], [e, -1]] as [number, number][]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let n = 0, most = 0;
  for (const [, d] of ev) { n += d; most = Math.max(most, n); }
  return most;
}

for (const backend of ['redis', 'mock'] as const) {
  describe(`flow control on ${backend === 'redis' ? 'real Redis' : 'ioredis-mock'}`, function () {
    this.timeout(backend === 'mock' ? 60000 : 20000);
    let queue: Queue;
    let prefix: string;
    const log: string[] = [];
    const spans: [number, number][] = [];
    let limitedOnce = new Set<string>();
    const Jobs = {
      rec(tag: string) { log.push(tag); },
      async slow(tag: string, ms: number) { const s = Date.now(); log.push(tag); await sleep(ms); spans.push([s, Date.now()]); },
      limited(tag: string, ms: number) {
        log.push(tag);
        if (!limitedOnce.has(tag)) { limitedOnce.add(tag); throw new RateLimitedError(ms); }
      },
    };

    /** bulk() entries on the queue 'mail'. */
    const sr = (tag: string, ms: number): [object, string, object] => [Jobs, 'slow', { args: [tag, ms], queue: 'mail' }];
    const rec = (tag: string): [object, string, object] => [Jobs, 'rec', { args: [tag], queue: 'mail' }];

    beforeEach(() => {
      prefix = uniquePrefix('flow');
      queue = setup({ redis: backend === 'redis' ? REDIS_URL : 'mock', prefix });
      queue.register('Jobs', Jobs);
      log.length = 0;
      spans.length = 0;
      limitedOnce = new Set();
    });
    afterEach(async () => {
      const r = queue.redis;
      if (backend === 'redis') await dropPrefix(r, prefix);
      await queue.close();
    });

    describe('limit(): checked input, stored in Redis, shown by stats()', () => {
      const bad: [unknown, RegExp][] = [
        [{ rate: { max: 0, duration: 1000 } }, /rate\.max must be a whole number >= 1 \(got 0\)/],
        [{ rate: { max: -3, duration: 1000 } }, /rate\.max must be a whole number >= 1 \(got -3\)/],
        [{ rate: { max: 5, duration: 0.5 } }, /rate\.duration must be a whole number of ms >= 1 \(got 0\.5\)/],
        [{ rate: { max: 5 } }, /rate\.duration must be/],
        [{ rate: { max: 5, duration: 100, burst: 2 } }, /rate: unknown key 'burst'/],
        [{ concurrency: 0 }, /concurrency must be a whole number >= 1 \(got 0\)/],
        [{ concurency: 3 }, /unknown key 'concurency' \(known: rate, concurrency\)/],
        [{}, /give rate and\/or concurrency, or null/],
        ['5', /limits must be/],
      ];
      for (const [limits, msg] of bad) {
        it(`refuses ${JSON.stringify(limits)}, storing nothing`, async () => {
          await assert.rejects(queue.limit('mail', limits as never), msg);
          assert.equal(await queue.redis.exists(queue.internals.keys('mail').flow), 0);
        });
      }

      it('refuses a queue name it cannot be, naming it', async () => {
        await assert.rejects(queue.limit('no spaces', { concurrency: 1 }), /queue name must be .* \(got "no spaces"\)/);
        await assert.rejects(queue.pause(''), /queue name must be/);
        await assert.rejects(queue.resume(7 as never), /queue name must be .* \(got 7\)/);
      });

      it('stores limits and pause, which another queue object (a restarted app) sees; null removes the limits', async () => {
        await queue.limit('mail', { rate: { max: 100, duration: 1000 }, concurrency: 5 });
        await queue.pause('mail');
        const other = setup({ redis: backend === 'redis' ? REDIS_URL : queue.redis as never, prefix });
        try {
          const s = (await other.stats()).mail;
          assert.equal(s.paused, true);
          assert.deepEqual(s.limits, { rate: { max: 100, duration: 1000 }, concurrency: 5 });
          assert.equal(s.heldUntil, null);
        } finally { await other.close(); }
        await queue.limit('mail', null);
        await queue.resume('mail');
        const s = (await queue.stats()).mail;
        assert.equal(s.paused, false);
        assert.equal(s.limits, null);
        await queue.limit('mail', { concurrency: 2 });
        assert.deepEqual((await queue.stats()).mail.limits, { concurrency: 2 });
      });
    });

    describe('pause and resume', () => {
      it('a paused queue starts nothing while the worker serves its other queues; resume runs the rest in order', async () => {
        await queue.pause('mail');
        for (const t of ['m1', 'm2', 'm3']) await queue.async(Jobs, 'rec', { args: [t], queue: 'mail' });
        await queue.async(Jobs, 'rec', { args: ['o1'], queue: 'other' });
        const w = queue.worker({ queues: ['mail', 'other'] });
        await w.start();
        await until(() => log.includes('o1'), 5000, 'the other queue runs');
        await sleep(100);
        assert.deepEqual(log, ['o1']);
        assert.equal((await queue.stats()).mail.queued, 3);
        await queue.resume('mail');
        await until(() => log.length === 4, 5000, 'the paused queue runs after resume');
        assert.deepEqual(log, ['o1', 'm1', 'm2', 'm3']);
        await w.stop();
      });

      it('scheduled tasks still become due while paused, in order, none lost', async () => {
        await queue.pause('mail');
        const at = Date.now() + 150;
        for (const t of ['s3', 's1', 's2']) await queue.schedule(Jobs, at + Number(t[1]) * 20, 'rec', { args: [t], queue: 'mail' });
        const w = queue.worker({ queues: ['mail'] });
        await w.start();
        await until(async () => (await queue.stats()).mail.queued === 3, 5000, 'the scheduled tasks become due while paused');
        assert.deepEqual(log, []);
        assert.equal((await queue.stats()).mail.scheduled, 0);
        await queue.resume('mail');
        await until(() => log.length === 3, 5000, 'they run after resume');
        assert.deepEqual(log, ['s1', 's2', 's3']);
        await w.stop();
      });

      // Workers hear of a pause by pub/sub, which the mock has not (there the claim alone refuses): real Redis only.
      if (backend === 'redis') {
        it('pause hands back the tasks a worker holds prefetched at once; running ones finish', async () => {
          for (let i = 0; i < 6; i++) await queue.async(Jobs, 'slow', { args: [`t${i}`, i === 0 ? 600 : 1], queue: 'mail' });
          const w = queue.worker({ queues: ['mail'], concurrency: 1, prefetch: 5 });
          await w.start();
          await until(async () => (await queue.stats()).mail.running === 6, 5000, 'one running, five held');
          await queue.pause('mail');
          // At once: no lease to wait for (a loose bound: the machine running the suite may be busy).
          await until(async () => (await queue.stats()).mail.running === 1, 3000, 'the held ones handed back');
          assert.equal((await queue.stats()).mail.queued, 5);
          await until(() => spans.length === 1, 5000, 'the running one finishes');
          await sleep(100);
          assert.deepEqual(log, ['t0']);
          await queue.resume('mail');
          await until(() => log.length === 6, 5000, 'the rest after resume');
          assert.deepEqual(log, ['t0', 't1', 't2', 't3', 't4', 't5']);
          await w.stop();
        });

        /**
         * Six tasks on 'mail' (the first runs `firstMs`) and a worker (concurrency 1, prefetch 5) whose replies
         * come 300 ms late through a proxy while its subscriber's messages come at once; resolves once its
         * claim of one to run and five to hold has run in Redis, its reply still on the way.
         */
        async function lateReplyWorker(firstMs: number) {
          const url = new URL(REDIS_URL);
          const proxy = await Proxy.start({ host: url.hostname, port: Number(url.port || 6379) }, { replyDelayMs: 300 });
          const slow = setup({ redis: `redis://127.0.0.1:${proxy.port}`, prefix });
          slow.register('Jobs', Jobs);
          const ids: number[] = [];
          for (let i = 0; i < 6; i++) ids.push((await queue.async(Jobs, 'slow', { args: [`t${i}`, i === 0 ? firstMs : 1], queue: 'mail' })).id);
          const w = slow.worker({ queues: ['mail'], concurrency: 1, prefetch: 5 });
          const started = w.start();
          await until(async () => (await queue.stats()).mail.running === 6, 10000, 'the claim of one to run and five to hold');
          assert.deepEqual(log, [], 'the claim\'s reply is still on its way');
          return { w, started, ids, close: async () => { await slow.close(); await proxy.close(); } };
        }

        it('a claim answered after the pause was heard hands back what it brought beyond the free slots', async () => {
          // The claim runs in Redis before the pause, its reply is read after the pause message, as on a loaded machine.
          const { w, started, close } = await lateReplyWorker(400);
          try {
            await queue.pause('mail');
            await started;
            await until(() => spans.length >= 1, 5000, 't0 to run and finish');
            await until(async () => (await queue.stats()).mail.queued === 5, 3000, 'the five handed back');
            await sleep(200);
            assert.deepEqual(log, ['t0'], 'nothing started after t0 on the paused queue');
            await queue.resume('mail');
            await until(() => log.length === 6, 5000, 'the rest after resume');
            assert.deepEqual(log, ['t0', 't1', 't2', 't3', 't4', 't5']);
            await w.stop();
          } finally {
            await close();
          }
        });

        it('a claim answered after a RateLimitedError hold was heard hands its extra tasks back; none starts before the hold ends', async () => {
          // As above, with a hold (what another worker's RateLimitedError sets: flow-hold.lua, nothing handed back by it) instead of a pause.
          const { w, started, ids, close } = await lateReplyWorker(100);
          try {
            await queue.internals.script('flow-hold', 'mail', ['mail', flowChannel(prefix), 1500]);
            const heldUntil = Number(await queue.redis.hget(queue.internals.keys('mail').flow, 'hold'));
            await started;
            await until(() => spans.length >= 1, 5000, 't0 to run and finish');
            await until(async () => (await queue.stats()).mail.queued === 5, 3000, 'the five handed back');
            assert.deepEqual(log, ['t0'], 'nothing else started during the hold');
            await until(() => log.length === 6, 8000, 'the rest once the hold ends');
            const times = await startedAt(queue, 'mail', ids.slice(1));
            assert.ok(times[0] >= heldUntil, `a handed-back task started ${heldUntil - times[0]} ms before the hold's end`);
            await w.stop();
          } finally {
            await close();
          }
        });
      }
    });

    describe('limits', () => {
      it('rate: at most max starts in any window of duration (the claim\'s start times), in order', async () => {
        await queue.limit('mail', { rate: { max: 4, duration: 300 } });
        const ids: number[] = [];
        for (let i = 0; i < 10; i++) ids.push((await queue.async(Jobs, 'rec', { args: [`r${i}`], queue: 'mail' })).id);
        const w = queue.worker({ queues: ['mail', 'other'], concurrency: 10 });
        await w.start();
        await until(() => log.length >= 5, 5000, 'a second window');
        // Meanwhile the worker serves its other queue.
        await queue.async(Jobs, 'rec', { args: ['o1'], queue: 'other' });
        await until(() => log.length === 11, 5000, 'every task');
        await w.stop();
        assert.deepEqual(log.filter((t) => t !== 'o1'), ids.map((_, i) => `r${i}`));
        const times = await startedAt(queue, 'mail', ids);
        assert.ok(mostInWindow(times, 300) <= 4, `starts ${times.map((t) => t - times[0]).join(',')}`);
        // Three windows are needed: the worker slept until the next start was allowed, not longer than a second.
        assert.ok(times[9] - times[0] >= 600, `span ${times[9] - times[0]}`);
      });

      it('rate: a full window holds the queue until it passes; a log deleted by hand does not hold it for ever', async () => {
        await queue.limit('mail', { rate: { max: 2, duration: 60000 } });
        for (const t of ['a', 'b', 'c']) await queue.async(Jobs, 'rec', { args: [t], queue: 'mail' });
        const w = queue.worker({ queues: ['mail'] });
        await w.start();
        await until(() => log.length === 2, 5000, 'two starts');
        await sleep(200);
        assert.deepEqual(log, ['a', 'b'], 'the third waits for the window');
        await queue.redis.del(queue.internals.keys('mail').flowStarts);
        await queue.async(Jobs, 'rec', { args: ['d'], queue: 'mail' }); // wakes the worker
        await until(() => log.length === 4, 5000, 'the rest once the log is gone');
        assert.deepEqual(log, ['a', 'b', 'c', 'd']);
        await w.stop();
      });

      // A prefetched task handed back never started: the start its claim logged is given back.
      // (Real Redis only: on the mock's slow Lua VM tasks may not look short enough for auto prefetch to claim ahead.)
      if (backend === 'redis') {
        it('rate: tasks auto prefetch claimed and handed back give their starts back; the window\'s budget is there again', async () => {
          // Short tasks first: auto prefetch claims ahead only while tasks are short.
          await queue.bulk(Array.from({ length: 20 }, (_, i) => rec(`w${i}`)));
          const w = queue.worker({ queues: ['mail'] });
          await w.start();
          await until(() => log.length === 20, 5000, 'the short tasks');
          await queue.limit('mail', { rate: { max: 4, duration: 60000 } });
          log.length = 0;
          // The finish of f claims ahead: s starts, the short ones claimed behind it wait, and go back after 10 ms.
          const ts = await queue.bulk([rec('f'), sr('s', 400), ...['r1', 'r2', 'r3', 'r4'].map(rec)]);
          await until(() => log.length >= 4, 5000, 'four starts in the window');
          assert.ok(await released(queue, 'mail', ts[2].id) >= 1, 'r1 was prefetched and handed back (what this case is about)');
          await sleep(200);
          assert.deepEqual(log, ['f', 's', 'r1', 'r2'], 'max 4: r3 waits for the window');
          assert.deepEqual(await loggedStarts(queue, 'mail'), { entries: 4, count: 4 }, 'the log counts the starts that happened');
          await w.stop();
        });
      }

      it('rate: a stopping worker hands back its prefetched tasks with their starts, keeping the running one\'s', async () => {
        await queue.limit('mail', { rate: { max: 4, duration: 60000 } });
        await queue.bulk([sr('s', 1500), rec('r1'), rec('r2'), rec('r3')]);
        const w = queue.worker({ queues: ['mail'], prefetch: 2 });
        await w.start();
        await until(async () => (await queue.stats()).mail.running === 3, 5000, 's running, r1 and r2 held');
        await w.stop({ graceMs: 50 });
        assert.deepEqual(await loggedStarts(queue, 'mail'), { entries: 1, count: 1 }, 's started; r1 and r2 did not');
        const w2 = queue.worker({ queues: ['mail'], prefetch: 0 });
        await w2.start();
        await until(() => log.length >= 4, 5000, 'three more starts in the window');
        await sleep(200);
        assert.deepEqual(log, ['s', 's', 'r1', 'r2'], 'max 4: r3 waits for the window');
        await w2.stop({ graceMs: 0 });
      });

      if (backend === 'redis') { // (workers hear of a pause by pub/sub)
        it('rate: pause hands back prefetched tasks with their starts; after resume the window\'s budget is there', async () => {
          await queue.limit('mail', { rate: { max: 4, duration: 60000 } });
          await queue.bulk([sr('s', 1000), ...['r1', 'r2', 'r3', 'r4'].map(rec)]);
          const w = queue.worker({ queues: ['mail'], prefetch: 3 });
          await w.start();
          await until(async () => (await queue.stats()).mail.running === 4, 5000, 's running, three held');
          await queue.pause('mail');
          await until(async () => (await queue.stats()).mail.running === 1, 3000, 'the held ones handed back');
          assert.deepEqual(await loggedStarts(queue, 'mail'), { entries: 1, count: 1 });
          await queue.resume('mail');
          await until(() => log.length >= 4, 5000, 'three more starts in the window');
          await sleep(200);
          assert.deepEqual(log, ['s', 'r1', 'r2', 'r3'], 'max 4: r4 waits for the window');
          assert.deepEqual(await loggedStarts(queue, 'mail'), { entries: 4, count: 4 });
          await w.stop();
        });
      }

      if (backend === 'redis') { // (the mock cannot block: its idle workers poll)
        it('rate: a held-back worker sleeps until the next start is allowed, without claiming meanwhile', async () => {
          await queue.limit('mail', { rate: { max: 1, duration: 1500 } });
          for (const t of ['a', 'b']) await queue.async(Jobs, 'rec', { args: [t], queue: 'mail' });
          const ctx = queue.internals;
          const claims: number[] = [];
          const script = ctx.script.bind(ctx);
          ctx.script = ((name: string, ...rest: unknown[]) => {
            if (name === 'claim' || name === 'finish') claims.push(Date.now());
            return (script as (...a: unknown[]) => Promise<unknown>)(name, ...rest);
          }) as typeof ctx.script;
          const w = queue.worker({ queues: ['mail'] });
          await w.start();
          await until(() => log.length === 2, 5000, 'both tasks');
          await w.stop();
          // Between the first start and the second: the finish of the first, the claim that was told
          // when, and the one at that time; a worker that polled would claim every few ms.
          const first = claims[0];
          const between = claims.filter((t) => t > first + 50 && t < first + 1400);
          assert.ok(between.length <= 2, `claims while held back: ${claims.map((t) => t - first).join(',')}`);
        });
      }

      it('concurrency: never more running at once than the cap, in order', async () => {
        await queue.limit('mail', { concurrency: 2 });
        for (let i = 0; i < 8; i++) await queue.async(Jobs, 'slow', { args: [`c${i}`, 30], queue: 'mail' });
        const w = queue.worker({ queues: ['mail'], concurrency: 5 });
        const w2 = queue.worker({ queues: ['mail'], concurrency: 5 });
        await w.start();
        await w2.start();
        await until(() => spans.length === 8, 10000, 'every task');
        await w.stop();
        await w2.stop();
        assert.equal(mostAtOnce(spans), 2);
      });

      if (backend === 'redis') { // (the hand-back on pause is told by pub/sub)
        it('concurrency: a prefetched task handed back gives its slot back at once', async () => {
          await queue.limit('mail', { concurrency: 2 });
          await queue.bulk([sr('s', 1500), rec('r1'), rec('r2')]);
          const a = queue.worker({ queues: ['mail'], prefetch: 1 });
          await a.start();
          await until(async () => (await queue.stats()).mail.running === 2, 5000, 's running, r1 held');
          const b = queue.worker({ queues: ['mail'], concurrency: 2, prefetch: 0 });
          await b.start();
          await sleep(100);
          assert.deepEqual(log, ['s'], 'the held task counts against the cap');
          await queue.pause('mail');
          await until(async () => (await queue.stats()).mail.running === 1, 3000, 'r1 handed back');
          const stopping = a.stop(); // a finishes s and claims nothing more: r1 is b's to take
          await queue.resume('mail');
          await until(() => log.length >= 3, 5000, 'r1 and r2 on b');
          assert.equal(spans.length, 0, 'both started while s still ran: r1\'s slot came back with it, not with its lease');
          await stopping;
          await b.stop();
          assert.equal(mostAtOnce(spans), 1);
        });
      }

      it('concurrency: a dead worker\'s slot comes back when its lease is swept', async () => {
        await queue.limit('mail', { concurrency: 1 });
        await queue.async(Jobs, 'rec', { args: ['ghost'], queue: 'mail' });
        await queue.async(Jobs, 'rec', { args: ['next'], queue: 'mail' });
        // A worker that claims and dies: its lease (400 ms) is never renewed.
        const r = parseClaimReply('mail', await queue.internals.script('claim', 'mail', ['ghost', 400, 1], true) as Buffer[]);
        assert.equal(r.got, 1);
        const w = queue.worker({ queues: ['mail'], leaseMs: 400 });
        await w.start();
        await sleep(150);
        assert.deepEqual(log, [], 'the slot is the dead worker\'s until its lease runs out');
        await until(() => log.length === 2, 5000, 'both run once the lease is swept');
        assert.deepEqual(log.sort(), ['ghost', 'next']);
        await w.stop();
      });
    });

    describe('RateLimitedError', () => {
      it('checks its ms', () => {
        assert.throws(() => new RateLimitedError(-1), /ms must be a number of ms >= 0 \(got -1\)/);
        assert.throws(() => new RateLimitedError(NaN), RangeError);
        const e = new RateLimitedError(250);
        assert.equal(e.ms, 250);
        assert.equal(e.name, 'RateLimitedError');
      });

      it('puts the task back at its place without using an attempt, and the queue starts nothing for ms', async () => {
        const a = await queue.async(Jobs, 'limited', { args: ['a', 300], queue: 'mail', attempts: 1 });
        const later = [];
        for (const t of ['b', 'c']) later.push(await queue.async(Jobs, 'rec', { args: [t], queue: 'mail' }));
        const w = queue.worker({ queues: ['mail'], concurrency: 1 });
        const errors: Error[] = [];
        w.on('error', (e) => errors.push(e));
        await w.start();
        await until(() => log.length === 1, 5000, 'the first attempt');
        const held = (await queue.stats()).mail.heldUntil;
        await a.wait({ timeout: 5000 });
        await until(() => log.length === 4, 5000, 'the rest');
        await w.stop();
        assert.deepEqual(errors, []);
        assert.equal(a.state, 'succeeded');
        assert.deepEqual(log, ['a', 'a', 'b', 'c'], 'back at its place, ahead of later tasks');
        assert.ok(held !== null, 'stats shows the hold');
        const times = await startedAt(queue, 'mail', [a.id, ...later.map((t) => t.id)]);
        assert.ok(times[0] >= (held as number), `nothing started before the hold's end (${times[0]} < ${held})`);
      });

      it('the tasks held with one that threw give their starts back; the one that ran keeps its start', async () => {
        await queue.limit('mail', { rate: { max: 4, duration: 60000 } });
        await queue.bulk([[Jobs, 'limited', { args: ['a', 100], queue: 'mail' }], ...['b', 'c', 'd', 'e'].map(rec)]);
        const w = queue.worker({ queues: ['mail'], prefetch: 3 });
        await w.start();
        await until(() => log.length >= 4, 5000, 'a again, then b and c');
        await sleep(200);
        assert.deepEqual(log, ['a', 'a', 'b', 'c'], 'max 4: d waits for the window');
        assert.deepEqual(await loggedStarts(queue, 'mail'), { entries: 4, count: 4 });
        await w.stop();
      });
    });
  });
}

describe('flow control on the command line: pause, resume, status (the built dist/)', function () {
  this.timeout(60000);
  const ROOT = join(__dirname, '..');
  let prefix: string;
  let queue: Queue;
  const cli = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [join(ROOT, 'scripts', 'async.js'), ...args], {
      env: { ...process.env, ASYNC_PREFIX: prefix, ASYNC_APP: join(__dirname, 'fixtures', 'cli-app', 'async.config.js'), REDIS_URL, NO_COLOR: '1' },
    }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });

  before(function () {
    this.timeout(120000);
    try { execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'ignore' }); } catch { /* emitted anyway */ }
  });
  beforeEach(() => { prefix = uniquePrefix('flowcli'); queue = setup({ redis: REDIS_URL, prefix }); });
  afterEach(async () => { await dropPrefix(queue.redis, prefix); await queue.close(); });

  it('pause Q and resume Q change the stored state; status shows it with the limits', async () => {
    await queue.limit('mail', { rate: { max: 100, duration: 1000 }, concurrency: 5 });
    let r = await cli(['pause', 'mail']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /paused queue mail/);
    assert.equal((await queue.stats()).mail.paused, true);
    r = await cli(['status']);
    assert.match(r.stdout, /FLOW/);
    assert.match(r.stdout, /^mail .*paused, rate 100\/1000ms, max 5 running$/m);
    r = await cli(['status', '--json']);
    assert.deepEqual(JSON.parse(r.stdout).queues.mail.limits, { rate: { max: 100, duration: 1000 }, concurrency: 5 });
    r = await cli(['resume', 'mail']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await queue.stats()).mail.paused, false);
    r = await cli(['pause', 'no/such']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /queue name must be .*no\/such/);
    r = await cli(['pause']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /'pause' needs QUEUE/);
    r = await cli(['--help']);
    assert.match(r.stdout, /^  pause\b.*\n  resume\b/m, 'the usage lists pause and resume');
  });
});
