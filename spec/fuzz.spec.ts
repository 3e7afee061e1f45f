// Hostile and broken input: random corruptions written straight into task hashes in Redis.
// Each corrupt task must end in a final state (failed, with a message naming what was wrong,
// whenever the task cannot run), no Lua script may abort on one, the worker keeps running, and
// nothing pollutes Object.prototype. FUZZ_SEED=<n> replays a run.
import { strict as assert } from 'assert';
import { DataTypes, Model, Sequelize } from 'sequelize';
import type Redis from 'ioredis';
import { setup, Queue } from '../lib';
import { decode, encode } from '../lib/codec';
import type { QueueKeys } from '../lib/keys';
import { readTotals } from '../lib/metrics/read';
import { uniquePrefix, dropPrefix, redisClient, mysqlDb, until } from './helpers';

const COUNT = 240;

// Small seeded PRNG (mulberry32) so a failing run can be replayed.
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(l: readonly T[]): T => l[Math.floor(next() * l.length)],
    bytes: (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256))),
  };
}

class Fuzz {
  static calls = 0;
  static notFn = 5;
  static run(...args: unknown[]) { Fuzz.calls++; return args.length; }
}

class FuzzRow extends Model {
  declare id: number;
  touch() { return this.id; }
}

interface Case { id: number; what: string[]; mustFail: RegExp[]; model?: boolean }

/**
 * Damages one task's hash at random (1-3 writes, or the key replaced by another type) and notes in
 * `c` what was done and which failure messages would say so. The calls on `r` are the seeded run.
 */
