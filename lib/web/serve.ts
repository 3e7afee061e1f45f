// The dashboard on a server of its own: what `node scripts/async.js web` runs. It binds to
// loopback unless told otherwise: the dashboard has no users of its own.
import { createServer, Server } from 'http';
import type { AddressInfo } from 'net';
import { dashboard, DashboardQueue, DashboardOptions } from './dashboard';

export interface ServeOptions extends Omit<DashboardOptions, 'base'> {
  /** Default 4567; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
}

export interface Served {
  server: Server;
  /** e.g. http://127.0.0.1:4567/ */
  url: string;
  close(): Promise<void>;
}

export async function serveDashboard(queue: DashboardQueue, opts: ServeOptions = {}): Promise<Served> {
  const { port = 4567, host = '127.0.0.1', ...rest } = opts;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`web: port must be 0-65535 (got ${String(port)})`);
  const server = createServer(dashboard(queue, rest));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const a = server.address() as AddressInfo;
  const shown = a.family === 'IPv6' || a.address.includes(':') ? `[${a.address}]` : a.address;
  return {
    server,
    url: `http://${shown}:${a.port}/`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
