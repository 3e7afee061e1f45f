// A process for the recurring and unique specs, bundled by procs.ts and run by plain node.
// Configured by environment: REC_REDIS, REC_PREFIX, REC_MODE, REC_PATTERN, REC_OPTS (JSON), REC_GO (a list key:
// print "waiting", then wait for an entry there, so that many processes start their call at once).
//   worker: (every() first when REC_PATTERN is set, REC_SCHEDULES times) then a worker; prints "ready <before> <after>" around
//           worker.start() (the scheduler's start lies between), stops on SIGTERM.
//   every:  calls every() once, prints "every <changed>", exits.
//   unique: REC_N concurrent Clock.async('tick', { unique: 'k' }), prints "ids <id,...>", exits.
// Also registered: Sleeper.nap(ms). REC_LEASE_MS, REC_MAX_STALLS configure the worker.
import { setup } from '../../lib';

const env = (k: string, d?: string) => process.env[k] ?? d ?? (() => { throw new Error(`recurring proc: ${k} is not set`); })();

async function main() {
  const queue = setup({ redis: env('REC_REDIS'), prefix: env('REC_PREFIX') });
  const Clock = queue.register('Clock', { tick(): string { return 'tock'; } });
  queue.register('Sleeper', { async nap(ms: number) { await new Promise((r) => setTimeout(r, ms)); return ms; } });
  const opts = JSON.parse(env('REC_OPTS', '{}'));
  if (process.env.REC_GO) {
    await queue.redis.ping();
    process.stdout.write('waiting\n');
    const go = queue.redis.duplicate();
    await go.blpop(process.env.REC_GO, 0);
    go.disconnect();
  }
  const mode = env('REC_MODE');
  if (mode === 'unique') {
    const tasks = await Promise.all(Array.from({ length: Number(env('REC_N', '50')) }, () => Clock.async('tick', { unique: 'k' })));
    process.stdout.write(`ids ${tasks.map((t) => t.id).join(',')}\n`);
    await queue.close();
    return;
  }
  if (mode === 'every') {
    const r = await Clock.every(env('REC_PATTERN'), 'tick', opts);
    process.stdout.write(`every ${r.changed}\n`);
    await queue.close();
    return;
  }
  // REC_SCHEDULES=n: n schedules of the pattern, named s0..s<n-1> (else one, named Clock#tick).
  const n = Number(env('REC_SCHEDULES', '0'));
  if (process.env.REC_PATTERN && n > 0) await Promise.all(Array.from({ length: n }, (_, i) => Clock.every(env('REC_PATTERN'), 'tick', { ...opts, name: `s${i}` })));
  else if (process.env.REC_PATTERN) await Clock.every(env('REC_PATTERN'), 'tick', opts);
  const worker = queue.worker({ concurrency: 4, leaseMs: Number(env('REC_LEASE_MS', '2000')), maxStalls: Number(env('REC_MAX_STALLS', '1')) });
  worker.on('error', (e) => process.stderr.write(`recurring proc ${process.pid}: ${e.message}\n`));
  process.on('SIGTERM', async () => {
    await worker.stop();
    await queue.close();
    process.exit(0);
  });
  const before = Date.now();
  await worker.start();
  process.stdout.write(`ready ${before} ${Date.now()}\n`);
}

main().catch((e) => { process.stderr.write(`recurring proc: ${e.stack}\n`); process.exit(1); });
