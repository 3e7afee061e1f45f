// setup({ replicas: n }): a state change counts only once n replicas have it. The script and a
// WAIT go out in one pipeline (one round trip, same connection, so WAIT covers the script's
// write; on a cluster the pipeline goes to the node owning the queue's slot). Fewer replicas
// than asked within the timeout fail the call with NotReplicatedError: the write is on the
// master, but a failover now could lose it, so success is not reported.
import type { Redis } from 'ioredis';
import type { QueueKeys } from './keys';
import { defineScripts, command, keysFor, ScriptName } from './scripts';
import { NotReplicatedError } from './errors';
import { isCluster } from './redis';

type Arg = string | number | Buffer;

export interface Durability {
  /** Replicas that must have each write (0: none, no WAIT). */
  replicas: number;
  /** How long WAIT may take (ms). */
  timeoutMs: number;
}

export const DEFAULT_REPLICA_TIMEOUT_MS = 2000;

/** The scripts whose success a caller is told of: an enqueue resolving, a finish recorded. */
export const ACKNOWLEDGED: ReadonlySet<ScriptName> = new Set<ScriptName>(['enqueue', 'finish']);

export function durability(replicas: unknown, timeoutMs: unknown, mock: boolean): Durability {
  const n = replicas ?? 0;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new RangeError(`setup: replicas must be a whole number >= 0 (got ${String(replicas)})`);
  const t = timeoutMs ?? DEFAULT_REPLICA_TIMEOUT_MS;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1) throw new RangeError(`setup: replicaTimeoutMs must be a whole number of ms >= 1 (got ${String(timeoutMs)})`);
  if (n > 0 && mock) throw new TypeError('setup: replicas needs a real Redis (ioredis-mock has no replicas)');
  return { replicas: n, timeoutMs: t };
}

// A cluster node that refused the script (the slot moved, or is being moved or elected): nothing
// ran. ioredis follows such a redirection in a pipeline only when every command got it, and WAIT
// (no key) never does: this file follows it itself.
const REDIRECTED = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)\b/;
const MAX_REDIRECTIONS = 40;

interface ClusterInternals { refreshSlotsCache(cb?: (e?: Error) => void): void }

/** Reloads the cluster's slot map (after a pause unless the slot simply moved). */
async function followRedirection(client: Redis, err: Error): Promise<void> {
  if (!err.message.startsWith('MOVED')) await new Promise((r) => setTimeout(r, 100));
  await new Promise<void>((r) => (client as unknown as ClusterInternals).refreshSlotsCache(() => r()));
}

/** Runs one script and WAITs for d.replicas replicas in the same pipeline; throws NotReplicatedError when fewer confirm. */
export async function runScriptReplicated(client: Redis, name: ScriptName, queue: string, k: QueueKeys, argv: Arg[], binary: boolean, d: Durability) {
  defineScripts(client);
  let res: [Error | null, unknown][] = [];
  for (let attempt = 0; ; attempt++) {
    const p = client.pipeline() as unknown as Record<string, (...a: Arg[]) => unknown> & { exec(): Promise<[Error | null, unknown][] | null> };
    const cmd = command(name);
    const fn = (binary && p[`${cmd}Buffer`]) || p[cmd];
    fn.call(p, ...keysFor(name, k), ...argv);
    p.wait(d.replicas, d.timeoutMs);
    res = (await p.exec()) ?? [];
    const first = res[0]?.[0];
    if (first && isCluster(client) && REDIRECTED.test(first.message) && attempt < MAX_REDIRECTIONS) {
      await followRedirection(client, first);
      continue;
    }
    break;
  }
  const [err, reply] = res[0] ?? [new Error(`${name}: no reply`), null];
  if (err) throw err;
  const [werr, acked] = res[1] ?? [new Error('WAIT: no reply'), 0];
  const got = werr ? 0 : Number(acked);
  if (got < d.replicas) {
    throw new NotReplicatedError(`${name} on queue ${queue}: written on the Redis master, but ${werr ? `WAIT failed (${werr.message})` : `only ${got} of ${d.replicas} replica(s) confirmed it within ${d.timeoutMs} ms`}`
      + ' (setup({ replicas })): a failover now could lose it, so it is not reported as done', queue, got, d.replicas);
  }
  return reply as Array<string | Buffer> | string | Buffer | number | null;
}
