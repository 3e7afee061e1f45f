// What the worker's parts need of their queue, kept narrow so lib/worker/* never imports queue.ts.
import type { EventEmitter } from 'events';
import type { Redis } from 'ioredis';
import type { QueueKeys } from '../keys';
import type { ScriptName } from '../scripts';
import type { Registry } from '../registry';

/** Enough to run the queue's scripts and find its queues: the lease keeper, the prefetch hand-back, abandonWorker. */
export interface ScriptHost {
  readonly redis: Redis;
  /** The key prefix: `queuesKey(prefix)` lists every queue name it has seen. */
  readonly prefix: string;
  keys(queue: string): QueueKeys;
  /** Runs lib/lua/<name>.lua on a queue; the queue context (ARGV 1-4) is prepended. */
  script(name: ScriptName, queue: string, argv: (string | number | Buffer)[], binary?: boolean, client?: Redis): Promise<unknown>;
  /** False: the scripts record no metrics (setup metrics: false). */
  readonly metrics?: boolean;
}

export interface WorkerHost extends ScriptHost, EventEmitter {
  /** Running on ioredis-mock (no blocking commands: workers poll). */
  readonly mock: boolean;
  readonly registry: Registry;
  /** Like script(), written at once in a pipeline of its own rather than on the next auto-pipelined turn: the claim and finish path. */
  scriptNow(name: ScriptName, queue: string, argv: (string | number | Buffer)[], binary?: boolean): Promise<unknown>;
  /** A share of the SQL mirror loop, or null when this worker does not mirror. */
  acquireMirror?(want: boolean | undefined, onError: (e: Error) => void): (() => Promise<void>) | null;
  /** Resolves once Redis has answered; rejects with RedisUnreachableError after the connect timeout. */
  connected?(): Promise<void>;
}

/** claim.lua, finish.lua and sweep.lua's `metrics` ARGV: '0' when the queue records no metrics (setup metrics: false). */
export const metricsFlag = (host: { readonly metrics?: boolean }): string => (host.metrics === false ? '0' : '1');
