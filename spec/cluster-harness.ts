// Redis Cluster and Sentinel deployments of the specs' own, started from the redis-server binary
// on free loopback ports and killed by pid (at stop(), and at process exit for the shared one):
// nothing here touches the shared Redis on 6379.
//   RedisCluster: 3 masters with a replica each (`redis-cli --cluster create --cluster-replicas 1`).
//   SentinelSet: one master, one replica, three sentinels.
import { spawn, spawnSync, ChildProcess } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import net from 'net';
import Redis from 'ioredis';
import { freePort } from './faults/servers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function listenable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (p < 55000 && !taken.has(p) && !taken.has(p + 10000) && await listenable(p + 10000)) { taken.add(p); taken.add(p + 10000); return p; }
  }
}

async function until(fn: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try { if (await fn()) return; } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** One redis-server process (a cluster node, a plain server, or a sentinel). */
export class Node {
  proc?: ChildProcess;
  constructor(readonly port: number, readonly dir: string, private readonly args: string[]) {}

  get pid(): number | undefined { return this.proc?.pid; }
  get alive(): boolean { return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null; }

  async up(): Promise<void> {
    this.proc = spawn('redis-server', this.args, { stdio: 'ignore', cwd: this.dir });
    await until(async () => { const c = client(this.port); try { return (await c.ping()) === 'PONG'; } finally { c.disconnect(); } }, 5000, `redis-server on port ${this.port}`);
  }

  /** kill -9 by pid: what was not replicated is gone. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || !this.alive) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  killSync(): void { if (this.alive) this.proc!.kill('SIGKILL'); }
}

/** A short-lived client to one node (not cluster-aware). */
export function client(port: number): Redis {
  const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => null });
  c.on('error', () => undefined); // a node being killed: the caller's command fails, that is enough
  return c;
}

async function run<T>(port: number, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = client(port);
  try { return await fn(c); } finally { c.disconnect(); }
}

const FAST_REPL = ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0', '--save', '', '--appendonly', 'no'];

export interface ClusterNodeInfo { id: string; port: number; master: boolean; masterId: string | null; slots: [number, number][] }