async function corrupt(r: ReturnType<typeof rng>, redis: Redis, k: QueueKeys, id: number, c: Case): Promise<void> {
  const K = `${k.base}t:${id}`;
  if (r.int(8) === 0) {
    // The key is not a hash at all.
    const kind = r.pick(['string', 'list', 'set', 'zset'] as const);
    await redis.del(K);
    if (kind === 'string') await redis.set(K, r.bytes(1 + r.int(20)));
    if (kind === 'list') await redis.rpush(K, 'a', 'b');
    if (kind === 'set') await redis.sadd(K, 'a');
    if (kind === 'zset') await redis.zadd(K, 1, 'a');
    c.what.push(`key is a ${kind}`);
    c.mustFail.push(new RegExp(`holds a ${kind}, not a hash`));
    return;
  }
  const n = 1 + r.int(3);
  // Only the last write to args counts.
  let argsFail: RegExp | null = null;
  let scheduledPath = false, stateBad = false;
  for (let j = 0; j < n; j++) {
    const m = r.int(14);
    switch (m) {
      case 0:
        await redis.hdel(K, 'type'); c.what.push('no type'); c.mustFail.push(/missing its type/); break;
      case 1:
        await redis.hdel(K, 'action'); c.what.push('no action'); c.mustFail.push(/missing its action/); break;
      case 2: {
        const t = r.pick(['Nope', '__proto__', 'constructor', 'Object', 'hasOwnProperty', r.bytes(6).toString('hex')]);
        await redis.hset(K, 'type', t); c.what.push(`type=${t}`); c.mustFail.push(/unknown object type/); break;
      }
      case 3: {
        const a = r.pick(['constructor', '__proto__', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__',
          'isPrototypeOf', 'call', 'apply', 'bind', 'notFn', 'missing', '../x', 'run()', 'a b', r.bytes(5).toString('latin1')]);
        await redis.hset(K, 'action', a);
        c.what.push(`action=${JSON.stringify(a)}`);
        c.mustFail.push(a === '' ? /missing its action/ : /may not be called|is not a function|must be a method name/);
        break;
      }
      case 4: case 5: {
        // Random bytes, or a valid encoding cut short: the spec decodes them the same way to know what to expect.
        const b = m === 4 ? r.bytes(1 + r.int(40)) : encode([1, 'two', { three: [3] }]).subarray(0, 1 + r.int(12));
        await redis.hset(K, 'args', b);
        c.what.push(`args=${b.toString('hex')}`);
        let v: unknown;
        argsFail = null;
        try { v = decode(b); } catch { argsFail = /args cannot be decoded/; break; }
        if (!Array.isArray(v)) argsFail = /args are not an array|args cannot be decoded/;
        break;
      }
      case 6: {
        const v = r.pick([42, 'str', { a: 1 }, null, true]);
        await redis.hset(K, 'args', encode(v)); c.what.push(`args=${JSON.stringify(v)}`); argsFail = /not an array/; break;
      }
      case 7: {
        const a = r.pick(['x', '-1', '1.5', '99999999999999999999', '', ' 1']);
        await redis.hset(K, 'attempts', a); c.what.push(`attempts=${JSON.stringify(a)}`);
        c.mustFail.push(/attempts field is not a whole number/); break;
      }
      case 8: case 9: {
        // Fields the run does not need: any final state will do, but no script may abort.
        const f = r.pick(['priority', 'scheduled_at', 'timeout', 'max_attempts', 'backoff', 'stalled', 'released', 'state', 'object_id', 'created_at', 'result', 'error']);
        const v = r.pick(['abc', 'nan', 'inf', '-inf', '1e400', '', '-5', 'fixed:x:y', r.bytes(8)]);
        await redis.hset(K, f, v); c.what.push(`${f}=${JSON.stringify(String(v))}`);
        if (f === 'state') stateBad = true;
        break;
      }
      case 10: {
        // Through the scheduled path (promote), with a damaged priority or time.
        const p = r.pick(['nan', 'inf', 'abc', '1e400', '-9e99']);
        const t = r.pick(['nan', 'abc', String(Date.now() - 5)]);
        const [pr, sat] = await redis.hmget(K, 'priority', 'scheduled_at');
        // Out of the due structures (its priority's list or zset), into `scheduled`.
        await redis.zrem(`${k.base}due:${pr}`, `${String.fromCharCode(96 + String(id).length)}${id}`);
        await redis.lrem(`${k.base}fifo:${pr}`, 1, `${sat}:${id}`);
        await redis.hset(K, 'state', 'scheduled', 'priority', p, 'scheduled_at', t);
        await redis.zadd(k.scheduled, Date.now() - 10, String(id));
        c.what.push(`scheduled with priority=${p} scheduled_at=${t}`);
        scheduledPath = true; stateBad = false;
        break;
      }
      case 11: {
        const f = r.pick(['__proto__', 'constructor', 'toString', 'x'.repeat(200), r.bytes(4).toString('latin1')]);
        await redis.hset(K, f, r.bytes(6)); c.what.push(`extra field ${JSON.stringify(f)}`); break;
      }
      case 12: {
        // args that try to reach prototypes: must arrive as plain data.
        const inner = Buffer.concat([Buffer.from([0x81, 0xa8]), Buffer.from('polluted'), Buffer.from([0xc3])]);
        const evil = Buffer.concat([Buffer.from([0x91, 0x81, 0xa9]), Buffer.from('__proto__'), inner]);
        await redis.hset(K, 'args', evil); c.what.push('args with __proto__'); argsFail = null; break;
      }
      default: {
        await redis.hset(K, 'timeout', r.pick(['1e999', '99999999999', 'x'])); c.what.push('huge/bad timeout'); break;
      }
    }
  }
  if (argsFail) c.mustFail.push(argsFail);
  // A due task with a damaged state still runs; a scheduled one fails at promotion, before anything else is looked at.
  if (scheduledPath && stateBad) c.mustFail = [/state field is not a task state/];
}

