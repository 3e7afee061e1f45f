// The Lua scripts' replies and hash fields against real Redis: the claim reply carries every field
// of CLAIM_FIELDS the way parseClaimReply reads it, and a retry keeps the task's first scheduled
// time (first_scheduled_at). The scripts are driven by hand (queue.internals.script), as a worker would.
import { strict as assert } from 'assert';
import type Redis from 'ioredis';
import { setup, Queue } from '../lib';
import { CLAIM_FIELDS, Claimed, parseClaimReply } from '../lib/claim-reply';
import { encode, decode } from '../lib/codec';
import { REDIS_URL, uniquePrefix, dropPrefix, redisClient } from './helpers';

class Target { static run() { return 1; } }

describe('Lua scripts on real Redis', function () {
  this.timeout(20000);
  let queue: Queue;
  let redis: Redis;
  let prefix: string;
  const tkey = (id: number) => `${queue.internals.keys('default').base}t:${id}`;
  const claim = async (want = 1) =>
    parseClaimReply('default', await queue.internals.script('claim', 'default', ['w1', 30000, want], true) as Buffer[]);
  const finish = async (id: number | string, attempt: number, outcome: 'ok' | 'fail' | 'retry', retryAt = 0) =>
    parseClaimReply('default', await queue.internals.script('finish', 'default',
      ['w1', 30000, 0, 1, '1', String(id), String(attempt), outcome, encode(new Error('boom')), retryAt, 5], true) as Buffer[]);

  before(() => { redis = redisClient(); });
  beforeEach(() => {
    prefix = uniquePrefix('lua');
    queue = setup({ redis: REDIS_URL, prefix, mirror: false, retention: 60000 });
    queue.register(Target);
  });
  afterEach(async () => {
    await queue.close();
    await dropPrefix(redis, prefix);
  });
  after(() => redis.disconnect());

  it('hands over every CLAIM_FIELDS field of the task hash, read by parseClaimReply into its property', async () => {
    const t = await queue.async(Target, 'run', { args: [1, 'two'] });
    const args = encode([1, 'two']);
    // A distinct value in every claim field, so a field read from the wrong place shows.
    const stored: Record<typeof CLAIM_FIELDS[number], string | Buffer> = {
      type: 'Target', object_id: '77', action: 'run', args, timeout: '1234', max_attempts: '3',
      backoff: 'fixed:10:0', stalled: '2', released: '5',
    };
    await redis.hset(tkey(t.id), stored);
    // Where each field arrives in a Claimed, and as what (a new CLAIM_FIELDS entry fails to compile here).
    const expected: Record<typeof CLAIM_FIELDS[number], [keyof Claimed, unknown]> = {
      type: ['type', 'Target'], object_id: ['objectId', '77'], action: ['action', 'run'], args: ['args', [1, 'two']],
      timeout: ['timeout', 1234], max_attempts: ['maxAttempts', 3], backoff: ['backoff', 'fixed:10:0'],
      stalled: ['stalled', 2], released: ['released', 5],
    };
    const r = await claim();
    assert.equal(r.got, 1);
    assert.deepEqual(r.refused, []);
    assert.equal(r.nextAt, Infinity);
    const c = r.tasks[0];
    assert.equal(c.id, String(t.id));
    assert.equal(c.attempt, 1);
    assert.equal(c.queue, 'default');
    for (const f of CLAIM_FIELDS) {
      const [prop, want] = expected[f];
      const got = prop === 'args' ? decode(c.args as Buffer) : c[prop];
      assert.deepEqual(got, want, `claim field ${f} arrives as ${prop}`);
    }
  });

  it('replies the next scheduled time when nothing is due', async () => {
    const at = Date.now() + 60000;
    await queue.async(Target, 'run', { scheduledAt: at });
    const r = await claim();
    assert.equal(r.got, 0);
    assert.equal(r.nextAt, at);
  });

  it("finish's retry keeps the first scheduled time in first_scheduled_at, through several retries", async () => {
    const t = await queue.async(Target, 'run', { attempts: 3 });
    const first = await redis.hget(tkey(t.id), 'scheduled_at');
    assert.ok(first);
    assert.equal(await redis.hget(tkey(t.id), 'first_scheduled_at'), null, 'absent until a retry moves scheduled_at');
    // Retry due at once (into the due index), claim it again, then retry into the future.
    const now = Date.now();
    await claim();
    await finish(t.id, 1, 'retry', now - 1000);
    assert.equal(await redis.hget(tkey(t.id), 'scheduled_at'), String(now - 1000));
    assert.equal(await redis.hget(tkey(t.id), 'first_scheduled_at'), first);
    const again = await claim();
    assert.equal(again.tasks[0]?.attempt, 2, 'the retried task is claimed again');
    await finish(t.id, 2, 'retry', now + 60000);
    assert.equal(await redis.hget(tkey(t.id), 'state'), 'scheduled');
    assert.equal(await redis.hget(tkey(t.id), 'scheduled_at'), String(now + 60000));
    assert.equal(await redis.hget(tkey(t.id), 'first_scheduled_at'), first, 'written once: the second retry leaves it');
  });

  it('retry.lua (CLI retry) keeps the first scheduled time in first_scheduled_at', async () => {
    const t = await queue.async(Target, 'run');
    const first = await redis.hget(tkey(t.id), 'scheduled_at');
    await claim();
    await finish(t.id, 1, 'fail');
    assert.equal(await redis.hget(tkey(t.id), 'state'), 'failed');
    assert.equal(String(await queue.internals.script('retry', 'default', [String(t.id)])), 'queued');
    assert.equal(await redis.hget(tkey(t.id), 'first_scheduled_at'), first);
    assert.notEqual(await redis.hget(tkey(t.id), 'scheduled_at'), null);
    const r = await claim();
    assert.equal(r.tasks[0]?.attempt, 2, 'queued again as a new attempt');
  });
});