export class RedisCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'sa-cluster-'));
  readonly nodes: Node[] = [];

  static async start(masters = 3, nodeTimeoutMs = 1000): Promise<RedisCluster> {
    const c = new RedisCluster();
    try {
      await c.boot(masters, nodeTimeoutMs);
    } catch (e) { c.stop(); throw e; }
    return c;
  }

  private async boot(masters: number, nodeTimeoutMs: number): Promise<void> {
    const taken = new Set<number>();
    for (let i = 0; i < masters * 2; i++) {
      const port = await clusterPort(taken);
      const dir = join(this.dir, String(port));
      spawnSync('mkdir', ['-p', dir]);
      this.nodes.push(new Node(port, dir, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--cluster-enabled', 'yes',
        '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(nodeTimeoutMs), '--cluster-replica-validity-factor', '0',
        '--daemonize', 'no', ...FAST_REPL]));
    }
    await Promise.all(this.nodes.map((n) => n.up()));
    const r = spawnSync('redis-cli', ['--cluster', 'create', ...this.nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'],
      { encoding: 'utf8', timeout: 30000 });
    if (r.status !== 0) throw new Error(`redis-cli --cluster create failed: ${r.stdout}\n${r.stderr}`);
    await this.settled();
  }

  /** Every node says cluster_state:ok and every master has a replica in sync. */
  async settled(ms = 20000): Promise<void> {
    await until(async () => {
      for (const n of this.nodes.filter((x) => x.alive)) {
        const info = await run(n.port, (c) => c.cluster('INFO') as Promise<string>);
        if (!/cluster_state:ok/.test(info)) return false;
      }
      const ns = await this.topology();
      const masters = ns.filter((n) => n.master && n.slots.length > 0);
      for (const m of masters) {
        const repl = await run(m.port, (c) => c.info('replication'));
        if (!/slave0:.*state=online/.test(repl)) return false;
      }
      return masters.length > 0;
    }, ms, 'the cluster to settle (state ok, each master with a replica online)');
  }

  get startupNodes(): { host: string; port: number }[] {
    return this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  }

  node(port: number): Node {
    const n = this.nodes.find((x) => x.port === port);
    if (!n) throw new Error(`no node on port ${port}`);
    return n;
  }

  /** CLUSTER NODES as seen by a live node. */
  async topology(): Promise<ClusterNodeInfo[]> {
    const live = this.nodes.find((n) => n.alive);
    if (!live) throw new Error('no live node');
    const text = await run(live.port, (c) => c.cluster('NODES') as Promise<string>);
    return text.trim().split('\n').map((line) => {
      const f = line.split(' ');
      const port = Number(/:(\d+)@/.exec(f[1])?.[1]);
      const slots = f.slice(8).filter((s) => /^\d/.test(s)).map((s) => {
        const [a, b] = s.split('-').map(Number);
        return [a, b ?? a] as [number, number];
      });
      return { id: f[0], port, master: f[2].includes('master') && !f[2].includes('fail'), masterId: f[3] === '-' ? null : f[3], slots };
    });
  }

  /** The slot of a key (CLUSTER KEYSLOT) and the port of the master serving it now. */
  async owner(key: string): Promise<{ slot: number; port: number }> {
    const live = this.nodes.find((n) => n.alive)!;
    const slot = Number(await run(live.port, (c) => c.cluster('KEYSLOT', key)));
    const m = (await this.topology()).find((n) => n.master && n.slots.some(([a, b]) => slot >= a && slot <= b));
    if (!m) throw new Error(`no master serves slot ${slot}`);
    return { slot, port: m.port };
  }

  /** The port of a live replica of the master on `port`. */
  async replicaOf(port: number): Promise<number> {
    const ns = await this.topology();
    const m = ns.find((n) => n.port === port);
    const r = ns.find((n) => m && n.masterId === m.id && this.node(n.port).alive);
    if (!r) throw new Error(`no live replica of ${port}`);
    return r.port;
  }

  /** CLUSTER FAILOVER on the replica of `masterPort`; resolves once the replica serves as master. */
  async failover(masterPort: number): Promise<number> {
    const rep = await this.replicaOf(masterPort);
    await run(rep, (c) => c.cluster('FAILOVER'));
    await until(async () => /role:master/.test(await run(rep, (c) => c.info('replication'))), 15000, `replica ${rep} to take over`);
    return rep;
  }

  /** Every process killed by pid, the files removed. */
  stop(): void {
    for (const n of this.nodes) n.killSync();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

let shared: Promise<RedisCluster> | null = null;

/** One cluster for the whole test process (started on first use, killed at exit). */
export function sharedCluster(): Promise<RedisCluster> {
  if (!shared) {
    shared = RedisCluster.start();
    void shared.then((c) => process.once('exit', () => c.stop()), () => undefined);
  }
  return shared;
}

let sharedSentinels: Promise<SentinelSet> | null = null;

/** One Sentinel deployment for the whole test process (started on first use, killed at exit). */
export function sharedSentinel(): Promise<SentinelSet> {
  if (!sharedSentinels) {
    sharedSentinels = SentinelSet.start();
    void sharedSentinels.then((s) => process.once('exit', () => s.stop()), () => undefined);
  }
  return sharedSentinels;
}

export class SentinelSet {
  readonly dir = mkdtempSync(join(tmpdir(), 'sa-sentinel-'));
  readonly servers: Node[] = [];
  readonly sentinels: Node[] = [];
  readonly name = 'sa-master';

  static async start(): Promise<SentinelSet> {
    const s = new SentinelSet();
    try { await s.boot(); } catch (e) { s.stop(); throw e; }
    return s;
  }

  private async boot(): Promise<void> {
    const [mp, rp] = [await freePort(), await freePort()];
    for (const [port, extra] of [[mp, []], [rp, ['--replicaof', '127.0.0.1', String(mp)]]] as [number, string[]][]) {
      const dir = join(this.dir, String(port));
      spawnSync('mkdir', ['-p', dir]);
      this.servers.push(new Node(port, dir, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', ...FAST_REPL, ...extra]));
    }
    await Promise.all(this.servers.map((n) => n.up()));
    await until(async () => /slave0:.*state=online/.test(await run(mp, (c) => c.info('replication'))), 10000, 'the replica to sync');
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const dir = join(this.dir, `s${port}`);
      spawnSync('mkdir', ['-p', dir]);
      const conf = join(dir, 'sentinel.conf');
      writeFileSync(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor ${this.name} 127.0.0.1 ${mp} 2`,
        `sentinel down-after-milliseconds ${this.name} 1000`, `sentinel failover-timeout ${this.name} 5000`, ''].join('\n'));
      this.sentinels.push(new Node(port, dir, [conf, '--sentinel']));
    }
    await Promise.all(this.sentinels.map((n) => n.up()));
    // Each sentinel must know the replica before it can fail over to it.
    await until(async () => {
      for (const s of this.sentinels) {
        const reps = await run(s.port, (c) => c.call('SENTINEL', 'REPLICAS', this.name) as Promise<unknown[]>);
        if (reps.length < 1) return false;
      }
      return true;
    }, 15000, 'the sentinels to see the replica');
  }

  get sentinelAddrs(): { host: string; port: number }[] {
    return this.sentinels.map((n) => ({ host: '127.0.0.1', port: n.port }));
  }

  /** The master's port as the sentinels name it. */
  async masterPort(): Promise<number> {
    const r = await run(this.sentinels[0].port, (c) => c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name) as Promise<string[]>);
    return Number(r[1]);
  }

  /** SENTINEL FAILOVER; resolves once the other server is master and the sentinels name it. */
  async failover(): Promise<number> {
    const old = await this.masterPort();
    const next = this.servers.find((s) => s.port !== old)!.port;
    await run(this.sentinels[0].port, (c) => c.call('SENTINEL', 'FAILOVER', this.name));
    await until(async () => (await this.masterPort()) === next && /role:master/.test(await run(next, (c) => c.info('replication'))), 20000, 'the sentinel failover');
    return next;
  }

  /** The master has a replica in sync again (the old master, reconfigured by the sentinels). */
  async healed(ms = 30000): Promise<void> {
    await until(async () => /slave0:.*state=online/.test(await run(await this.masterPort(), (c) => c.info('replication'))), ms, 'the old master to rejoin as a replica');
  }

  stop(): void {
    for (const n of [...this.sentinels, ...this.servers]) n.killSync();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
