// Redis memory per queued job (used_memory before and after N enqueues), plain and over 16
// priorities (Bee-Queue has none).
import { ADAPTERS, LIBS, LibName } from '../libs';
import type { BenchCase } from '../env';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const bytesCase: BenchCase = {
  id: 'bytes',
  async run(env) {
    const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await env.admin.info('memory'))![1]);
    const plain = env.add({ id: 'bytes', label: 'Redis bytes per queued job', unit: 'B', better: 'lower', runs: {} });
    const prio = env.add({ id: 'bytes-priority', label: 'Redis bytes per queued job, 16 priorities', unit: 'B', better: 'lower', runs: {},
      note: 'Bee-Queue has no priorities' });
    for (const [c, priorities, libs] of [[plain, false, LIBS], [prio, true, ['ours', 'bullmq'] as LibName[]]] as const) {
      await env.perLib(c, libs, async (lib) => {
        // Warm up on another prefix (loads the scripts into Redis), then measure on a fresh one.
        const w = await ADAPTERS[lib].producer(env.ctxFor());
        await w.bulk(10, 10);
        await w.close();
        await env.flush();
        const p = await ADAPTERS[lib].producer(env.ctxFor());
        await sleep(50);
        const before = await usedMemory();
        await p.bulk(env.N, 1000, { priorities });
        await sleep(50);
        const v = (await usedMemory() - before) / env.N;
        await p.close();
        return v;
      });
    }
  },
  targets(k) {
    const b = k.get('bytes', 'ours'), bb = k.get('bytes', 'bullmq');
    k.push({ what: 'Redis bytes per queued job', wanted: '≤ BullMQ', got: Number.isFinite(b / bb) ? `${b.toFixed(0)} B vs ${bb.toFixed(0)} B` : 'not measured', met: Number.isFinite(b / bb) ? b <= bb : null });
  },
};
