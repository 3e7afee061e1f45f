// Processing throughput of no-op jobs at concurrency 1 and 50, the worker in the bench's process
// or in a second one (scripts/bench/worker.ts, so it pays no producer CPU), and ours with
// prefetch turned off (one task per round trip, as the peers fetch): what 'auto' adds.
import { fork, ChildProcess } from 'child_process';
import { join } from 'path';
import { ADAPTERS, LIBS, LibName, Ctx, timeProcessing } from '../libs';
import type { BenchCase, BenchEnv } from '../env';

let child: ChildProcess | null = null;

async function startChild(): Promise<ChildProcess> {
  const c = fork(join(__dirname, '..', 'worker.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((res, rej) => { c.once('message', () => res()); c.once('exit', (code) => rej(new Error(`bench worker exited (${code})`))); });
  return c;
}

async function inChild(lib: LibName, ctx: Ctx, concurrency: number, n: number): Promise<number> {
  child ??= await startChild();
  const c = child;
  return new Promise<number>((res, rej) => {
    c.once('message', (m: { ok: boolean; ms: number; error?: string }) => (m.ok ? res(m.ms) : rej(new Error(m.error))));
    c.send({ cmd: 'process', lib, ctx, concurrency, n });
  });
}

function processCase(id: string, label: string, conc: number, second: boolean, libs: LibName[], extra: Partial<Ctx> = {}): BenchCase {
  return {
    id,
    async run(env: BenchEnv) {
      const c = env.add({ id, label, unit: 'jobs/s', better: 'higher', runs: {} });
      // --quick: concurrency 1 is the slow case, a third of N keeps the run near 30 s.
      const n = env.quick && conc === 1 ? Math.max(1, Math.round(env.N / 3)) : env.N;
      await env.perLib(c, libs, async (lib) => {
        const ctx = env.ctxFor(extra);
        const p = await ADAPTERS[lib].producer(ctx);
        await p.bulk(n, 1000);
        await p.close();
        const ms = second ? await inChild(lib, ctx, conc, n) : await timeProcessing(lib, ctx, conc, n);
        return n / (ms / 1000);
      });
    },
  };
}

const c1 = processCase('process-c1', 'process, concurrency 1', 1, false, LIBS);
c1.targets = (k) => k.vs('process c=1', 'process-c1', 'bullmq', 2);
const c50 = processCase('process-c50', 'process, concurrency 50', 50, false, LIBS);
c50.targets = (k) => { k.vs('process c=50', 'process-c50', 'bullmq', 1.5); k.vs('process c=50', 'process-c50', 'bee', 1.2); };
const c1child = processCase('process-c1-child', 'process, concurrency 1, worker in 2nd process', 1, true, LIBS);
c1child.targets = (k) => k.vs('process c=1, worker in 2nd process', 'process-c1-child', 'bullmq', 2);
const c50child = processCase('process-c50-child', 'process, concurrency 50, worker in 2nd process', 50, true, LIBS);
c50child.targets = (k) => {
  k.vs('process c=50, worker in 2nd process', 'process-c50-child', 'bullmq', 1.5);
  k.vs('process c=50, worker in 2nd process', 'process-c50-child', 'bee', 1.2);
};

export const processCases: BenchCase[] = [c1, c50, c1child, c50child,
  processCase('process-c1-noprefetch', 'process, concurrency 1, prefetch: 0 (ours, turned off)', 1, false, ['ours'], { prefetch: 0 }),
  processCase('process-c1-noprefetch-child', 'process, concurrency 1, prefetch: 0 (ours, turned off), worker in 2nd process', 1, true, ['ours'], { prefetch: 0 }),
];

/** Ends the second process, if one was started. */
export function closeChild(): void {
  if (!child) return;
  child.send({ cmd: 'exit' });
  child.disconnect();
  child = null;
}
