// Pushes tasks through a queue with retention 0 and reports Redis memory before and after, for
// spec/reliability-memory.spec.ts (no mirror) and spec/faults/memory-mirror.spec.ts.
import { strict as assert } from 'assert';
import type Redis from 'ioredis';
import type { Queue } from '../../lib';
import type { Worker } from '../../lib/worker/worker';
import { until } from '../helpers';

const CHUNK = 1000;
export const Noop = { run(i: number) { return i; } };

export async function usedMemory(r: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await r.info('memory'))![1]);
}

/** Keys that stay (no TTL), minus lock keys that come and go. */
async function lastingKeys(r: Redis): Promise<string[]> {
  const keys = await r.keys('*');
  const ttl = await Promise.all(keys.map((k) => r.pttl(k)));
  return keys.filter((_k, i) => ttl[i] === -1).sort();
}

async function pushThrough(queue: Queue, w: Worker, n: number, r: Redis, peak: { bytes: number }): Promise<void> {
  const done0 = w.stats.done + w.stats.failed;
  for (let i = 0; i < n; i += CHUNK) {
    await Promise.all(Array.from({ length: Math.min(CHUNK, n - i) }, (_x, j) => queue.async(Noop, 'run', { args: [i + j] })));
    peak.bytes = Math.max(peak.bytes, await usedMemory(r));
  }
  await until(() => w.stats.done + w.stats.failed - done0 >= n, 90000, `${n} tasks to run`);
}

export interface MemoryFigures { tasks: number; before: number; after: number; peak: number; keysBefore: number; keysAfter: number }

/**
 * Warm-up (scripts loaded, lasting keys made), then `tasks` through one worker of concurrency
 * 50; waits until `settled` (every finished task dropped) and compares used_memory and keys.
 */
export async function measureMemory(queue: Queue, r: Redis, tasks: number, settled: () => Promise<boolean>): Promise<MemoryFigures> {
  queue.register('Noop', Noop);
  const w = queue.worker({ concurrency: 50 });
  await w.start();
  try {
    await pushThrough(queue, w, 500, r, { bytes: 0 });
    await until(settled, 60000, 'the warm-up to settle');
    const keysBefore = await lastingKeys(r);
    const before = await usedMemory(r);
    const peak = { bytes: before };
    await pushThrough(queue, w, tasks, r, peak);
    await until(settled, 90000, 'every finished task to be dropped');
    assert.equal(w.stats.failed, 0);
    const after = await usedMemory(r);
    const keysAfter = await lastingKeys(r);
    const f = { tasks, before, after, peak: peak.bytes, keysBefore: keysBefore.length, keysAfter: keysAfter.length };
    console.log(`      ${tasks} tasks: used_memory ${before} -> ${after} bytes (peak ${peak.bytes}), lasting keys ${keysBefore.length} -> ${keysAfter.length}`);
    assert.deepEqual(keysAfter, keysBefore, 'no key left behind');
    assert.equal((await r.keys(`${queue.internals.keys('default').base}t:*`)).length, 0, 'no task hash left');
    // Allocator noise only: a leak of 50,000 tasks would be megabytes (~200 bytes a task at least).
    assert.ok(after - before < 256 * 1024, `used_memory grew by ${after - before} bytes`);
    assert.ok(peak.bytes > before, 'the figure is live (it moved while tasks were queued)');
    return f;
  } finally {
    await w.stop();
  }
}
