// Opens the Redis connections a queue needs: a URL, ioredis options, an ioredis instance
// (borrowed, never closed by us), or 'mock' for ioredis-mock in this process.
import Redis, { RedisOptions } from 'ioredis';

export interface Connection {
  client: Redis;
  mock: boolean;
  /** Whether close() should quit the client (false for an instance the user handed us). */
  owned: boolean;
}

// Blocking and worker connections must wait out a Redis restart instead of failing commands.
const DEFAULTS: RedisOptions = { maxRetriesPerRequest: null, enableAutoPipelining: true };

export function connect(spec: string | RedisOptions | Redis | undefined): Connection {
  if (spec === 'mock') {
    // ioredis-mock is an optional peer dependency (tests and demos only), so it may be absent.
    let RedisMock;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      RedisMock = require('ioredis-mock');
    } catch (e) {
      if ((e as { code?: string }).code !== 'MODULE_NOT_FOUND' || !String((e as Error).message).includes("'ioredis-mock'")) throw e;
      throw new Error("redis: 'mock' needs the ioredis-mock package, which is not installed: npm install --save-dev ioredis-mock@^8.13.1");
    }
    return { client: new RedisMock() as Redis, mock: true, owned: true };
  }
  if (spec instanceof Redis || isRedisLike(spec)) return { client: spec as Redis, mock: isMock(spec as Redis), owned: false };
  if (spec === undefined) spec = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  if (typeof spec === 'string') {
    if (!/^rediss?:\/\//.test(spec)) throw new TypeError(`redis must be a redis:// URL, ioredis options, an ioredis instance or 'mock' (got ${JSON.stringify(spec)})`);
    return { client: new Redis(spec, DEFAULTS), mock: false, owned: true };
  }
  if (typeof spec === 'object' && spec !== null) return { client: new Redis({ ...DEFAULTS, ...spec }), mock: false, owned: true };
  throw new TypeError(`redis must be a redis:// URL, ioredis options, an ioredis instance or 'mock' (got ${typeof spec})`);
}

function isRedisLike(x: unknown): boolean {
  return typeof x === 'object' && x !== null && typeof (x as Redis).defineCommand === 'function' && typeof (x as Redis).hgetall === 'function';
}

function isMock(c: Redis): boolean {
  return /RedisMock/.test(c.constructor?.name ?? '');
}

/** A second connection for blocking reads (BZPOPMIN holds the connection while it waits). */
export function duplicate(c: Redis): Redis {
  return c.duplicate({ ...DEFAULTS, enableAutoPipelining: false });
}
