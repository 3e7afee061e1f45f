// The cost of transactional enqueue's pending row (lib/mirror/pending.ts): one INSERT inside the
// user's transaction. Times whole transactions (INSERT an order, queue a task, COMMIT, the push
// to Redis after it) on a queue that mirrors (pending row written) and on one that does not
// (the task waits in memory only), samples interleaved so drift on a shared machine hits both.
import { percentile } from './stats';

export interface TxSamples { withRow: number[]; without: number[] }

export const TX_DATABASES = {
  mysql: process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/test',
  postgres: process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
} as const;

/* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */
async function open(dialect: keyof typeof TX_DATABASES): Promise<any> {
  const { Sequelize } = require('sequelize');
  const admin = new Sequelize(TX_DATABASES[dialect], { logging: false });
  if (dialect === 'mysql') await admin.query('CREATE DATABASE IF NOT EXISTS `sa_bench`');
  else {
    const [found] = await admin.query("SELECT 1 FROM pg_database WHERE datname = 'sa_pg_bench'");
    if (found.length === 0) await admin.query('CREATE DATABASE sa_pg_bench');
  }
  await admin.close();
  const u = new URL(TX_DATABASES[dialect]);
  u.pathname = dialect === 'mysql' ? '/sa_bench' : '/sa_pg_bench';
  return new Sequelize(u.toString(), { logging: false, pool: { max: 5 } });
}

/** `n` transactions of each kind on one database; milliseconds per transaction. */
export async function txEnqueueSamples(libPath: string, redisUrl: string, prefix: string, dialect: keyof typeof TX_DATABASES, n: number): Promise<TxSamples> {
  const { setup } = require(libPath);
  const { DataTypes, Model } = require('sequelize');
  const seq = await open(dialect);
  class BenchOrder extends Model {}
  BenchOrder.init({ note: DataTypes.STRING }, { sequelize: seq, tableName: 'bench_orders' });
  await BenchOrder.sync();
  const mirrored = setup({ sequelize: seq, redis: redisUrl, prefix: `${prefix}m` });
  const plain = setup({ sequelize: seq, redis: redisUrl, prefix: `${prefix}p`, mirror: false });
  const Jobs = { name: 'Jobs', noop() { /* nothing */ } };
  for (const q of [mirrored, plain]) q.register(Jobs);
  await mirrored.migrate();
  const out: TxSamples = { withRow: [], without: [] };
  const one = async (q: any) => {
    const t0 = performance.now();
    await seq.transaction(async (transaction: unknown) => {
      await BenchOrder.create({ note: 'bench' }, { transaction });
      await q.async(Jobs, 'noop', { transaction });
    });
    return performance.now() - t0;
  };
  try {
    for (let i = 0; i < 50; i++) { await one(mirrored); await one(plain); } // warm-up
    for (let i = 0; i < n; i++) {
      if (i % 2) { out.without.push(await one(plain)); out.withRow.push(await one(mirrored)); }
      else { out.withRow.push(await one(mirrored)); out.without.push(await one(plain)); }
    }
  } finally {
    await mirrored.close();
    await plain.close();
    await seq.query(`DELETE FROM ${seq.getQueryInterface().quoteIdentifier('async_tasks')} WHERE ${seq.getQueryInterface().quoteIdentifier('state')} = 'pending'`).catch(() => undefined);
    await seq.close();
  }
  return out;
}

/** p50 and p99 that the pending row adds to a transaction (ms). */
export function added(s: TxSamples): { p50: number; p99: number; base50: number; base99: number } {
  const p = (xs: number[], q: number) => percentile(xs, q);
  return { p50: p(s.withRow, 50) - p(s.without, 50), p99: p(s.withRow, 99) - p(s.without, 99), base50: p(s.without, 50), base99: p(s.without, 99) };
}
