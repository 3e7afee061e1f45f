// A Redis Cluster of the spec's own (3 masters, a replica each; spec/cluster-harness.ts, shared
// with the conformance cases): queues placed on different masters all run, every key of a queue
// sits on the master owning its slot, the sweep, bulk over many queues and the CLI work on it,
// and setup refuses what would break on a cluster. Sentinel and failovers: spec/faults/failover.spec.ts.
import { strict as assert } from 'assert';
import { spawn } from 'child_process';
import { join } from 'path';
import http from 'http';
import type { AddressInfo } from 'net';
import Redis, { Cluster } from 'ioredis';
import { setup, Queue, NotReplicatedError } from '../lib';
import { RedisServer } from './faults/servers';
import { idsKey, queuesKey, workersKey } from '../lib/keys';
import { sharedCluster, sharedSentinel, RedisCluster, client } from './cluster-harness';
import { uniquePrefix, until, mysqlDb, REDIS_URL } from './helpers';

const Jobs = {
  ran: [] as string[],
  add(a: number, b: number) { return a + b; },
  tag(q: string) { Jobs.ran.push(q); return q; },
};

/** Queue names whose keys land on three different masters (searched, as the slots depend on the prefix). */
async function spread(c: RedisCluster, prefix: string, n = 3): Promise<{ queue: string; slot: number; port: number }[]> {
  const out: { queue: string; slot: number; port: number }[] = [];
  for (let i = 0; out.length < n && i < 200; i++) {
    const o = await c.owner(`{${prefix}:q${i}}:x`);
    if (!out.some((x) => x.port === o.port)) out.push({ queue: `q${i}`, ...o });
  }
  return out;
}

/** Keys of a prefix on one node (SCAN on that node alone). */
async function keysOn(port: number, prefix: string): Promise<string[]> {
  const r = client(port);
  try {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, ks] = await r.scan(cursor, 'MATCH', `{${prefix}*`, 'COUNT', 1000);
      out.push(...ks);
      cursor = next;
    } while (cursor !== '0');
    return out;
  } finally { r.disconnect(); }
}

/** Recurring, unique, pause/resume and limits, metrics and the dashboard on three queues of `queue`. */
async function newerFeatures(queue: Queue, [a, b, c]: { queue: string }[]): Promise<void> {
    const w = queue.worker({ queues: [a.queue, b.queue, c.queue], concurrency: 4 });
    await w.start();
    // Recurring: the tick's task is stored in its queue's slot by recur-tick.lua.
    await queue.every(Jobs, '* * * * * *', 'tag', { name: 'tick', args: ['tick'], queue: a.queue });
    await until(() => Jobs.ran.includes('tick'), 5000, 'a recurring tick to run');
    await queue.unschedule('tick');
    // Unique: the second enqueue returns the first task.
    const u1 = await queue.async(Jobs, 'tag', { args: ['u'], queue: b.queue, unique: 'one', scheduledAt: Date.now() + 60000 });
    const u2 = await queue.async(Jobs, 'tag', { args: ['u'], queue: b.queue, unique: 'one', scheduledAt: Date.now() + 60000 });
    assert.deepEqual([u2.id, u2.duplicate], [u1.id, true]);
    // A batch of distinct keys takes its locks with one MSETNX (all in the queue's slot), then one held key in a batch.
    const many = await queue.bulk(['k1', 'k2', 'k3'].map((k) => [Jobs, 'tag', { args: ['u'], queue: b.queue, unique: k, scheduledAt: Date.now() + 60000 }] as [object, string, object]));
    const again = await queue.bulk(['k2', 'k4'].map((k) => [Jobs, 'tag', { args: ['u'], queue: b.queue, unique: k, scheduledAt: Date.now() + 60000 }] as [object, string, object]));
    assert.deepEqual([many.map((t) => t.duplicate), again.map((t) => t.duplicate), again[0].id], [[false, false, false], [true, false], many[1].id]);
    // Pause and resume (pub/sub to the workers), and a limit stored in the queue's slot.
    await queue.pause(c.queue);
    await queue.async(Jobs, 'tag', { args: ['paused'], queue: c.queue });
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!Jobs.ran.includes('paused'), 'nothing starts while paused');
    assert.strictEqual((await queue.stats())[c.queue].paused, true);
    await queue.resume(c.queue);
    await until(() => Jobs.ran.includes('paused'), 5000, 'the task to start on resume');
    await queue.limit(b.queue, { rate: { max: 100, duration: 1000 }, concurrency: 2 });
    await queue.async(Jobs, 'tag', { args: ['limited'], queue: b.queue });
    await until(() => Jobs.ran.includes('limited'), 5000, 'a task under a limit');
    // Metrics, from each master's keys.
    const text = await queue.metrics();
    assert.match(text, new RegExp(`sequelize_async_tasks_total\\{queue="${a.queue}",task="Jobs#tag",outcome="succeeded"\\} [1-9]`));
    assert.match(text, new RegExp(`sequelize_async_tasks_total\\{queue="${c.queue}",task="Jobs#tag",outcome="succeeded"\\} 1`));
    // The dashboard reads every queue.
    const server = http.createServer(queue.dashboard());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const r = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      assert.strictEqual(r.status, 200);
      const html = await r.text();
      for (const q of [a.queue, b.queue, c.queue]) assert.match(html, new RegExp(`data-queue="${q}"`));
    } finally { server.closeAllConnections(); await new Promise((r) => server.close(r)); }
    await w.stop();
}

