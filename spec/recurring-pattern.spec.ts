// lib/recurring without servers: patterns and their ticks (croner), the DST rule, missed ticks,
// and every()'s option checks. Fixed instants only.
import { strict as assert } from 'assert';
import { parsePattern, ticksBetween, remembering } from '../lib/recurring/pattern';
import { dueTicks } from '../lib/recurring/missed';
import { buildDefinition } from '../lib/recurring/options';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

describe('recurring patterns', () => {
  it('5 fields tick on minutes, 6 fields on seconds, in UTC by default', () => {
    assert.equal(iso(parsePattern('0 9 * * MON').next(at('2026-12-03T12:00:00Z'))), '2026-12-07T09:00:00.000Z');
    assert.equal(iso(parsePattern('*/15 * * * * *').next(at('2026-12-03T12:00:07.500Z'))), '2026-12-03T12:00:15.000Z');
    // The next tick is strictly after the instant given.
    assert.equal(iso(parsePattern('* * * * * *').next(at('2026-12-03T12:00:07.000Z'))), '2026-12-03T12:00:08.000Z');
  });

  it('knows the @names', () => {
    const from = at('2026-12-03T12:34:00Z');
    assert.equal(iso(parsePattern('@hourly').next(from)), '2026-12-03T13:00:00.000Z');
    assert.equal(iso(parsePattern('@daily').next(from)), '2026-12-04T00:00:00.000Z');
    assert.equal(iso(parsePattern('@weekly').next(from)), '2026-12-06T00:00:00.000Z');
    assert.equal(iso(parsePattern('@monthly').next(from)), '2027-01-01T00:00:00.000Z');
    assert.equal(iso(parsePattern('@yearly').next(from)), '2027-01-01T00:00:00.000Z');
  });

  it('reads the pattern in its time zone', () => {
    // 09:00 in Berlin is 08:00 UTC in winter (CET), 07:00 UTC in summer (CEST).
    assert.equal(iso(parsePattern('0 9 * * *', 'Europe/Berlin').next(at('2026-12-03T12:00:00Z'))), '2026-12-04T08:00:00.000Z');
    assert.equal(iso(parsePattern('0 9 * * *', 'Europe/Berlin').next(at('2026-07-01T12:00:00Z'))), '2026-07-02T07:00:00.000Z');
  });

  it('refuses a bad pattern or zone, naming what was wrong', () => {
    assert.throws(() => parsePattern('* * * *'), /invalid pattern '\* \* \* \*': it has 4 fields; give 5 .* or 6/);
    assert.throws(() => parsePattern('1 2 3 4 5 6 7'), /it has 7 fields/);
    assert.throws(() => parsePattern('61 * * * *'), /invalid pattern '61 \* \* \* \*': .*minute: 61/);
    assert.throws(() => parsePattern('@fortnightly'), /invalid pattern '@fortnightly': unknown name/);
    assert.throws(() => parsePattern(''), /pattern must be a cron pattern string/);
    assert.throws(() => parsePattern(42), /pattern must be a cron pattern string .*got 42/);
    assert.throws(() => parsePattern('* * * * *', 'Mars/Olympus'), /unknown time zone 'Mars\/Olympus'/);
    assert.throws(() => parsePattern('* * * * *', ''), /tz must be an IANA time zone name/);
  });

  // The rule (croner's, Vixie cron's): a fixed time that does not exist runs at the first valid time
  // after the gap, the same day; a fixed time that occurs twice runs once, at its first occurrence.
  // An interval pattern skips the gap and runs on both occurrences of a repeated time.
  describe('daylight saving time, Europe/Berlin (2026: spring forward 29 March 02:00 -> 03:00, fall back 25 October 03:00 -> 02:00)', () => {
    const berlin = (p: string) => parsePattern(p, 'Europe/Berlin');

    it('02:30 on the spring-forward day (it does not exist) runs once, at 03:00 CEST', () => {
      const p = berlin('30 2 * * *');
      const t = p.next(at('2026-03-28T12:00:00Z'));
      assert.equal(iso(t), '2026-03-29T01:00:00.000Z'); // 03:00 CEST
      assert.equal(iso(p.next(t as number)), '2026-03-30T00:30:00.000Z'); // next day 02:30 CEST
    });

    it('02:30 on the fall-back day (it occurs twice) runs once, at its first occurrence (CEST)', () => {
      const p = berlin('30 2 * * *');
      const t = p.next(at('2026-10-24T12:00:00Z'));
      assert.equal(iso(t), '2026-10-25T00:30:00.000Z'); // 02:30 CEST
      assert.equal(iso(p.next(t as number)), '2026-10-26T01:30:00.000Z'); // not 01:30Z the same day (02:30 CET)
    });

    it('an interval pattern skips the missing hour and runs through the repeated one twice', () => {
      const p = berlin('*/30 * * * *');
      assert.deepEqual(ticksBetween(p, at('2026-03-29T00:00:00Z'), at('2026-03-29T01:30:00Z'), 10).map(iso),
        ['2026-03-29T00:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-29T01:30:00.000Z']); // 01:30 CET, 03:00, 03:30 CEST
      assert.deepEqual(ticksBetween(p, at('2026-10-25T00:00:00Z'), at('2026-10-25T02:00:00Z'), 10).map(iso),
        ['2026-10-25T00:30:00.000Z', '2026-10-25T01:00:00.000Z', '2026-10-25T01:30:00.000Z', '2026-10-25T02:00:00.000Z']);
    });
  });

  it('ticksBetween gives the newest when there are more than asked', () => {
    const p = parsePattern('* * * * * *');
    assert.deepEqual(ticksBetween(p, at('2026-01-01T00:00:00Z'), at('2026-01-01T00:00:10Z'), 3).map(iso),
      ['2026-01-01T00:00:08.000Z', '2026-01-01T00:00:09.000Z', '2026-01-01T00:00:10.000Z']);
  });
});

