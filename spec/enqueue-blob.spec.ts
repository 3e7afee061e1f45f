// lib/enqueue/blob.ts without servers: the one-Buffer argument enqueue.lua reads with
// struct.unpack holds exactly the fields the per-field layout (ioredis-mock) sends.
import { strict as assert } from 'assert';
import { enqueueArgs } from '../lib/enqueue/blob';
import { buildSpec } from '../lib/enqueue/options';

/** Reads the blob as enqueue.lua's '<Bc0I4c0I4c0I4c0I4c0Bc0Bc0B' then n pairs of 'Bc0I4c0' do. */
function readBlob(buf: Buffer, count: number): string[][] {
  let pos = 0;
  const b1 = () => { const n = buf[pos]; const s = buf.subarray(pos + 1, pos + 1 + n); pos += 1 + n; return s; };
  const b4 = () => { const n = buf.readUInt32LE(pos); const s = buf.subarray(pos + 4, pos + 4 + n); pos += 4 + n; return s; };
  const out: string[][] = [];
  for (let i = 0; i < count; i++) {
    const fields = [b1(), b4(), b4(), b4(), b4(), b1(), b1()].map((x) => x.toString('latin1'));
    const n = buf[pos++];
    fields.push(String(n));
    for (let j = 0; j < n; j++) fields.push(b1().toString('latin1'), b4().toString('latin1'));
    out.push(fields);
  }
  assert.equal(pos, buf.length, 'no bytes left over');
  return out;
}

describe('enqueue argument (blob layout)', () => {
  const specs = [
    buildSpec('Order', '42', 'sendMail', { args: ['hi', 1] }, 10),
    buildSpec('Newsletter', null, 'deliverAll', { priority: -2147483648, scheduledAt: 0, attempts: 3, backoff: { type: 'fixed', delay: 5 }, timeout: 900 }, 10),
    buildSpec('Ünïcode✓', 'id-ü', 'x', { args: [Buffer.alloc(300, 7)], priority: 2147483647, scheduledAt: 8.64e15 }, 10),
  ];
  const ids = [1, 9007199254740991, 123456];

  it('holds the same fields, in the same order, as the per-field layout', () => {
    const [count, layout, blob] = enqueueArgs(specs, ids);
    assert.equal(count, '3');
    assert.equal(layout, 'blob');
    const list = enqueueArgs(specs, ids, true);
    assert.deepEqual(list.slice(0, 2), ['3', 'list']);
    const flat = list.slice(2).map((x) => (Buffer.isBuffer(x) ? x.toString('latin1') : Buffer.from(x, 'utf8').toString('latin1')));
    assert.deepEqual(readBlob(blob as Buffer, 3).flat(), flat);
  });

  it('writes integers as their decimal text, negative and up to 2^53', () => {
    const fields = readBlob(enqueueArgs(specs, ids)[2] as Buffer, 3);
    assert.equal(fields[1][0], '9007199254740991');
    assert.equal(fields[1][5], '-2147483648');
    assert.equal(fields[2][5], '2147483647');
    assert.equal(fields[2][6], '8640000000000000');
    assert.deepEqual(fields[1].slice(8), ['max_attempts', '3', 'backoff', 'fixed:5:0', 'timeout', '900']);
  });
});
