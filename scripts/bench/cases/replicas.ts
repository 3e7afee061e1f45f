// setup({ replicas: 1 }) against replicas: 0, both against the SAME master: a redis-server pair of
// the case's own (master on 6460, its replica on 6461, no persistence), started for this case and
// killed after it, so the bench's main Redis never syncs a replica. Process at concurrency 50 and
// enqueue one by one (100 in flight), runs alternating. With replicas: 1 each enqueue.lua and
// finish.lua call goes with a WAIT 1 in one pipeline (lib/durability.ts): still one client round
// trip, but the master answers WAIT only once the replica acknowledged the write.
import { spawn, ChildProcess } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import net from 'net';
import Redis from 'ioredis';
import { ADAPTERS, Ctx, timeProcessing } from '../libs';
import type { BenchCase, BenchEnv, CaseResult } from '../env';

const MASTER_PORT = 6460;
const REPLICA_PORT = 6461;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

/** A redis-server of this case's own; refuses a port someone else listens on. */
async function startServer(port: number, dir: string, extra: string[] = []): Promise<ChildProcess> {
  if (await reachable(port)) throw new Error(`port ${port} is in use already (the replicas case starts its own redis-server there)`);
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--daemonize', 'no', ...extra], { stdio: 'ignore' });
  let failed: Error | null = null;
  proc.once('error', (e) => { failed = e; });
  for (let i = 0; i < 100 && !failed; i++) {
    if (await reachable(port)) return proc;
    await sleep(50);
  }
  proc.kill('SIGKILL');
  throw new Error(`redis-server did not come up on port ${port}${failed ? `: ${(failed as Error).message}` : ''}`);
}

async function stopServer(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await exited;
}

/** Until the replica's link is up and the master counts it online (the initial sync done). */
async function waitForSync(replica: Redis, master: Redis): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = await replica.info('replication'), m = await master.info('replication');
    if (/master_link_status:up/.test(r) && /slave0:.*state=online/.test(m)) return;
    await sleep(50);
  }
  throw new Error(`the replica on ${REPLICA_PORT} did not sync with the master on ${MASTER_PORT} within 10 s`);
}

async function enqueueRate(ctx: Ctx, n: number): Promise<number> {
  const p = await ADAPTERS.ours.producer(ctx);
  try {
    await p.oneByOne(Math.min(n, 1000), 100); // warm-up: scripts loaded, JIT warm
    const t0 = performance.now();
    await p.oneByOne(n, 100);
    return n / ((performance.now() - t0) / 1000);
  } finally {
    await p.close();
  }
}

async function processRate(ctx: Ctx, n: number): Promise<number> {
  const p = await ADAPTERS.ours.producer(ctx);
  await p.bulk(n, 1000);
  await p.close();
  return n / ((await timeProcessing('ours', ctx, 50, n)) / 1000);
}

export const replicasCase: BenchCase = {
  id: 'replicas',
  async run(env: BenchEnv) {
    const row = (id: string, label: string): CaseResult => env.add({ id, label, unit: 'jobs/s', better: 'higher', runs: {} });
    const proc0 = row('replicas-0-process', 'process c=50, replicas: 0, master with a local replica (ours)');
    const proc1 = row('replicas-1-process', 'process c=50, replicas: 1 (a WAIT per finish call), same master (ours)');
    const enq0 = row('replicas-0-enqueue', 'enqueue one by one (100 in flight), replicas: 0, same master (ours)');
    const enq1 = row('replicas-1-enqueue', 'enqueue one by one (100 in flight), replicas: 1 (a WAIT per enqueue call), same master (ours)');
    const all = [proc0, proc1, enq0, enq1];
    proc0.note = `a redis-server pair of the case's own (master ${MASTER_PORT}, replica ${REPLICA_PORT}, same machine, no persistence), `
      + 'runs alternating. replicas: 1 sends each enqueue.lua and finish.lua call with a WAIT 1 in one pipeline (lib/durability.ts): '
      + 'still one client round trip, but the master answers WAIT only after a round trip to the replica (it forwards the write, '
      + 'asks for the replica\'s offset with REPLCONF GETACK, answers on its ACK), and a connection blocked in WAIT runs none of its '
      + 'next commands meanwhile. The cost is per call, not per task: the enqueues of one event-loop turn share one enqueue.lua '
      + '(lib/enqueue/enqueuer.ts), and outcomes ending together share one finish.lua, which also claims the next tasks.';
    const dirs = [mkdtempSync(join(tmpdir(), 'sa-bench-master-')), mkdtempSync(join(tmpdir(), 'sa-bench-replica-'))];
    let master: ChildProcess | undefined, replica: ChildProcess | undefined;
    const masterConn = new Redis(MASTER_PORT, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
    const replicaConn = new Redis(REPLICA_PORT, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
    const killAll = () => { master?.kill('SIGKILL'); replica?.kill('SIGKILL'); };
    process.once('exit', killAll); // an interrupted bench leaves no server behind
    try {
      master = await startServer(MASTER_PORT, dirs[0]);
      replica = await startServer(REPLICA_PORT, dirs[1], ['--replicaof', '127.0.0.1', String(MASTER_PORT)]);
      await Promise.all([masterConn.connect(), replicaConn.connect()]);
      await waitForSync(replicaConn, masterConn);
      const redisUrl = `redis://127.0.0.1:${MASTER_PORT}/0`;
      for (let r = 0; r < env.R; r++) {
        for (const n of r % 2 ? [1, 0] : [0, 1]) {
          await masterConn.flushall();
          await waitForSync(replicaConn, masterConn);
          env.record(n ? proc1 : proc0, 'ours', await processRate(env.ctxFor({ redisUrl, replicas: n }), env.N));
          env.record(n ? enq1 : enq0, 'ours', await enqueueRate(env.ctxFor({ redisUrl, replicas: n }), env.N));
        }
      }
    } catch (e) {
      const why = `replicas case failed: ${(e as Error).message.split('\n')[0]}`;
      for (const x of all) x.skipped ??= why;
      env.log(`  ${why}`);
    } finally {
      masterConn.disconnect();
      replicaConn.disconnect();
      await stopServer(replica);
      await stopServer(master);
      process.off('exit', killAll);
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  },
  targets(k) {
    for (const [what, a, b] of [['process c=50, replicas: 1 vs 0', 'replicas-1-process', 'replicas-0-process'],
      ['enqueue one by one, replicas: 1 vs 0', 'replicas-1-enqueue', 'replicas-0-enqueue']]) {
      k.paired(what, a, b, null, 'measured and explained (no target)');
    }
  },
};
