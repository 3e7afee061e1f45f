// lib/codec.ts without servers: what round-trips through msgpack, and what is refused by name.
import { strict as assert } from 'assert';
import { encode, decode, encodeArgs, encodeError, decodeError, backtrace } from '../lib/codec';

describe('codec (msgpack for args, results and errors)', () => {
  it('round-trips plain data, Dates, Buffers, BigInt, Maps, Sets and nested mixes', () => {
    const v = { n: 1, f: 1.5, s: 'é✓', b: true, nil: null, d: new Date(1700000000123), buf: Buffer.from([0, 255]),
      big: 2n ** 70n, m: new Map<unknown, unknown>([['a', 1], [2, new Set([3])]]), arr: [[], {}, [1, [2]]] };
    const back = decode(encode(v)) as typeof v;
    assert.equal(back.n, 1); assert.equal(back.f, 1.5); assert.equal(back.s, 'é✓'); assert.equal(back.nil, null);
    assert.equal(back.d.getTime(), v.d.getTime());
    assert.deepEqual(Buffer.from(back.buf as unknown as Uint8Array), v.buf);
    assert.equal(back.big, 2n ** 70n);
    assert.ok(back.m instanceof Map);
    assert.ok((back.m.get(2) as Set<number>).has(3));
    assert.deepEqual(back.arr, [[], {}, [1, [2]]]);
  });

  it('drops undefined object values and keeps class instances by their toJSON', () => {
    class Money { constructor(readonly cents: number) {} toJSON() { return { cents: this.cents, currency: 'EUR' }; } }
    assert.deepEqual(decode(encode({ a: undefined, m: new Money(5) })), { m: { cents: 5, currency: 'EUR' } });
  });

  it('refuses what cannot round-trip, naming the path', () => {
    const cyc: Record<string, unknown> = {};
    cyc.self = cyc;
    assert.throws(() => encode({ a: [1, () => 1] }, 'args'), /args\.a\[1\] is a function/);
    assert.throws(() => encode({ s: Symbol('x') }, 'result'), /result\.s is a symbol/);
    assert.throws(() => encode(cyc, 'args'), /args\.self is a circular reference/);
  });

  it('stores no args as null and refuses args that are not an array', () => {
    assert.equal(encodeArgs(undefined), null);
    assert.equal(encodeArgs([]), null);
    assert.deepEqual(decode(encodeArgs([1, 'x']) as Buffer), [1, 'x']);
    assert.throws(() => encodeArgs('x'), /args must be an array \(got string\)/);
  });

  it('keeps an error\'s name, message, stack and own properties, with its backtrace', () => {
    const e = Object.assign(new RangeError('too far'), { code: 'E_FAR', detail: { km: 3 } });
    const back = decodeError(encodeError(e)) as Error & { code: string; detail: { km: number }; backtrace: string[] };
    assert.equal(back.name, 'RangeError');
    assert.equal(back.message, 'too far');
    assert.equal(back.code, 'E_FAR');
    assert.deepEqual(back.detail, { km: 3 });
    assert.equal(back.stack, e.stack);
    assert.ok(back.backtrace.length > 0 && back.backtrace.every((l) => l.startsWith('at ')));
  });

  it('stores a thrown non-Error as an Error saying what was thrown', () => {
    assert.equal(decodeError(encodeError({ oops: 1 })).message, 'non-Error thrown: {"oops":1}');
    assert.deepEqual(backtrace(undefined), []);
  });
});