describe('remembered ticks (remembering) and UTC', () => {
  const PATTERNS = ['* * * * * *', '*/15 * * * * *', '0 9 * * MON', '30 2 * * *', '*/30 * * * *', '@hourly', '0 0 29 2 *'];

  it('remembering() gives the same next ticks as the pattern, asked the way a scheduler asks and at random', () => {
    for (const tz of ['UTC', 'Europe/Berlin']) {
      for (const pat of PATTERNS) {
        const p = parsePattern(pat, tz);
        const r = remembering(p);
        // Around each tick, as the scheduler asks: tick - 1, tick, a little after; through both 2026 DST changes.
        for (const from of [at('2026-03-29T00:00:00Z'), at('2026-10-25T00:00:00Z'), at('2028-02-28T00:00:00Z')]) {
          let t = p.next(from);
          for (let i = 0; i < 50 && t !== null; i++) {
            for (const x of [t - 1, t, t + 3, t + 999]) assert.equal(r.next(x), p.next(x), `${pat} ${tz} next(${iso(x)})`);
            t = r.next(t);
          }
        }
        let x = at('2026-01-01T00:00:00Z');
        for (let i = 0; i < 300; i++) {
          x += Math.floor(((i * 7919) % 1000) / 1000 * 3 * 86400e3) + (i % 3) * 999;
          assert.equal(r.next(x), p.next(x), `${pat} ${tz} next(${iso(x)})`);
        }
      }
    }
  });

  it("'UTC' ticks as the IANA zone 'Etc/UTC' does (it is computed as a fixed offset)", () => {
    for (const pat of PATTERNS) {
      const u = parsePattern(pat, 'UTC'), e = parsePattern(pat, 'Etc/UTC');
      for (let i = 0, x = at('1999-12-31T23:59:58Z'); i < 200; i++, x += 7 * 86400e3 + 3601e3 + i) {
        assert.equal(u.next(x), e.next(x), `${pat}: next(${iso(x)})`);
        assert.deepEqual(u.previous(3, x), e.previous(3, x), `${pat}: previous(3, ${iso(x)})`);
      }
    }
  });
});

