// Shared by the specs: real services from the environment (defaults: the local ones) and
// names no other spec uses, so spec files never step on each other's keys or tables.
import Redis from 'ioredis';
import { Sequelize } from 'sequelize';
import { randomBytes } from 'crypto';

export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
export const DATABASE_URL = process.env.DATABASE_URL || 'mysql://root@127.0.0.1:3306/test';

/** A key prefix of its own for one test. */
export function uniquePrefix(tag = 't'): string {
  return `${tag}${randomBytes(4).toString('hex')}`;
}

export function redisClient(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: null });
}

/** Deletes every key of a prefix (tests clean up after themselves). */
export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  for (const pattern of [`{${prefix}:*`, `{${prefix}}:*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
}

export function mysql(opts: Record<string, unknown> = {}): Sequelize {
  return new Sequelize(DATABASE_URL, { logging: false, ...opts });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns truthy or `ms` pass (then fails with `what`). */
export async function until<T>(fn: () => Promise<T> | T, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A Sequelize on a MySQL database of its own (created if missing), so spec files do not share tables. */
export async function mysqlDb(database: string, opts: Record<string, unknown> = {}): Promise<Sequelize> {
  const admin = mysql();
  await admin.query(`CREATE DATABASE IF NOT EXISTS \`${database}\``);
  await admin.close();
  const u = new URL(DATABASE_URL);
  u.pathname = `/${database}`;
  return new Sequelize(u.toString(), { logging: false, ...opts });
}
