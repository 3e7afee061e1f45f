// A hot-path script call (enqueue, claim, finish) written as one RESP buffer. ioredis's own Command
// copies the arguments, checks each and joins them piece by piece: about 9 µs per call warm and
// several times that cold, which is what an idle worker's pickup and every small call pay. Here the
// fixed start (EVALSHA, sha, keys) is encoded once per script and queue and the rest written
// straight into one buffer (about 2 µs); ioredis still matches the reply, queues the command while
// offline and resends it after a reconnect. Standalone Redis only: a Cluster picks a command's node
// from its arguments, which this command does not carry.
import { Command } from 'ioredis';

type Arg = string | number | Buffer;

/** The encoded start of an EVALSHA: `$7 evalsha`, the sha, the key count and the keys. */
export interface RespHead { bytes: Buffer; count: number }

export function respHead(name: string, fixed: Arg[]): RespHead {
  const parts: Buffer[] = [bulk(name)];
  for (const a of fixed) parts.push(bulk(a));
  return { bytes: Buffer.concat(parts), count: 1 + fixed.length };
}

function bulk(a: Arg): Buffer {
  const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a), 'utf8');
  return Buffer.concat([Buffer.from(`$${b.length}\r\n`, 'latin1'), b, Buffer.from('\r\n', 'latin1')]);
}

/** A Command that writes bytes encoded beforehand (toWritable is what ioredis writes to the socket). */
class EncodedCommand extends Command {
  constructor(name: string, private readonly bytes: Buffer, replyEncoding: BufferEncoding | undefined) {
    super(name, [], replyEncoding ? { replyEncoding } : {});
  }

  toWritable(): Buffer { return this.bytes; }
}

/** Writes `n` in decimal at `pos`; returns the next position. */
function putDecimal(buf: Buffer, pos: number, n: number): number {
  if (n < 10) { buf[pos] = 48 + n; return pos + 1; }
  return pos + buf.write(String(n), pos, 'latin1');
}

/** The whole command, `head` then `argv`, as one Command for sendCommand. */
export function encodedCommand(name: string, head: RespHead, argv: Arg[], replyEncoding?: BufferEncoding): Command {
  let size = 16 + head.bytes.length;
  const strs: (string | Buffer)[] = new Array(argv.length);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const s = typeof a === 'number' ? String(a) : a;
    strs[i] = s;
    // utf8 takes at most 3 bytes per UTF-16 unit; the length prefix and CRLFs at most 16.
    size += 16 + (typeof s === 'string' ? 3 * s.length : s.length);
  }
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 42; // '*'
  let pos = putDecimal(buf, 1, head.count + argv.length);
  buf[pos++] = 13; buf[pos++] = 10;
  pos += head.bytes.copy(buf, pos);
  for (const s of strs) {
    buf[pos++] = 36; // '$'
    if (typeof s === 'string') {
      // The length goes before the bytes: ASCII (the usual arguments: names, numbers) has one byte per
      // unit; anything else is measured first.
      const len = isAscii(s) ? s.length : Buffer.byteLength(s, 'utf8');
      pos = putDecimal(buf, pos, len);
      buf[pos++] = 13; buf[pos++] = 10;
      if (len === s.length && len <= 64) for (let j = 0; j < len; j++) buf[pos + j] = s.charCodeAt(j);
      else buf.write(s, pos, 'utf8');
      pos += len;
    } else {
      pos = putDecimal(buf, pos, s.length);
      buf[pos++] = 13; buf[pos++] = 10;
      pos += s.copy(buf, pos);
    }
    buf[pos++] = 13; buf[pos++] = 10;
  }
  return new EncodedCommand(name, buf.subarray(0, pos), replyEncoding);
}

function isAscii(s: string): boolean {
  for (let j = 0; j < s.length; j++) if (s.charCodeAt(j) >= 0x80) return false;
  return true;
}
