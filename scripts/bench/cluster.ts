// `npx tsx scripts/bench/cluster.ts` — throughput of N queues on one master of a Redis Cluster
// against the same number of queues spread over its 3 masters, with the Redis CPU each master
// spent per task (INFO cpu, user + sys) and this process's own CPU per task.
//   options: --n 20000 (tasks per run)  --queues 6  --workers 2 (in this process)  --concurrency 16  --runs 3
//            --no-replicas (skip the third row: spread, with setup({ replicas: 1 }))
// Starts its own cluster (spec/cluster-harness.ts: 3 masters + a replica each, free ports) and
// kills it by pid at the end; touches no other Redis.
import minimist from 'minimist';
import Redis from 'ioredis';
import { setup } from '../../lib';
import { RedisCluster, client } from '../../spec/cluster-harness';

const argv = minimist(process.argv.slice(2));
const N = Number(argv.n ?? 20000);
const QUEUES = Number(argv.queues ?? 6);
const WORKERS = Number(argv.workers ?? 2);
const CONCURRENCY = Number(argv.concurrency ?? 16);
const RUNS = Number(argv.runs ?? 3);

const Noop = { run(_i: number) { return null; } };

async function cpuOf(port: number): Promise<number> {
  const c: Redis = client(port);
  try {
    const info = await c.info('cpu');
    const f = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0);
    return f('used_cpu_user') + f('used_cpu_sys');
  } finally { c.disconnect(); }
}

/** Queue names for a placement: all on one master, or round-robin over the masters. */
async function names(c: RedisCluster, prefix: string, spread: boolean, masters: number[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; out.length < QUEUES; i++) {
    const { port } = await c.owner(`{${prefix}:b${i}}:x`);
    const want = spread ? masters[out.length % masters.length] : masters[0];
    if (port === want) out.push(`b${i}`);
  }
  return out;
}

async function once(c: RedisCluster, masters: number[], spread: boolean, run: number, replicas: number) {
  const prefix = `bench${run}${spread ? 's' : 'o'}${replicas}`;
  const queues = await names(c, prefix, spread, masters);
  const q = setup({ redis: { cluster: c.startupNodes }, prefix, replicas });
  q.register('Noop', Noop);
  for (let i = 0; i < N; i += 1000) {
    await q.bulk(Array.from({ length: Math.min(1000, N - i) }, (_x, j) => [Noop, 'run', { args: [i + j], queue: queues[(i + j) % queues.length] }] as [object, string, object]));
  }
  const before = await Promise.all(masters.map(cpuOf));
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let done = 0;
  const finished = new Promise<void>((res) => {
    for (let w = 0; w < WORKERS; w++) {
      const wk = q.worker({ queues, concurrency: CONCURRENCY, name: `b${w}` });
      wk.on('task', () => { if (++done === N) res(); });
      void wk.start();
    }
  });
  await finished;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const after = await Promise.all(masters.map(cpuOf));
  await q.close();
  const perTask = masters.map((_m, i) => ((after[i] - before[i]) * 1e6) / N);
  return { rate: N / secs, perTask, nodeUs: ((cpu.user + cpu.system) / N) };
}

(async () => {
  const c = await RedisCluster.start();
  try {
    const masters = (await c.topology()).filter((n) => n.master && n.slots.length).map((n) => n.port);
    const rows: string[] = [];
    const cases: [boolean, number][] = [[false, 0], [true, 0]];
    if (argv.replicas !== false) cases.push([true, 1]);
    for (const [spread, replicas] of cases) {
      const rs = [];
      for (let r = 0; r < RUNS; r++) rs.push(await once(c, masters, spread, r, replicas));
      rs.sort((a, b) => a.rate - b.rate);
      const med = rs[Math.floor(rs.length / 2)];
      rows.push(`| ${QUEUES} queues ${spread ? 'spread over 3 masters' : 'on 1 master'}${replicas ? ', replicas: 1' : ''} | ${Math.round(med.rate)} | ${med.perTask.map((x) => x.toFixed(1)).join(' / ')} | ${med.perTask.reduce((a, b) => a + b, 0).toFixed(1)} | ${med.nodeUs.toFixed(1)} |`);
    }
    console.log(`N=${N} no-op tasks, ${WORKERS} workers x concurrency ${CONCURRENCY} in one Node process, median of ${RUNS} runs\n`);
    console.log('| placement | tasks/s | Redis CPU us/task on each master | Redis CPU us/task, all | Node CPU us/task |');
    console.log('|---|---|---|---|---|');
    for (const r of rows) console.log(r);
  } finally { c.stop(); }
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
