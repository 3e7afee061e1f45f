// Bounded Redis memory with the MySQL mirror: retention 0 drops a finished task only after its
// row was committed, so 50,000 tasks leave Redis where it was AND one row each in MySQL.
import { strict as assert } from 'assert';
import Redis from 'ioredis';
import type { Sequelize } from 'sequelize';
import { setup } from '../../lib';
import { uniquePrefix, mysqlDb } from '../helpers';
import { RedisServer } from './servers';
import { measureMemory } from './memory';

describe('faults: bounded Redis memory with the mirror (retention 0)', function () {
  this.timeout(150000);
  let server: RedisServer;
  let r: Redis;
  let sequelize: Sequelize;

  before(async () => {
    server = await RedisServer.start();
    r = new Redis(server.url, { maxRetriesPerRequest: null });
    sequelize = await mysqlDb('sa_faults_mem');
    await sequelize.query('DROP TABLE IF EXISTS async_tasks');
  });
  after(async () => {
    r?.disconnect();
    await server?.stop();
    await sequelize?.query('DROP TABLE IF EXISTS async_tasks').catch(() => undefined);
    await sequelize?.close();
  });

  it('returns used_memory near its start after 50,000 tasks, every one mirrored before it was dropped', async () => {
    const queue = setup({ redis: server.url, prefix: uniquePrefix('memm'), retention: 0, sequelize, mirror: true });
    try {
      await queue.migrate();
      const k = queue.internals.keys('default');
      await measureMemory(queue, r, 50000, async () => (await r.zcard(k.running)) === 0 && (await r.exists(k.finished)) === 0 && (await r.llen(k.outbox)) === 0);
      const [[row]] = await sequelize.query("SELECT COUNT(*) AS n, SUM(state = 'succeeded') AS ok FROM async_tasks") as [{ n: number; ok: number }[], unknown];
      assert.equal(Number(row.n), 50500, 'one row per task (warm-up included)');
      assert.equal(Number(row.ok), 50500);
    } finally {
      await queue.close();
    }
  });
});
