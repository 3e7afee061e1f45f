// A claim or finish sent again with the same call id (what ioredis does after a reconnect when
// the first reply was lost) gets the first call's reply: its claimed tasks are not stranded.
import assert from 'assert';
import { setup, Queue } from '../lib';
import { redisClient, uniquePrefix, dropPrefix, REDIS_URL } from './helpers';
import { parseClaimReply } from '../lib/claim-reply';

describe('replayed claim and finish calls (include/replay.lua)', () => {
  const redis = redisClient();
  let prefix: string;
  let queue: Queue;
  const Jobs = { name: 'Jobs', add(a: number, b: number) { return a + b; } };
  beforeEach(() => { prefix = uniquePrefix('rp'); queue = setup({ redis: REDIS_URL, prefix }); queue.register(Jobs); });
  afterEach(async () => { await queue.close(); await dropPrefix(redis, prefix); });
  after(() => redis.disconnect());

  const run = async (script: 'claim' | 'finish', argv: (string | number)[]) =>
    parseClaimReply('default', await queue.internals.script(script, 'default', argv, true) as Buffer[]);

  it('answers a resent claim with its first reply, and a resent finish too; an acknowledged call runs anew', async () => {
    const a = await queue.async(Jobs, 'add', { args: [1, 2] });
    const b = await queue.async(Jobs, 'add', { args: [3, 4] });
    const first = await run('claim', ['w1', 30000, 1, '1', 'c1', '']);
    assert.deepStrictEqual(first.tasks.map((t) => Number(t.id)), [a.id]);
    const again = await run('claim', ['w1', 30000, 1, '1', 'c1', '']);
    assert.deepStrictEqual(again, first, 'the same reply, nothing claimed twice');
    assert.strictEqual(await redis.hget(`{${prefix}:default}:t:${b.id}`, 'state'), 'queued');

    const fin = await run('finish', ['w1', 30000, 1, 1, '1', String(a.id), 1, 'ok', '', '', 3, 'f1', 'c1']);
    assert.deepStrictEqual([fin.refused, fin.tasks.map((t) => Number(t.id))], [[], [b.id]]);
    assert.strictEqual(await redis.exists(`{${prefix}:default}:call:c1`), 0, 'acknowledged: dropped');
    const fin2 = await run('finish', ['w1', 30000, 1, 1, '1', String(a.id), 1, 'ok', '', '', 3, 'f1', '']);
    assert.deepStrictEqual(fin2, fin, 'not refused, and b handed over again rather than stranded');
    assert.strictEqual(await redis.hget(`{${prefix}:default}:t:${b.id}`, 'attempts'), '1');
    const pttl = await redis.pttl(`{${prefix}:default}:call:f1`);
    assert.ok(pttl > 0 && pttl <= 60000, `kept briefly (${pttl} ms)`);
    // Without an id (or a claim that got nothing) nothing is kept.
    await run('claim', ['w1', 30000, 1, '1', 'c2', 'f1']);
    assert.strictEqual(await redis.exists(`{${prefix}:default}:call:c2`, `{${prefix}:default}:call:f1`), 0);
  });
});