describe('hostile and broken task hashes (fuzz)', function () {
  this.timeout(60000);
  let sequelize: Sequelize;
  let redis: Redis;

  before(async () => {
    sequelize = await mysqlDb('sa_faults');
    FuzzRow.init({ id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true } }, { sequelize, tableName: `fuzz_rows_${process.pid}` });
    await FuzzRow.sync({ force: true });
    redis = redisClient();
  });
  after(async () => {
    await FuzzRow.drop().catch(() => undefined);
    await sequelize.close();
    redis.disconnect();
  });

  // One seeded run: COUNT tasks corrupted at random, one worker, then each case checks one property.
  const seed = Number(process.env.FUZZ_SEED) || (Date.now() % 1e9);
  describe(`${COUNT} random corruptions, worked by one worker (FUZZ_SEED=${seed} replays this run)`, () => {
    const final = new Set(['succeeded', 'failed', 'cancelled']);
    const cases: Case[] = [];
    const errors: Error[] = [];
    let queue: Queue;
    let prefix: string;
    let k: QueueKeys;
    let w: ReturnType<Queue['worker']> | undefined;
    let protoBefore: string;
    const key = (id: number) => `${k.base}t:${id}`;
    const label = (c: Case) => `task ${c.id} [${c.what.join('; ')}]`;

    before(async () => {
      prefix = uniquePrefix('fz');
      queue = setup({ prefix, sequelize, mirror: false });
      queue.register(Fuzz);
      k = queue.internals.keys('default');
      const r = rng(seed);
      protoBefore = Object.getOwnPropertyNames(Object.prototype).sort().join();
      const rows = await Promise.all(Array.from({ length: 20 }, () => FuzzRow.create()));
      for (let i = 0; i < COUNT; i++) {
        const model = i < rows.length;
        const task = model ? await rows[i].async('touch')
          : await queue.async(Fuzz, 'run', { args: [i, 'x', { n: i }] });
        const c: Case = { id: task.id, what: [], mustFail: [], model };
        cases.push(c);
        if (model && i % 2 === 0) {
          await rows[i].destroy();
          c.what.push('record deleted');
          c.mustFail.push(/was not found/);
          continue;
        }
        await corrupt(r, redis, k, task.id, c);
      }
      w = queue.worker({ concurrency: 4, leaseMs: 5000 });
      w.on('error', (e) => errors.push(e));
      await w.start();
    });
    after(async () => {
      await w?.stop();
      await queue.close();
      await dropPrefix(redis, prefix);
    });

    it('ends every corrupt task in a final state', async () => {
      const states = async () => Promise.all(cases.map(async (c) => {
        const type = await redis.type(key(c.id));
        return type === 'hash' ? (await redis.hget(key(c.id), 'state')) ?? 'no state' : type;
      }));
      await until(async () => (await states()).every((s) => final.has(s)), 30000,
        `every corrupt task to end (seed ${seed})`).catch(async (e) => {
        const s = await states();
        const stuck = cases.map((c, i) => `${label(c)} ${s[i]}`).filter((_x, i) => !final.has(s[i]));
        throw new Error(`${e.message}; not final: ${stuck.slice(0, 10).join(' | ')}`);
      });
      for (const c of cases) assert.ok(await queue.task(c.id), `${label(c)} vanished (seed ${seed})`);
    });

    it('fails each task that cannot run, with a message naming the task and what was wrong', async () => {
      for (const c of cases.filter((x) => x.mustFail.length > 0)) {
        const t = await queue.task(c.id);
        assert.ok(t, `${label(c)} vanished (seed ${seed})`);
        assert.equal(t.state, 'failed', `${label(c)} should have failed but is ${t.state} (seed ${seed})`);
        const msg = (t.result as Error)?.message ?? '';
        assert.ok(c.mustFail.some((re) => re.test(msg)), `${label(c)}: message ${JSON.stringify(msg)} does not say what was wrong (seed ${seed})`);
        assert.match(msg, new RegExp(`${c.id}|FuzzRow`), `task ${c.id}: message should name the task`);
      }
    });

    it('gives every other task that failed a message', async () => {
      for (const c of cases.filter((x) => x.mustFail.length === 0)) {
        const t = await queue.task(c.id);
        assert.ok(t, `${label(c)} vanished (seed ${seed})`);
        if (t.state === 'failed') assert.ok((t.result as Error)?.message, `${label(c)} failed without a message (seed ${seed})`);
      }
    });

    it('made enough corruptions of the failing kind (the generator is not off)', () => {
      const failing = cases.filter((c) => c.mustFail.length > 0).length;
      assert.ok(failing >= COUNT / 3, `too few corruptions were of the failing kind (${failing}); the generator is off`);
    });

    it('aborts no Lua script on a corrupt hash (WRONGTYPE, "not an integer", NaN scores...)', async () => {
      const scriptErrors = errors.filter((e) => /WRONGTYPE|ERR|script|not a valid float|not an integer/i.test(e.message));
      assert.deepEqual(scriptErrors.map((e) => e.message), [], `(seed ${seed})`);
    });

    it('leaves nothing leased', async () => {
      assert.equal(await redis.zcard(k.running), 0, 'nothing left leased');
    });

    it('keeps the worker running good work', async () => {
      const ok = await queue.async(Fuzz, 'run', { args: [1, 2] });
      await ok.wait({ timeout: 5000 });
      assert.equal(ok.state, 'succeeded');
      assert.equal(ok.result, 2);
    });

    it('pollutes no Object.prototype', () => {
      assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype was polluted');
      assert.equal(Object.getOwnPropertyNames(Object.prototype).sort().join(), protoBefore, 'Object.prototype changed');
    });
  });

  describe('single corruptions', () => {
    let queue: Queue;
    let prefix: string;

    beforeEach(() => {
      prefix = uniquePrefix('fz');
      queue = setup({ prefix, sequelize, mirror: false });
      queue.register(Fuzz);
    });
    afterEach(async () => {
      await queue.close();
      await dropPrefix(redis, prefix);
    });
    it('hands args with __proto__ keys to the method as plain data', async () => {
      let got: unknown;
      const Probe = { take(a: unknown) { got = a; return Object.getPrototypeOf(a) === Object.prototype; } };
      queue.register('Probe', Probe);
      const t = await queue.async(Probe, 'take', { args: [{}] });
      const inner = Buffer.concat([Buffer.from([0x81, 0xa8]), Buffer.from('polluted'), Buffer.from([0xc3])]);
      await redis.hset(`${queue.internals.keys('default').base}t:${t.id}`, 'args', Buffer.concat([Buffer.from([0x91, 0x81, 0xa9]), Buffer.from('__proto__'), inner]));
      const w = queue.worker();
      await w.start();
      await t.wait({ timeout: 5000 });
      await w.stop();
      assert.equal(t.state, 'succeeded');
      assert.equal(t.result, true, 'the decoded object kept the plain Object prototype');
      assert.equal((got as Record<string, unknown>).polluted, undefined);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });

    it('never runs a finished task again because of a stray queue entry', async () => {
      const t = await queue.async(Fuzz, 'run', { args: [1] });
      const w = queue.worker();
      await w.start();
      await t.wait({ timeout: 5000 });
      const calls = Fuzz.calls;
      const k = queue.internals.keys('default');
      // Someone pushes the finished task's id into the due set again.
      await redis.zadd(`${k.base}due:10`, 0, `${String.fromCharCode(96 + String(t.id).length)}${t.id}`);
      await redis.zadd(k.levels, 10, '10');
      const after = await queue.async(Fuzz, 'run', { args: [2] });
      await after.wait({ timeout: 5000 });
      await w.stop();
      assert.equal(Fuzz.calls, calls + 1, 'only the new task ran');
      assert.equal((await t.reload()).attempts, 1);
    });

    it('a corrupt task in the middle of a claim batch does not strand the good ones around it', async () => {
      const k = queue.internals.keys('default');
      const ts = [];
      for (let i = 0; i < 6; i++) ts.push(await queue.async(Fuzz, 'run', { args: [i] }));
      await redis.del(`${k.base}t:${ts[2].id}`);
      await redis.set(`${k.base}t:${ts[2].id}`, 'junk');
      await redis.hset(`${k.base}t:${ts[4].id}`, 'attempts', 'x');
      const errors: Error[] = [];
      const w = queue.worker({ concurrency: 6 });
      w.on('error', (e) => errors.push(e));
      await w.start();
      for (const i of [0, 1, 3, 5]) {
        await ts[i].wait({ timeout: 5000 });
        assert.equal(ts[i].state, 'succeeded');
        assert.equal(ts[i].attempts, 1, 'ran once, not after a stall');
      }
      for (const i of [2, 4]) {
        await ts[i].wait({ timeout: 5000 });
        assert.equal(ts[i].state, 'failed');
        assert.equal((ts[i].result as Error).name, 'CorruptTaskError');
      }
      assert.equal(await redis.get(`${k.base}t:${ts[2].id}:corrupt`), 'junk', 'the foreign value is kept aside');
      // Both count as failures in the metrics: the hash that still says what it is under its Type#action,
      // the foreign value under '?#?'.
      const m = await readTotals(redis, k);
      assert.deepEqual([m.tasks.get('Fuzz#run')?.failed, m.tasks.get('Fuzz#run')?.succeeded, m.tasks.get('?#?')?.failed], [1, 4, 1]);
      await w.stop();
      assert.deepEqual(errors.map((e) => e.message), []);
    });
  });
});
