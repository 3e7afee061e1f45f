// Servers and processes of the fault suite's own: a redis-server on a free port (persistent
// when asked: appendonly yes, appendfsync always), worker processes, and a TCP proxy that can
// cut MySQL off. Everything started here is killed by its handle; nothing touches the shared
// Redis on 6379.
import { spawn, ChildProcess } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import net from 'net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

export class RedisServer {
  proc?: ChildProcess;
  readonly dir = mkdtempSync(join(tmpdir(), 'sa-faults-redis-'));
  constructor(readonly port: number, readonly persistent: boolean) {}

  get url(): string { return `redis://127.0.0.1:${this.port}`; }

  static async start(persistent = false): Promise<RedisServer> {
    const s = new RedisServer(await freePort(), persistent);
    await s.up();
    return s;
  }

  async up(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '',
      '--appendonly', this.persistent ? 'yes' : 'no', '--appendfsync', 'always', '--daemonize', 'no'];
    this.proc = spawn('redis-server', args, { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await reachable(this.port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server did not come up on port ${this.port}`);
  }

  /** kill -9: whatever was not fsynced to the AOF is gone. */
  async crash(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.crash();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A TCP proxy in front of a server: `cut()` drops every connection and refuses new ones until `restore()`.
 * With `replyDelayMs`, the server's replies reach the client that much later, except on connections that
 * sent a SUBSCRIBE (their messages come at once: a reply can then be read after a message published later).
 */
export class Proxy {
  private server?: net.Server;
  private sockets = new Set<net.Socket>();
  private open = true;
  constructor(readonly port: number, private readonly target: { host: string; port: number }, private readonly replyDelayMs = 0) {}

  static async start(target: { host: string; port: number }, opts: { replyDelayMs?: number } = {}): Promise<Proxy> {
    const p = new Proxy(await freePort(), target, opts.replyDelayMs);
    await p.listen();
    return p;
  }

  private listen(): Promise<void> {
    this.server = net.createServer((client) => {
      if (!this.open) { client.destroy(); return; }
      const upstream = net.connect(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      if (this.replyDelayMs > 0) {
        let subscriber = false;
        client.on('data', (d: Buffer) => { if (/subscribe/i.test(d.toString('latin1'))) subscriber = true; upstream.write(d); });
        upstream.on('data', (d: Buffer) => {
          if (subscriber) client.write(d); else setTimeout(() => { if (!client.destroyed) client.write(d); }, this.replyDelayMs);
        });
      } else client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    return new Promise((r) => this.server!.listen(this.port, '127.0.0.1', () => r()));
  }

  cut(): void {
    this.open = false;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void { this.open = true; }

  close(): Promise<void> {
    this.cut();
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
