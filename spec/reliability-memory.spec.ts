// Bounded Redis memory: 50,000 tasks pushed through with retention 0 leave Redis where it was
// (used_memory and lasting keys). On a redis-server of this spec's own, so other specs' keys on
// the shared Redis do not move the figures. The same with the MySQL mirror (slower: every row
// is written first) is in spec/faults/memory-mirror.spec.ts (`npm run faults`).
import Redis from 'ioredis';
import { setup } from '../lib';
import { uniquePrefix } from './helpers';
import { RedisServer } from './faults/servers';
import { measureMemory } from './faults/memory';

describe('bounded Redis memory (retention 0, no mirror)', function () {
  this.timeout(120000);
  let server: RedisServer;
  let r: Redis;

  before(async () => {
    server = await RedisServer.start();
    r = new Redis(server.url, { maxRetriesPerRequest: null });
  });
  after(async () => {
    r?.disconnect();
    await server?.stop();
  });

  it('returns used_memory near its start after 50,000 tasks, no task key left', async () => {
    const queue = setup({ redis: server.url, prefix: uniquePrefix('mem'), retention: 0 });
    try {
      const k = queue.internals.keys('default');
      await measureMemory(queue, r, 50000, async () => (await r.zcard(k.running)) === 0 && (await r.exists(k.finished)) === 0);
    } finally {
      await queue.close();
    }
  });
});
