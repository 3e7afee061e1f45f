// Hand-off: an idle worker registers in each queue's `idlers` zset right before it blocks, and
// blocks on its own handoff key as well as the marker. An enqueue that finds it there claims the
// first due task for it in the same script (lib/lua/enqueue.lua, include/handoff.lua) and puts it
// in that key, so the worker starts it straight from its BZPOPMIN's answer: one round trip less
// than waking on the marker and then claiming. A claim of its own takes it out of `idlers` again
// (claim.lua's idler ARGV); idle-leave.lua does at stop.
import { parseClaimReply, CLAIM_STRIDE, type Claimed } from '../claim-reply';

/** The worker's `idlers` member: what enqueue.lua needs to claim for it ("leaseMs:metricsFlag:worker"). */
export const idlerMember = (leaseMs: number, metricsFlag: string, worker: string): string => `${Math.round(leaseMs)}:${metricsFlag}:${worker}`;

/** A handed task (one string: each claim-reply value of the task as "<length>:<bytes>") as claim.lua would reply it. */
export function parseHanded(queue: string, framed: Buffer): Claimed | null {
  const values: Buffer[] = [];
  let pos = 0;
  while (pos < framed.length) {
    const colon = framed.indexOf(0x3a, pos);
    if (colon < 0) break;
    const n = Number(framed.toString('latin1', pos, colon));
    values.push(framed.subarray(colon + 1, colon + 1 + n));
    pos = colon + 1 + n;
  }
  // ('stop': idle-leave.lua ending the wait.)
  return values.length === CLAIM_STRIDE ? parseClaimReply(queue, ['', '1', '', ...values]).tasks[0] : null;
}