describe('on a Redis Cluster', function () {
  this.timeout(30000);
  let cluster: RedisCluster;
  let queue: Queue;
  let prefix: string;

  before(async () => { cluster = await sharedCluster(); });
  beforeEach(() => {
    prefix = uniquePrefix('cl');
    queue = setup({ redis: { cluster: cluster.startupNodes }, prefix });
    queue.register('Jobs', Jobs);
    Jobs.ran = [];
  });
  afterEach(async () => { await queue.close(); });

  it('runs three named queues placed on three different masters; each queue\'s keys are on its master only', async () => {
    const placed = await spread(cluster, prefix);
    assert.equal(new Set(placed.map((p) => p.port)).size, 3, `three masters: ${JSON.stringify(placed)}`);
    // eslint-disable-next-line no-console
    console.log(`      placement: ${placed.map((p) => `${p.queue} -> slot ${p.slot} on :${p.port}`).join(', ')}`);
    const tasks = await queue.bulk(placed.flatMap((p) => Array.from({ length: 20 }, () => [Jobs, 'tag', { args: [p.queue], queue: p.queue }] as [object, string, object])));
    const w = queue.worker({ queues: placed.map((p) => p.queue), concurrency: 4 });
    const errors: Error[] = [];
    w.on('error', (e) => errors.push(e));
    await w.start();
    await Promise.all(tasks.map((t) => t.wait({ timeout: 10000 })));
    assert.ok(tasks.every((t) => t.state === 'succeeded'));
    for (const p of placed) assert.equal(Jobs.ran.filter((q) => q === p.queue).length, 20, p.queue);
    await w.stop();
    assert.deepEqual(errors, []);
    for (const p of placed) {
      const mine = await keysOn(p.port, `${prefix}:${p.queue}}`);
      assert.ok(mine.some((k) => k.endsWith(':finished')), `${p.queue}'s finished zset on :${p.port}`);
      for (const other of placed.filter((o) => o.port !== p.port)) {
        assert.deepEqual(await keysOn(other.port, `${prefix}:${p.queue}}`), [], `no key of ${p.queue} on :${other.port}`);
      }
    }
    // The global keys share one slot of their own.
    const slots = await Promise.all([idsKey(prefix), queuesKey(prefix), workersKey(prefix)].map((k) => cluster.owner(k)));
    assert.equal(new Set(slots.map((s) => s.slot)).size, 1);
  });

  it('wakes an idle worker at once through its blocking connection to the queue\'s master', async () => {
    const [p] = await spread(cluster, prefix, 1);
    const w = queue.worker({ queues: [p.queue] });
    await w.start();
    await new Promise((r) => setTimeout(r, 300)); // idle, blocked on the marker
    // From another Queue object: only the marker wakes the worker (not this process's local signal),
    // and well before its 5 s idle timeout.
    const producer = setup({ redis: { cluster: cluster.startupNodes }, prefix });
    producer.register('Jobs', Jobs);
    const t = await producer.async(Jobs, 'add', { args: [2, 3], queue: p.queue });
    await t.wait({ timeout: 2000 });
    assert.equal(t.result, 5);
    await w.stop();
    await producer.close();
  });

  it('sweeps a dead worker\'s task back and runs it; stats read every queue', async () => {
    const [p] = await spread(cluster, prefix, 1);
    const t = await queue.async(Jobs, 'add', { args: [1, 1], queue: p.queue });
    // A "dead worker": claim under a 100 ms lease and never finish.
    await queue.internals.script('claim', p.queue, ['dead-worker', 100, 1]);
    assert.equal((await queue.task(t.id))?.state, 'running');
    await new Promise((r) => setTimeout(r, 150));
    const w = queue.worker({ queues: [p.queue] });
    const swept: unknown[] = [];
    w.on('swept', (e) => swept.push(e));
    await w.start();
    await t.wait({ timeout: 5000 });
    assert.equal(t.state, 'succeeded');
    assert.equal(t.attempts, 2);
    assert.deepEqual(swept, [{ queue: p.queue, recovered: 1, failed: 0 }]);
    await w.stop();
    const s = await queue.stats();
    assert.equal(JSON.stringify(s).includes(p.queue), true);
  });

  it('mirrors the tasks of queues on three masters to SQL', async () => {
    const seq = await mysqlDb('sa_cluster');
    try {
      await seq.query('DROP TABLE IF EXISTS async_tasks');
      const q = setup({ redis: { cluster: cluster.startupNodes }, prefix, sequelize: seq });
      q.register('Jobs', Jobs);
      await q.migrate();
      const placed = await spread(cluster, prefix);
      const tasks = await q.bulk(placed.map((p) => [Jobs, 'add', { args: [1, 2], queue: p.queue }] as [object, string, object]));
      const w = q.worker({ queues: placed.map((p) => p.queue) });
      await w.start();
      await Promise.all(tasks.map((t) => t.wait({ timeout: 5000 })));
      await until(async () => {
        const rows = (await seq.query("SELECT id, queue FROM async_tasks WHERE state = 'succeeded'", { type: 'SELECT' })) as { id: number; queue: string }[];
        return rows.length === 3 && placed.every((p) => rows.some((r) => r.queue === p.queue));
      }, 10000, 'a succeeded row for each queue');
      await w.stop();
      await q.close();
    } finally { await seq.close(); }
  });

  it('recurring, unique, pause/resume and limits, metrics and the dashboard work on queues of three masters', async () => {
    await newerFeatures(queue, await spread(cluster, prefix));
  });

  it('takes an ioredis Cluster instance (borrowed: left open at close)', async () => {
    const c = new Cluster(cluster.startupNodes, { redisOptions: { maxRetriesPerRequest: null } });
    const q = setup({ redis: c, prefix });
    q.register('Jobs', Jobs);
    const t = await q.async(Jobs, 'add', { args: [4, 5] });
    const w = q.worker();
    await w.start();
    await t.wait({ timeout: 5000 });
    assert.equal(t.result, 9);
    await q.close();
    assert.equal(await c.ping(), 'PONG');
    c.disconnect();
  });

  it('status, ls and run of the CLI work on the cluster', async () => {
    const tasks = await queue.bulk([[Jobs, 'add', { args: [1, 2] }], [Jobs, 'add', { args: [3, 4], queue: 'other' }]]);
    const env = { ...process.env, ASYNC_PREFIX: prefix, ASYNC_CLUSTER: JSON.stringify(cluster.startupNodes),
      ASYNC_APP: join(__dirname, 'fixtures', 'cli-app', 'cluster.config.js'), NO_COLOR: '1', ASYNC_HEARTBEAT_MS: '200' };
    const cli = (args: string[]) => new Promise<{ code: number | null; out: string; err: string }>((res) => {
      const ch = spawn(process.execPath, [join(__dirname, '..', 'scripts', 'async.js'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = ''; let err = '';
      ch.stdout.on('data', (d) => { out += d; });
      ch.stderr.on('data', (d) => { err += d; });
      ch.on('close', (code) => res({ code, out, err }));
    });
    const ls = await cli(['ls']);
    assert.equal(ls.code, 0, ls.err);
    for (const t of tasks) assert.match(ls.out, new RegExp(`\\b${t.id}\\b`));
    const run = spawn(process.execPath, [join(__dirname, '..', 'scripts', 'async.js'), 'run', '--queues=default,other'], { env, stdio: 'ignore' });
    try {
      await Promise.all(tasks.map((t) => t.wait({ timeout: 15000 })));
      assert.deepEqual(tasks.map((t) => t.result), [3, 7]);
      const st = await until(async () => {
        const r = await cli(['status', '--json']);
        return r.code === 0 && JSON.parse(r.out).workers.length === 1 ? r : null;
      }, 10000, 'status to list the running worker');
      assert.equal(JSON.parse(st!.out).workers[0].pid, run.pid);
    } finally { run.kill('SIGTERM'); }
  });
});

describe('setup refuses what would break on a cluster', () => {
  const refused: [string, () => unknown, RegExp][] = [
    ['an ioredis keyPrefix (options)', () => setup({ redis: { keyPrefix: 'app:' } }), /keyPrefix option \("app:"\) is not supported/],
    ['an ioredis keyPrefix (cluster options)', () => setup({ redis: { cluster: [{ host: '127.0.0.1', port: 1 }], keyPrefix: 'x:' } }), /keyPrefix option \("x:"\) is not supported/],
    ['an ioredis keyPrefix (an instance)', () => setup({ redis: new Redis(REDIS_URL, { keyPrefix: 'y:', lazyConnect: true }) }), /keyPrefix option \("y:"\) is not supported/],
    ['reading from replicas (scaleReads)', () => setup({ redis: { cluster: [{ host: '127.0.0.1', port: 1 }], scaleReads: 'slave' } }), /scaleReads must be 'master' \(got "slave"\)/],
    ['reading from a replica (Sentinel role)', () => setup({ redis: { sentinels: [{ host: '127.0.0.1', port: 1 }], name: 'm', role: 'slave' } }), /role: 'slave'.*must talk to the master/],
    ['a prefix with braces', () => setup({ redis: 'mock', prefix: 'a{b}' }), /prefix "a\{b\}" contains a brace/],
    ['replicas on the mock', () => setup({ redis: 'mock', replicas: 1 }), /replicas needs a real Redis/],
    ['replicas that is not a count', () => setup({ redis: 'mock', replicas: -1 }), /replicas must be a whole number >= 0 \(got -1\)/],
  ];
  for (const [what, fn, msg] of refused) it(what, () => assert.throws(fn, msg));

  it('a queue name with braces', async () => {
    const q = setup({ redis: 'mock', prefix: uniquePrefix('cl') });
    q.register('Jobs', Jobs);
    await assert.rejects(q.async(Jobs, 'add', { args: [1, 2], queue: 'a{b}' }), /queue name "a\{b\}" contains a brace/);
    await q.close();
  });
});

describe('replicas: an acknowledgement only once replicas have the write', function () {
  this.timeout(20000);
  let server: RedisServer;
  before(async () => { server = await RedisServer.start(); }); // a master with no replica
  after(async () => { await server.stop(); });

  it('an enqueue that no replica confirms rejects with NotReplicatedError (the write is on the master)', async () => {
    const q = setup({ redis: server.url, prefix: uniquePrefix('rep'), replicas: 1, replicaTimeoutMs: 100 });
    q.register('Jobs', Jobs);
    await assert.rejects(q.async(Jobs, 'add', { args: [1, 2] }), (e: Error) => {
      assert.ok(e instanceof NotReplicatedError);
      assert.match(e.message, /^enqueue on queue default: written on the Redis master, but only 0 of 1 replica\(s\) confirmed it within 100 ms/);
      assert.deepEqual([e.queue, e.acked, e.wanted], ['default', 0, 1]);
      return true;
    });
    await q.close();
  });

  it('a finish that no replica confirms is an error of the worker, not a task event', async () => {
    const prefix = uniquePrefix('rep');
    const plain = setup({ redis: server.url, prefix });
    plain.register('Jobs', Jobs);
    const t = await plain.async(Jobs, 'add', { args: [1, 2] });
    const q = setup({ redis: server.url, prefix, replicas: 1, replicaTimeoutMs: 100 });
    q.register('Jobs', Jobs);
    const w = q.worker();
    const errors: Error[] = [];
    const events: unknown[] = [];
    w.on('error', (e) => errors.push(e));
    w.on('task', (e) => events.push(e));
    await w.start();
    await until(() => errors.length > 0, 5000, 'the worker error');
    await w.stop();
    assert.ok(errors[0] instanceof NotReplicatedError, String(errors[0]));
    assert.match(errors[0].message, /^finish on queue default: written on the Redis master, but only 0 of 1/);
    assert.deepEqual(events, []);
    await Promise.all([q.close(), plain.close()]);
  });

  it('on the cluster (a replica per master) tasks enqueue and finish as usual', async () => {
    const c = await sharedCluster();
    const q = setup({ redis: { cluster: c.startupNodes }, prefix: uniquePrefix('rep'), replicas: 1 });
    q.register('Jobs', Jobs);
    const tasks = await q.bulk([[Jobs, 'add', { args: [1, 2] }], [Jobs, 'add', { args: [3, 4], queue: 'other' }]]);
    const w = q.worker({ queues: ['default', 'other'] });
    const done: unknown[] = [];
    w.on('task', (e) => done.push(e));
    await w.start();
    await Promise.all(tasks.map((t) => t.wait({ timeout: 5000 })));
    await until(() => done.length === 2, 5000, 'two task events');
    await w.stop();
    await q.close();
  });
});

describe('through Sentinel (a master, a replica, 3 sentinels)', function () {
  this.timeout(30000);
  it('recurring, unique, pause/resume and limits, metrics and the dashboard work', async () => {
    const sentinels = await sharedSentinel();
    const queue = setup({ redis: { sentinels: sentinels.sentinelAddrs, name: sentinels.name }, prefix: uniquePrefix('sen') });
    queue.register('Jobs', Jobs);
    Jobs.ran = [];
    try { await newerFeatures(queue, [{ queue: 'a' }, { queue: 'b' }, { queue: 'c' }]); } finally { await queue.close(); }
  });
});
