// Retry backoff: checked at enqueue, stored in the task hash as "type:delay:jitter", and turned
// into the wait before the next attempt when an attempt fails.
import type { BackoffOptions } from '../types';

/** Checks a backoff option and gives its stored form, "type:delay:jitter". */
export function encodeBackoff(b: unknown): string {
  const o = b as BackoffOptions;
  if (typeof o !== 'object' || o === null || (o.type !== 'fixed' && o.type !== 'exponential')) {
    throw new TypeError(`backoff must be { type: 'fixed' | 'exponential', delay, jitter? } (got ${JSON.stringify(b)})`);
  }
  if (typeof o.delay !== 'number' || !(o.delay >= 0) || !Number.isFinite(o.delay)) throw new RangeError(`backoff.delay must be a number of ms >= 0 (got ${String(o.delay)})`);
  if (o.jitter !== undefined && (typeof o.jitter !== 'number' || !(o.jitter >= 0 && o.jitter <= 1))) throw new RangeError(`backoff.jitter must be from 0 to 1 (got ${String(o.jitter)})`);
  return `${o.type}:${o.delay}:${o.jitter ?? 0}`;
}


/** Delay before attempt `failures + 1`, from a stored "type:delay:jitter". */
export function backoffDelay(backoff: string, failures: number): number {
  const [type, d, j] = backoff.split(':');
  const delay = Number(d) || 0;
  const base = type === 'exponential' ? delay * 2 ** Math.max(0, failures - 1) : delay;
  const jitter = Number(j) || 0;
  return Math.max(0, Math.round(base * (1 + jitter * (Math.random() * 2 - 1))));
}