describe('missed ticks (dueTicks)', () => {
  const p = parsePattern('* * * * * *');
  const t0 = at('2026-01-01T00:00:00Z');
  const s = (n: number) => t0 + n * 1000;

  it('a scheduler that was running stores every tick it is late for, whatever missed says', () => {
    for (const m of ['skip', 'latest', 'all'] as const) {
      assert.deepEqual(dueTicks(p, m, s(10), s(0), s(12) + 300), [s(10), s(11), s(12)], m);
    }
  });

  it('ticks before the scheduler started: skip drops them, latest runs the newest, all runs each', () => {
    // Stored next tick 10 s, scheduler started at 15.5 s, now 16.2 s.
    assert.deepEqual(dueTicks(p, 'skip', s(10), s(15) + 500, s(16) + 200), [s(16)]);
    assert.deepEqual(dueTicks(p, 'latest', s(10), s(15) + 500, s(16) + 200), [s(15), s(16)]);
    assert.deepEqual(dueTicks(p, 'all', s(10), s(15) + 500, s(16) + 200), [s(10), s(11), s(12), s(13), s(14), s(15), s(16)]);
  });

  it("'all' runs at most 1,000 (the newest)", () => {
    const r = dueTicks(p, 'all', s(0), s(5000), s(5000));
    assert.equal(r.length, 1000);
    assert.equal(r[999], s(5000));
    assert.equal(r[0], s(4001));
  });
});

describe('every() options (buildDefinition)', () => {
  const d = { type: 'Newsletter', objectId: null };

  it('takes every async option plus name, tz, missed, overlap; stores a fixed-order definition', () => {
    const { def } = buildDefinition(d, '0 9 * * MON', 'deliverAll', { tz: 'Europe/Berlin', args: [1], priority: 3, queue: 'mail',
      attempts: 2, backoff: { type: 'fixed', delay: 10 }, timeout: 500, missed: 'all', overlap: false, name: 'weekly' });
    assert.deepEqual(Object.keys(def), ['name', 'pattern', 'tz', 'missed', 'overlap', 'queue', 'type', 'objectId', 'action', 'args', 'argsValue', 'priority', 'extra']);
    assert.equal(def.name, 'weekly');
    assert.equal(def.queue, 'mail');
    assert.equal(def.priority, 3);
    assert.deepEqual(def.extra, ['max_attempts', '2', 'backoff', 'fixed:10:0', 'timeout', '500']);
    assert.equal(def.missed, 'all');
    assert.equal(def.overlap, false);
  });

  it("defaults: name 'Type#action' ('Type(id)#action' for an instance), UTC, missed 'latest', overlap allowed", () => {
    const { def } = buildDefinition(d, '@daily', 'deliverAll', undefined);
    assert.equal(def.name, 'Newsletter#deliverAll');
    assert.equal(def.tz, 'UTC');
    assert.equal(def.missed, 'latest');
    assert.equal(def.overlap, true);
    assert.equal(buildDefinition({ type: 'Order', objectId: '42' }, '@daily', 'sync', {}).def.name, 'Order(42)#sync');
  });

  it('refuses unknown and bad options, naming them', () => {
    assert.throws(() => buildDefinition(d, '@daily', 'x', { color: 'red' } as never), /every: unknown option 'color'/);
    assert.throws(() => buildDefinition(d, '@daily', 'x', { scheduledAt: 5 } as never), /every: unknown option 'scheduledAt'/);
    assert.throws(() => buildDefinition(d, '@daily', 'x', { missed: 'some' } as never), /missed must be 'skip', 'latest', 'all'/);
    assert.throws(() => buildDefinition(d, '@daily', 'x', { overlap: 'no' } as never), /overlap must be true or false/);
    assert.throws(() => buildDefinition(d, '@daily', 'x', { priority: 1.5 }), /priority must be an integer/);
    assert.throws(() => buildDefinition(d, '@daily', 'x', { tz: 'Nowhere/City' }), /unknown time zone 'Nowhere\/City'/);
    assert.throws(() => buildDefinition(d, '99 * * * *', 'x', {}), /invalid pattern '99 \* \* \* \*'/);
    assert.throws(() => buildDefinition(d, '@daily', 'x', { name: '' }), /name must be a string of 1-200/);
  });
});
