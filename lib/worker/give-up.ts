// Attempts a worker gives up without an outcome: those whose lease went to another worker (their
// methods are told to stop) and, at stop, every attempt it still holds (back to the queue).
import { groupByQueue } from '../keys';
import type { Claimed } from '../claim-reply';
import type { LeaseLostError } from '../errors';
import { abortTask } from '../perform';
import type { ScriptHost } from './host';
import { leaseTokens } from './prefetch';

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

/** At stop: every attempt still held goes back to the queue (release.lua), ahead of later tasks; the performing ones are aborted. */
export async function releaseAll(host: ScriptHost, worker: string, performing: Map<string, Claimed>, held: Claimed[]): Promise<void> {
  if (held.length === 0) return;
  const handedBack = new Error(`worker ${worker} stopped: the task was handed back to the queue`);
  for (const t of performing.values()) abortTask(t, handedBack);
  performing.clear();
  for (const [q, ts] of groupByQueue(held, (t) => t.queue)) await host.script('release', q, leaseTokens(ts));
}
