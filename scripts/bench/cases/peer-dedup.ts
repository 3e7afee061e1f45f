// Deduplicated enqueue against the peers, one by one with 100 in flight, no worker running: ours
// `unique: key`, BullMQ 6.7 `deduplication: { id: key }` (no ttl: held until the job ends),
// Bee-Queue a custom job id (`createJob().setId(key)`: an id already in its jobs hash is refused).
// Two variants: every key distinct (every enqueue stored) and 100 keys over all of them (all but
// the first of each refused). Each checks afterwards that exactly the distinct keys were stored.
import { ADAPTERS, LIBS } from '../libs';
import type { BenchCase, BenchEnv } from '../env';

const DUP_KEYS = 100;

async function dedup(env: BenchEnv, id: string, label: string, keys: number | null, note: string) {
  const c = env.add({ id, label, unit: 'jobs/s', better: 'higher', runs: {}, note });
  await env.perLib(c, LIBS, async (lib) => {
    const p = await ADAPTERS[lib].producer(env.ctxFor());
    const key = (tag: string) => (i: number) => `${tag}${keys === null ? i : i % keys}`;
    const warm = Math.min(env.N, 1000);
    await p.oneByOneKeyed(warm, 100, key('w')); // warm-up on keys of its own: scripts loaded, JIT warm
    const t0 = performance.now();
    const stored = await p.oneByOneKeyed(env.N, 100, key('k'));
    const v = env.N / ((performance.now() - t0) / 1000);
    await p.close();
    const want = keys === null ? env.N : Math.min(keys, env.N);
    if (stored !== want) throw new Error(`${id} ${lib}: ${stored} stored, ${want} distinct keys`);
    return v;
  });
}

export const peerDedupCase: BenchCase = {
  id: 'peer-dedup',
  async run(env) {
    const how = 'ours `unique: key`, BullMQ `deduplication: { id }`, Bee-Queue a custom job id (`setId`), 100 in flight, no worker';
    await dedup(env, 'peer-dedup-distinct', 'deduplicated enqueue, every key distinct', null,
      `${how}; every enqueue is stored (what the check costs when it finds nothing)`);
    await dedup(env, 'peer-dedup-dups', `deduplicated enqueue, ${DUP_KEYS} keys (mostly duplicates)`, DUP_KEYS,
      `${how}; ${DUP_KEYS} distinct keys over N enqueues, so all but ${DUP_KEYS} are refused as duplicates (each returns the task already there)`);
  },
  targets(k) {
    k.vs('deduplicated enqueue, keys distinct', 'peer-dedup-distinct', 'bullmq', 1);
    k.vs('deduplicated enqueue, mostly duplicates', 'peer-dedup-dups', 'bullmq', 1);
  },
};
