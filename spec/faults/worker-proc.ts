// One worker process for the fault suite, bundled by harness.ts and run by plain node (so kill -9
// hits the worker itself, not a wrapper). Configured by environment:
//   FAULT_REDIS, FAULT_PREFIX, FAULT_CONCURRENCY, FAULT_LEASE_MS, FAULT_MAX_STALLS, FAULT_GRACE_MS, FAULT_PREFETCH,
//   FAULT_DB (a mysql:// URL: mirror on), FAULT_RUNS (list key where each execution is logged), FAULT_QUEUES (comma-separated).
// Prints "ready" once claiming; on SIGTERM stops gracefully, prints "stopped <json stats>", exits 0.
import Redis from 'ioredis';
import { Sequelize } from 'sequelize';
import { setup } from '../../lib';

const env = (k: string, d?: string) => process.env[k] ?? d ?? (() => { throw new Error(`worker-proc: ${k} is not set`); })();

async function main() {
  const sequelize = process.env.FAULT_DB ? new Sequelize(process.env.FAULT_DB, { logging: false, pool: { max: 2, acquire: 5000 } }) : undefined;
  const queue = setup({ redis: env('FAULT_REDIS'), prefix: env('FAULT_PREFIX'), sequelize, mirror: !!sequelize });
  const log = new Redis(env('FAULT_REDIS'), { maxRetriesPerRequest: null });
  const runs = env('FAULT_RUNS');
  queue.register('Sleeper', {
    // Logs the execution (awaited: with appendfsync always, a logged run is on disk), then sleeps.
    async nap(i: number, ms: number) {
      await log.rpush(runs, `${i}:${process.pid}`);
      await new Promise((r) => setTimeout(r, ms));
      return i;
    },
  });
  // Logs start and end (ms) with the pid, for the flow spec's windows and overlaps.
  queue.register('Timed', {
    async run(i: number, ms: number) {
      await log.rpush(runs, `s:${i}:${process.pid}:${Date.now()}`);
      await new Promise((r) => setTimeout(r, ms));
      await log.rpush(runs, `e:${i}:${process.pid}:${Date.now()}`);
    },
  });
  const worker = queue.worker({
    ...(process.env.FAULT_QUEUES ? { queues: process.env.FAULT_QUEUES.split(',') } : {}),
    concurrency: Number(env('FAULT_CONCURRENCY', '4')),
    leaseMs: Number(env('FAULT_LEASE_MS', '2000')),
    maxStalls: Number(env('FAULT_MAX_STALLS', '1')),
    ...(process.env.FAULT_PREFETCH ? { prefetch: process.env.FAULT_PREFETCH === 'auto' ? 'auto' as const : Number(process.env.FAULT_PREFETCH) } : {}),
  });
  worker.on('error', (e) => process.stderr.write(`worker-proc ${process.pid}: ${e.message}\n`));
  let stopping = false;
  process.on('SIGTERM', async () => {
    if (stopping) return;
    stopping = true;
    await worker.stop({ graceMs: Number(env('FAULT_GRACE_MS', '30000')) });
    await queue.close();
    log.disconnect();
    await sequelize?.close();
    process.stdout.write(`stopped ${JSON.stringify(worker.stats)}\n`);
    process.exit(0);
  });
  await worker.start();
  process.stdout.write('ready\n');
}

main().catch((e) => { process.stderr.write(`worker-proc: ${e.stack}\n`); process.exit(1); });
