// Cron patterns and their ticks, by croner (not by hand): 5 fields (minutes), 6 (with seconds
// first), or an `@hourly`-style name, in an IANA time zone (default UTC).
//
// Daylight saving time follows croner's rule (Vixie cron's, as croner-rust):
// - a fixed-time pattern (one value each in seconds, minutes and hours, e.g. `30 2 * * *`):
//   a wall time that does not exist (spring forward) runs at the first valid time after the gap,
//   the same day; a wall time that occurs twice (fall back) runs once, at its first occurrence.
// - an interval pattern (a wildcard, step, range or list in those fields, e.g. `*/30 * * * *`):
//   times in the gap are skipped; a repeated time runs on both occurrences.
import { Cron } from 'croner';

const NAMES = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

export interface Pattern {
  readonly pattern: string;
  readonly tz: string;
  /** The first tick strictly after `afterMs` (ms), or null when the pattern has no more ticks. */
  next(afterMs: number): number | null;
  /** Up to `n` ticks t <= `atMs`, newest first. */
  previous(n: number, atMs: number): number[];
}

// Zones found valid: building an Intl.DateTimeFormat to check one costs about 0.1 ms, once per
// schedule at every() and at each scheduler's load otherwise.
const validZones = new Set<string>(['UTC']);

/** Throws a TypeError naming what was wrong with the zone. */
export function checkZone(tz: unknown): string {
  if (typeof tz !== 'string' || tz === '') throw new TypeError(`tz must be an IANA time zone name like 'Europe/Berlin' (got ${JSON.stringify(tz)})`);
  if (validZones.has(tz)) return tz;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new RangeError(`unknown time zone '${tz}' (give an IANA name like 'Europe/Berlin' or 'UTC')`);
  }
  validZones.add(tz);
  return tz;
}

/** Parses a pattern (checked: 5 or 6 fields or a known @name) in a zone; errors name what was wrong. */
export function parsePattern(pattern: unknown, tz: unknown = 'UTC'): Pattern {
  const zone = checkZone(tz);
  if (typeof pattern !== 'string' || pattern.trim() === '') throw new TypeError(`pattern must be a cron pattern string like '0 9 * * MON' (got ${JSON.stringify(pattern)})`);
  const p = pattern.trim();
  if (p.startsWith('@') && !NAMES.has(p.toLowerCase())) {
    throw new TypeError(`invalid pattern '${p}': unknown name (known: ${[...NAMES].join(', ')})`);
  }
  if (!p.startsWith('@')) {
    const n = p.split(/\s+/).length;
    if (n !== 5 && n !== 6) throw new TypeError(`invalid pattern '${p}': it has ${n} fields; give 5 (minute hour day month weekday) or 6 (second first)`);
  }
  let cron: Cron;
  try {
    // UTC as a fixed offset: croner then computes with plain Date.UTC arithmetic instead of
    // Intl.DateTimeFormat (about 20x cheaper per tick), and UTC has no gap or repeat to resolve.
    cron = new Cron(p, { ...(zone === 'UTC' ? { utcOffset: 0 } : { timezone: zone }), paused: true, mode: '5-or-6-parts' });
  } catch (e) {
    throw new TypeError(`invalid pattern '${p}': ${(e as Error).message.replace(/^CronPattern: /, '')}`);
  }
  return {
    pattern: p,
    tz: zone,
    next(afterMs: number): number | null {
      // croner returns the first run after the given instant (never the instant itself).
      const d = cron.nextRun(new Date(afterMs));
      return d ? d.getTime() : null;
    },
    previous(n: number, atMs: number): number[] {
      // previousRuns(ref) gives runs strictly before ref, whole seconds: ref + 1 ms includes atMs.
      return n <= 0 ? [] : cron.previousRuns(n, new Date(atMs + 1)).map((d) => d.getTime()).filter((t) => t <= atMs);
    },
  };
}

/**
 * `p` with next() remembered: next(x) = o means no tick lies in (x, o), so next(y) = o for every
 * y in [x, o). A scheduler asks next(tick - 1), next(tick) and next(now) around each tick: with
 * the last few such spans kept, croner computes each tick once.
 */
export function remembering(p: Pattern, keep = 4): Pattern {
  const spans: { from: number; to: number | null }[] = [];
  return {
    pattern: p.pattern,
    tz: p.tz,
    next(afterMs: number): number | null {
      for (const s of spans) if (afterMs >= s.from && (s.to === null || afterMs < s.to)) return s.to;
      const to = p.next(afterMs);
      if (spans.unshift({ from: afterMs, to }) > keep) spans.pop();
      return to;
    },
    previous: (n, atMs) => p.previous(n, atMs),
  };
}

/** Ticks t with from < t <= to, oldest first; only the newest `max` when there are more. */
export function ticksBetween(p: Pattern, fromMs: number, toMs: number, max: number): number[] {
  return p.previous(max, toMs).filter((t) => t > fromMs).reverse();
}
