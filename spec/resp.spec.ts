// The hot-path script calls (lib/resp.ts) are written as bytes encoded beforehand: they must be the
// bytes ioredis's own Command would write for the same arguments, and the reply must come back
// through ioredis as usual (strings, or Buffers when asked).
import { strict as assert } from 'assert';
import Redis, { Command } from 'ioredis';
import { respHead, encodedCommand } from '../lib/resp';
import { REDIS_URL } from './helpers';

type Arg = string | number | Buffer;
const ioredisBytes = (name: string, args: Arg[]) => {
  const w = new Command(name, args).toWritable(null as never);
  return Buffer.isBuffer(w) ? w : Buffer.from(w);
};

describe('encoded script calls (lib/resp.ts)', () => {
  it("writes the bytes ioredis's Command writes: ASCII, UTF-8, long strings, numbers, Buffers, empty ones", () => {
    const head: Arg[] = ['a'.repeat(40), 3, '{p:q}:levels', '{p:日本}:x', 'k'];
    const cases: Arg[][] = [
      [],
      ['{p:q}:', 1733212345678, '1', 0, '', Buffer.alloc(0)],
      ['é', '日本語のキー', '😀'.repeat(30), 'x'.repeat(65), 'y'.repeat(64), -12, 3.5],
      [Buffer.from([0, 13, 10, 255]), Buffer.alloc(70000, 7), 'ü'.repeat(100)],
    ];
    for (const argv of cases) {
      const ours = encodedCommand('evalsha', respHead('evalsha', head), argv).toWritable(null as never) as Buffer;
      assert.ok(ours.equals(ioredisBytes('evalsha', [...head, ...argv])), `same bytes for ${argv.length} args`);
    }
  });

  it('goes through ioredis on real Redis: string replies, Buffer replies when asked, errors as errors', async () => {
    const r = new Redis(REDIS_URL);
    try {
      const head = respHead('eval', ["return {ARGV[1], ARGV[2], #ARGV[3]}", 0]);
      assert.deepEqual(await r.sendCommand(encodedCommand('eval', head, ['é', 7, Buffer.alloc(300, 1)], 'utf8')), ['é', '7', 300]);
      const bin = await r.sendCommand(encodedCommand('eval', respHead('eval', ['return ARGV[1]', 0]), [Buffer.from([255, 0, 1])])) as Buffer;
      assert.ok(Buffer.isBuffer(bin) && bin.equals(Buffer.from([255, 0, 1])));
      await assert.rejects(r.sendCommand(encodedCommand('evalsha', respHead('evalsha', ['0'.repeat(40), 0]), [])) as Promise<unknown>, /NOSCRIPT/);
    } finally { r.disconnect(); }
  });
});
