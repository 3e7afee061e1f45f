// The web dashboard's options (queue.dashboard(), `node scripts/async.js web`).
import type { IncomingMessage, ServerResponse } from 'http';

export type DashboardAccess = 'all' | 'read' | false;

/** Processed (succeeded + failed) and failed counts per bucket, oldest first; `at` in ms (bucket start). */
export interface MetricsSeries { stepMs: number; at: number[]; processed: number[]; failed: number[] }

/** Where the overview's chart and totals come from (default: the SQL history when the queue mirrors). */
export interface MetricsSource {
  readonly totalsFrom?: string;
  totals?(): Promise<Map<string, { succeeded: number; failed: number }>>;
  series(range: 'hour' | 'days', queue?: string): Promise<MetricsSeries | null>;
  readonly enabled: boolean;
  readonly unavailable?: string;
}

export interface DashboardOptions {
  /** Who may do what: 'all', 'read' (no changes) or false (403). Default: 'all' for everyone. */
  authorize?: (req: IncomingMessage) => DashboardAccess | Promise<DashboardAccess>;
  /** Refuse every change, whatever authorize says. */
  readOnly?: boolean;
  /** Signs the CSRF tokens (at least 16 characters); default random per process. */
  secret?: string | Buffer;
  /** The mount path when it cannot be told from the request (served alone under a path). */
  base?: string;
  metrics?: MetricsSource;
  /** Origins besides the request's own Host allowed to POST (e.g. behind a proxy that rewrites Host). */
  trustedOrigins?: string[];
}

/** A plain Node request handler (Express/Connect middleware, or http.createServer's listener). */
export type DashboardHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;
