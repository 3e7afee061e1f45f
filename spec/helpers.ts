// Shared by the specs: real services from the environment (defaults: the local ones) and
// names no other spec uses, so spec files never step on each other's keys or tables.
import Redis from 'ioredis';
import { Sequelize } from 'sequelize';
import { randomBytes } from 'crypto';
import { setup, Queue } from '../lib';

export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
export const DATABASE_URL = process.env.DATABASE_URL || 'mysql://root@127.0.0.1:3306/test';
export const PG_URL = process.env.PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

/** A key prefix of its own for one test. */
export function uniquePrefix(tag = 't'): string {
  return `${tag}${randomBytes(4).toString('hex')}`;
}

export function redisClient(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: null });
}

/**
 * Each test of the enclosing describe gets a queue on a prefix of its own and a plain Redis client
 * (handed to `use` before the test), closed and dropped after it.
 */
export function queuePerTest(tag: string, use: (t: { prefix: string; queue: Queue; redis: Redis }) => void): void {
  let t: { prefix: string; queue: Queue; redis: Redis };
  beforeEach(() => {
    const prefix = uniquePrefix(tag);
    t = { prefix, queue: setup({ redis: REDIS_URL, prefix }), redis: redisClient() };
    use(t);
  });
  afterEach(async () => {
    await t.queue.close();
    await dropPrefix(t.redis, t.prefix);
    t.redis.disconnect();
  });
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

/** A Sequelize on a PostgreSQL database of its own (created if missing), like mysqlDb. */
export async function pgDb(database: string, opts: Record<string, unknown> = {}): Promise<Sequelize> {
  const admin = new Sequelize(PG_URL, { logging: false });
  const [found] = await admin.query('SELECT 1 FROM pg_database WHERE datname = ?', { replacements: [database] });
  // CREATE DATABASE has no IF NOT EXISTS; two spec processes may race to create it.
  if (found.length === 0) await admin.query(`CREATE DATABASE "${database}"`).catch((e: Error) => { if (!/already exists/.test(e.message)) throw e; });
  await admin.close();
  const u = new URL(PG_URL);
  u.pathname = `/${database}`;
  return new Sequelize(u.toString(), { logging: false, ...opts });
}

/** The SQL databases the mirror and transaction specs run on: MariaDB and PostgreSQL. */
export interface TestDatabase {
  /** As error messages name it ("MySQL at 127.0.0.1:3306"). */
  label: string;
  dialect: 'mysql' | 'postgres';
  open(database: string, opts?: Record<string, unknown>): Promise<Sequelize>;
  /** The URL of a database opened with open() (another host:port: the same database behind a proxy). */
  url(database: string, hostPort?: string): string;
  /** The server's port (for a proxy in front of it). */
  port: number;
}
const pgName = (db: string) => db.replace(/^sa_/, 'sa_pg_');
const withDb = (base: string, db: string, hostPort?: string) => { const u = new URL(base); u.pathname = `/${db}`; if (hostPort) u.host = hostPort; return u.toString(); };
export const DATABASES: TestDatabase[] = [
  { label: 'MySQL', dialect: 'mysql', open: (db, o) => mysqlDb(db, o), url: (db, hp) => withDb(DATABASE_URL, db, hp), port: Number(new URL(DATABASE_URL).port || 3306) },
  { label: 'PostgreSQL', dialect: 'postgres', open: (db, o) => pgDb(pgName(db), o), url: (db, hp) => withDb(PG_URL, pgName(db), hp), port: Number(new URL(PG_URL).port || 5432) },
];
