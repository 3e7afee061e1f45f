// Failovers under load, on deployments of the spec's own (spec/cluster-harness.ts): a Redis
// Cluster (CLUSTER FAILOVER on a replica; kill -9 of a master) and Sentinel (SENTINEL FAILOVER).
// Workers must resume by themselves, and every enqueue that resolved must run: always after a
// planned failover, and with replicas: 1 after a kill too. Without replicas a kill may lose
// acknowledged tasks: measured and printed (FAILOVER_FIGURES=file appends the lines there).
import { strict as assert } from 'assert';
import { appendFileSync } from 'fs';
import Redis from 'ioredis';
import { setup, Queue } from '../../lib';
import { RedisCluster, SentinelSet } from '../cluster-harness';
import { uniquePrefix, until } from '../helpers';
import { RedisServer } from './servers';
import { underLoad, describeResult, LoadResult, Probe } from './failover-load';

function report(what: string, r: LoadResult): void {
  const line = describeResult(what, r);
  // eslint-disable-next-line no-console
  console.log(`      ${line}`);
  if (process.env.FAILOVER_FIGURES) appendFileSync(process.env.FAILOVER_FIGURES, `${line}\n`);
}

/** Queue names on three different masters of the cluster. */
async function spread(c: RedisCluster, prefix: string): Promise<{ queue: string; port: number }[]> {
  const out: { queue: string; port: number }[] = [];
  for (let i = 0; out.length < 3 && i < 200; i++) {
    const o = await c.owner(`{${prefix}:q${i}}:x`);
    if (!out.some((x) => x.port === o.port)) out.push({ queue: `q${i}`, port: o.port });
  }
  return out;
}

function resumedAndKept(r: LoadResult): void {
  assert.ok(r.afterFault > 0, 'enqueues resolved after the fault');
  assert.equal(r.afterFaultRan, r.afterFault, 'every task enqueued after the fault ran: the workers resumed');
}

describe('failover under load: Redis Cluster', function () {
  this.timeout(90000);
  let cluster: RedisCluster;
  beforeEach(async () => { cluster = await RedisCluster.start(); });
  afterEach(() => cluster.stop());

  for (const replicas of [0, 1]) {
    it(`CLUSTER FAILOVER on a replica (replicas: ${replicas}): workers resume, every resolved enqueue runs`, async () => {
      const prefix = uniquePrefix('fo');
      const placed = await spread(cluster, prefix);
      const r = await underLoad({ cluster: cluster.startupNodes }, {
        prefix, queues: placed.map((p) => p.queue), replicas,
        fault: async () => { await cluster.failover(placed[0].port); await cluster.settled(); },
      });
      report(`cluster, CLUSTER FAILOVER, replicas ${replicas}`, r);
      resumedAndKept(r);
      assert.equal(r.lost, 0);
    });
  }

  for (const replicas of [1, 0]) {
    const how = `kill -9 of a master, replicas ${replicas}`;
    it(`${how}: workers resume; ${replicas ? '0 acknowledged tasks lost' : 'acknowledged tasks lost are measured'}`, async () => {
      const prefix = uniquePrefix('fo');
      const placed = await spread(cluster, prefix);
      const victim = cluster.node(placed[0].port);
      const r = await underLoad({ cluster: cluster.startupNodes }, {
        prefix, queues: placed.map((p) => p.queue), replicas, afterMs: replicas ? 6000 : 4000,
        fault: async () => {
          const rep = await cluster.replicaOf(victim.port);
          await victim.kill();
          await waitRole(cluster, rep);
          // Back from its nodes.conf as the new master's replica: replicas: 1 can be met again.
          if (replicas) await victim.up();
        },
      });
      report(`cluster, ${how}`, r);
      resumedAndKept(r);
      if (replicas) assert.equal(r.lost, 0);
      else assert.ok(r.lost <= r.resolved);
    });
  }
});

