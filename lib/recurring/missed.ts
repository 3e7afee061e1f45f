// Which ticks a scheduler stores when a schedule's stored next tick `from` has come (the tick
// itself and any later ones up to now). A tick that passed before the scheduler started is
// missed: no scheduler ran then (had one run, it would have advanced the schedule past it), and
// the schedule's `missed` decides: 'skip' none, 'latest' the newest once, 'all' each. Ticks that
// passed while it ran (it was late: a busy event loop, a slow round trip) all run. At most 1,000
// ticks, the newest.
import type { Pattern } from './pattern';
import { Missed, MAX_MISSED } from './definition';

export function dueTicks(cron: Pattern, missed: Missed, from: number, startedAt: number, now: number): number[] {
  let before: number[] = [];
  if (from < startedAt) {
    if (missed === 'latest') before = cron.previous(1, startedAt - 1).filter((t) => t >= from);
    else if (missed === 'all') before = between(cron, from, startedAt - 1);
  }
  return [...before, ...between(cron, Math.max(from, startedAt), now)].slice(-MAX_MISSED);
}

/** Ticks from <= t <= to, oldest first, the newest MAX_MISSED. */
function between(cron: Pattern, from: number, to: number): number[] {
  const out: number[] = [];
  // Forward from `from` (usually a tick or two); past MAX_MISSED, back from `to` instead.
  for (let t = cron.next(from - 1); t !== null && t <= to; t = cron.next(t)) {
    if (out.push(t) > MAX_MISSED) return cron.previous(MAX_MISSED, to).filter((x) => x >= from).reverse();
  }
  return out;
}
