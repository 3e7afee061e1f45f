// Hand-off: an idle worker registers in each queue's `idlers` zset right before it blocks, and
// blocks on its own handoff key as well as the marker. An enqueue that finds it there claims the
// first due task for it in the same script (lib/lua/enqueue.lua, include/handoff.lua) and puts it
// in that key, so the worker starts it straight from its BZPOPMIN's answer: one round trip less
// than waking on the marker and then claiming. A claim of its own takes it out of `idlers` again
// (claim.lua's idler ARGV); idle-leave.lua does at stop.
import { claimedAt, CLAIM_STRIDE, ARGS_AT, type Claimed } from '../claim-reply';

/** The worker's `idlers` member: what enqueue.lua needs to claim for it ("leaseMs:metricsFlag:worker"). */
export const idlerMember = (leaseMs: number, metricsFlag: string, worker: string): string => `${Math.round(leaseMs)}:${metricsFlag}:${worker}`;

/** A handed task (one string: each claim-reply value of the task as "<length>:<bytes>") as claim.lua would reply it; null for anything else ('stop': idle-leave.lua ending the wait). */
export function parseHanded(queue: string, framed: Buffer): Claimed | null {
  // One pass, lengths read digit by digit: this runs between an enqueue and its task starting.
  const values: (Buffer | string)[] = new Array(CLAIM_STRIDE);
  let pos = 0, i = 0;
  for (; i < CLAIM_STRIDE && pos < framed.length; i++) {
    let n = 0, c = framed[pos++];
    for (; c !== 0x3a; c = framed[pos++]) {
      if (!(c >= 0x30 && c <= 0x39)) return null;
      n = n * 10 + c - 0x30;
    }
    values[i] = i === ARGS_AT ? framed.subarray(pos, pos + n) : framed.toString('utf8', pos, pos + n);
    pos += n;
  }
  return i === CLAIM_STRIDE && pos === framed.length ? claimedAt(queue, values, 0) : null;
}
