// The tasks recurring schedules stored under a prefix, read straight from Redis.
import type Redis from 'ioredis';

export interface Stored { id: number; queue: string; recurrence: string; scheduledAt: number; createdAt: number; state: string; error: string }

export async function recurringTasks(redis: Redis, prefix: string, queue = 'default'): Promise<Stored[]> {
  const out: Stored[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}:${queue}}:t:*`, 'COUNT', 1000);
    for (const k of keys) {
      const [rec, at, created, state, error] = await redis.hmget(k, 'recurrence', 'scheduled_at', 'created_at', 'state', 'error');
      if (rec) out.push({ id: Number(k.split(':').pop()), queue, recurrence: rec, scheduledAt: Number(at), createdAt: Number(created), state: state ?? '', error: error ?? '' });
    }
    cursor = next;
  } while (cursor !== '0');
  return out.sort((a, b) => a.scheduledAt - b.scheduledAt || a.id - b.id);
}