async function waitRole(cluster: RedisCluster, port: number): Promise<void> {
  const end = Date.now() + 20000;
  for (;;) {
    try {
      const ns = await cluster.topology();
      if (ns.find((n) => n.port === port)?.master) return;
    } catch { /* a node is down */ }
    if (Date.now() > end) throw new Error(`replica ${port} did not take over`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('failover under load: Sentinel', function () {
  this.timeout(90000);
  let set: SentinelSet;
  beforeEach(async () => { set = await SentinelSet.start(); });
  afterEach(() => set.stop());

  // Sentinel promotes the replica while the old master still takes writes, until it is made a
  // replica itself (and drops them): without replicas a planned failover can lose acknowledged
  // tasks too. With replicas: 1 the old master's WAIT fails (its replica is gone), so nothing
  // written there is acknowledged.
  for (const replicas of [1, 0]) {
    it(`SENTINEL FAILOVER (replicas: ${replicas}): workers resume, every resolved enqueue runs${replicas ? ', 0 lost' : '; lost measured'}`, async () => {
      const r = await underLoad({ sentinels: set.sentinelAddrs, name: set.name }, {
        prefix: uniquePrefix('fo'), queues: ['default', 'other'], replicas, afterMs: 3000,
        // The fault ends once the old master is the new one's replica again (the sentinels
        // reconfigure it on their next look at it): until then replicas: 1 cannot be met.
        fault: async () => { await set.failover(); await set.healed(); },
      });
      report(`sentinel, SENTINEL FAILOVER, replicas ${replicas}`, r);
      resumedAndKept(r);
      if (replicas) assert.equal(r.lost, 0);
      else assert.ok(r.lost <= r.resolved);
    });
  }
});

describe("a worker's blocking connection after a failover or a close for good", function () {
  this.timeout(30000);
  let a: RedisServer;
  let b: RedisServer;
  beforeEach(async () => { [a, b] = await Promise.all([RedisServer.start(), RedisServer.start()]); });
  afterEach(async () => { await Promise.all([a.stop(), b.stop()]); });

  async function idleWorker() {
    const queue = setup({ redis: a.url, prefix: uniquePrefix('fo') });
    queue.on('error', () => undefined);
    queue.register('Probe', Probe);
    const w = queue.worker({ leaseMs: 2000 });
    const errors: Error[] = [];
    w.on('error', (e) => errors.push(e));
    await w.start();
    await new Promise((r) => setTimeout(r, 200)); // blocked on the marker now
    return { queue, w, errors };
  }

  async function picksUp(queue: Queue, token: string) {
    const t = await queue.async(Probe, 'hit', { args: [token] });
    await t.wait({ timeout: 5000 });
    assert.equal(t.result, token);
  }

  it('UNBLOCKED (the server turned replica): rebuilt, said so, and picks up again once it is a master', async () => {
    const { queue, w, errors } = await idleWorker();
    const admin = new Redis(a.url);
    await admin.replicaof('127.0.0.1', String(b.port));
    await until(() => errors.some((e) => /blocking connection of queue default .* cut off by a failover \(UNBLOCKED/.test(e.message)), 5000, 'the rebuild error');
    await admin.replicaof('NO', 'ONE');
    admin.disconnect();
    await picksUp(queue, 'after-unblocked');
    await w.stop();
    await queue.close();
  });

  it("'end' (ioredis will not reconnect it): rebuilt, said so, and an enqueue wakes the worker at once", async () => {
    const { queue, w, errors } = await idleWorker();
    const blockers = (w as unknown as { idle: { blockers: Map<string, Redis> } }).idle.blockers;
    blockers.get('default')!.disconnect(); // what a retryStrategy giving up leaves behind
    await until(() => errors.some((e) => /blocking connection of queue default .* was closed for good \(ioredis 'end' state/.test(e.message)), 5000, 'the rebuild error');
    assert.equal(blockers.get('default')!.status === 'end', false);
    await picksUp(queue, 'after-end');
    await w.stop();
    await queue.close();
  });
});
