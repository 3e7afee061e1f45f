// What the mirror needs of a queue. Queue satisfies it; kept narrow so lib/mirror does not import queue.ts.
import type { EventEmitter } from 'events';
import type { Redis } from 'ioredis';
import type { Sequelize } from 'sequelize';
import type { QueueKeys } from '../keys';
import type { ScriptName } from '../scripts';

export interface MirrorHost extends EventEmitter {
  readonly redis: Redis;
  readonly prefix: string;
  readonly sequelize: Sequelize | undefined;
  readonly mirror: boolean;
  /** The history table (default async_tasks). */
  readonly table: string;
  /** On ioredis-mock (scripts take their tasks one ARGV per field). */
  readonly mock?: boolean;
  keys(queue: string): QueueKeys;
  script(name: ScriptName, queue: string, argv: (string | number | Buffer)[], binary?: boolean, client?: Redis): Promise<unknown>;
  queueNames(): Promise<string[]>;
  /** True while this process's workers have every slot taken: the mirror then gives way (bounded). */
  workersSaturated?(): boolean;
}

export function mirrorSequelize(host: Pick<MirrorHost, 'sequelize'>, what = 'mirror'): Sequelize {
  if (!host.sequelize) throw new TypeError(`${what}: the queue has no sequelize instance (setup({ sequelize }))`);
  return host.sequelize;
}

export const isMysql = (s: Sequelize) => s.getDialect() === 'mysql' || s.getDialect() === 'mariadb';
