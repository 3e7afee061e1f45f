// Failovers under load, on deployments of the spec's own (spec/cluster-harness.ts): a Redis
// Cluster (CLUSTER FAILOVER on a replica; kill -9 of a master) and Sentinel (SENTINEL FAILOVER).
// Workers must resume by themselves, and every enqueue that resolved must run: always after a
// planned failover, and with replicas: 1 after a kill too. Without replicas a kill may lose
// acknowledged tasks: measured and printed (FAILOVER_FIGURES=file appends the lines there).
import { strict as assert } from 'assert';
import { appendFileSync } from 'fs';
import { RedisCluster, SentinelSet } from '../cluster-harness';
import { uniquePrefix } from '../helpers';
import { underLoad, describeResult, LoadResult } from './failover-load';

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
        fault: async () => { await cluster.failover(placed[0].port); },
      });
      report(`cluster, CLUSTER FAILOVER, replicas ${replicas}`, r);
      resumedAndKept(r);
      assert.equal(r.lost, 0);
    });
  }

  it('kill -9 of a master, replicas: 1: 0 acknowledged tasks lost (the node rejoins as a replica)', async () => {
    const prefix = uniquePrefix('fo');
    const placed = await spread(cluster, prefix);
    const victim = cluster.node(placed[0].port);
    const r = await underLoad({ cluster: cluster.startupNodes }, {
      prefix, queues: placed.map((p) => p.queue), replicas: 1, afterMs: 6000,
      fault: async () => {
        const rep = await cluster.replicaOf(victim.port);
        await victim.kill();
        await waitRole(cluster, rep);
        await victim.up(); // back from its nodes.conf, as the new master's replica: WAIT can be met again
      },
    });
    report('cluster, kill -9 of a master, replicas 1', r);
    resumedAndKept(r);
    assert.equal(r.lost, 0);
  });

  it('kill -9 of a master, replicas: 0: workers resume; acknowledged tasks lost are measured', async () => {
    const prefix = uniquePrefix('fo');
    const placed = await spread(cluster, prefix);
    const victim = cluster.node(placed[0].port);
    const r = await underLoad({ cluster: cluster.startupNodes }, {
      prefix, queues: placed.map((p) => p.queue), replicas: 0, afterMs: 4000,
      fault: async () => {
        const rep = await cluster.replicaOf(victim.port);
        await victim.kill();
        await waitRole(cluster, rep);
      },
    });
    report('cluster, kill -9 of a master, replicas 0', r);
    resumedAndKept(r);
    assert.ok(r.lost <= r.resolved);
  });
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

  for (const replicas of [0, 1]) {
    it(`SENTINEL FAILOVER (replicas: ${replicas}): workers resume, every resolved enqueue runs`, async () => {
      const r = await underLoad({ sentinels: set.sentinelAddrs, name: set.name }, {
        prefix: uniquePrefix('fo'), queues: ['default', 'other'], replicas, afterMs: 4000,
        fault: async () => { await set.failover(); },
      });
      report(`sentinel, SENTINEL FAILOVER, replicas ${replicas}`, r);
      resumedAndKept(r);
      assert.equal(r.lost, 0);
    });
  }
});
