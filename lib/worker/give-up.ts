// Attempts a worker gives up without an outcome: those whose lease went to another worker (their
// methods are told to stop) and, at stop, every attempt it still holds (back to the queue).
import type { Claimed } from '../claim-reply';
import type { LeaseLostError } from '../errors';
import { abortTask } from '../perform';
import type { ScriptHost } from './host';
import { releaseArgs } from './prefetch';

/**
 * Another worker holds these attempts now: methods that take a signal are told to stop. They keep
 * their slot until they return (so no more than `concurrency` run here); returns them, not to be renewed.
 */
export function abortLost(performing: Iterable<Claimed>, e: LeaseLostError): Claimed[] {
  const ids = new Set(e.ids);
  const out: Claimed[] = [];
  for (const t of performing) {
    if (t.queue !== e.queue || !ids.has(t.id)) continue;
    out.push(t);
    abortTask(t, e);
  }
  return out;
}

/**
 * At stop: every attempt still held goes back to the queue (release.lua), ahead of later tasks; the
 * performing ones are aborted. `started`: performing (their rate starts stay counted); `prefetched`: never started.
 */
export async function releaseAll(host: ScriptHost, worker: string, performing: Map<string, Claimed>, started: Claimed[], prefetched: Claimed[]): Promise<void> {
  if (started.length + prefetched.length === 0) return;
  const handedBack = new Error(`worker ${worker} stopped: the task was handed back to the queue`);
  for (const t of performing.values()) abortTask(t, handedBack);
  performing.clear();
  const of = (ts: Claimed[], q: string) => ts.filter((t) => t.queue === q);
  for (const q of new Set([...started, ...prefetched].map((t) => t.queue))) await host.script('release', q, releaseArgs(of(started, q), of(prefetched, q)));
}
