// lib/backoff.ts without servers: the stored form and the delays it gives.
import { strict as assert } from 'assert';
import { encodeBackoff, backoffDelay } from '../lib/backoff';

describe('backoff', () => {
  it('stores { type, delay, jitter } as "type:delay:jitter"', () => {
    assert.equal(encodeBackoff({ type: 'fixed', delay: 250 }), 'fixed:250:0');
    assert.equal(encodeBackoff({ type: 'exponential', delay: 100, jitter: 0.5 }), 'exponential:100:0.5');
  });

  it('refuses a bad backoff, naming what is wrong', () => {
    assert.throws(() => encodeBackoff({ type: 'linear', delay: 1 }), /backoff must be \{ type: 'fixed' \| 'exponential'/);
    assert.throws(() => encodeBackoff({ type: 'fixed', delay: -1 }), /backoff\.delay must be a number of ms >= 0 \(got -1\)/);
    assert.throws(() => encodeBackoff({ type: 'fixed', delay: 1, jitter: 2 }), /backoff\.jitter must be from 0 to 1 \(got 2\)/);
    assert.throws(() => encodeBackoff(null), /backoff must be/);
  });

  it('fixed waits the same each time; exponential doubles from the first failure', () => {
    assert.deepEqual([1, 2, 3].map((n) => backoffDelay('fixed:300:0', n)), [300, 300, 300]);
    assert.deepEqual([1, 2, 3, 4].map((n) => backoffDelay('exponential:100:0', n)), [100, 200, 400, 800]);
  });

  it('spreads a delay by at most ±jitter of itself', () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay('fixed:1000:0.25', 1);
      assert.ok(d >= 750 && d <= 1250, String(d));
    }
  });
});
