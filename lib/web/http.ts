// Request and response plumbing of the dashboard, with no framework: the mount prefix, the form
// body, and the answers (a page, JSON, a redirect, an error page that never shows a stack trace).
import type { IncomingMessage, ServerResponse } from 'http';

/** An answer other than 200: its status and the message the error page shows. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

export const notFound = (what: string) => new HttpError(404, what);
export const badRequest = (what: string) => new HttpError(400, what);
export const forbidden = (what: string) => new HttpError(403, what);

/** Express and Connect strip the mount path from req.url; Express keeps it in req.baseUrl, both keep req.originalUrl. */
export function mountPrefix(req: IncomingMessage, base: string | undefined): string {
  if (base !== undefined) return base.replace(/\/+$/, '');
  const r = req as IncomingMessage & { baseUrl?: string; originalUrl?: string };
  if (typeof r.baseUrl === 'string') return r.baseUrl.replace(/\/+$/, '');
  if (typeof r.originalUrl === 'string' && r.url && r.originalUrl !== r.url) {
    const path = (r.originalUrl.split('?')[0]);
    const rest = r.url.split('?')[0];
    if (path.endsWith(rest)) return path.slice(0, path.length - rest.length).replace(/\/+$/, '');
    // Connect hands the mount point itself ('/async') on as '/'.
    if (rest === '/') return path.replace(/\/+$/, '');
  }
  return '';
}

/** The request path below the mount prefix, and its query. */
export function route(req: IncomingMessage, prefix: string, explicitBase: boolean): { path: string; query: URLSearchParams } {
  const url = new URL(req.url ?? '/', 'http://x');
  let path = url.pathname;
  // Served alone with a `base`, req.url still holds it.
  if (explicitBase && prefix && (path === prefix || path.startsWith(prefix + '/'))) path = path.slice(prefix.length);
  if (path === '') path = '/';
  return { path, query: url.searchParams };
}

const MAX_BODY = 64 * 1024;

/** An urlencoded form body (a framework may have parsed it already into req.body). */
export async function formBody(req: IncomingMessage): Promise<URLSearchParams> {
  const pre = (req as IncomingMessage & { body?: unknown }).body;
  if (pre && typeof pre === 'object' && !Buffer.isBuffer(pre)) {
    const out = new URLSearchParams();
    for (const [k, v] of Object.entries(pre as Record<string, unknown>)) if (typeof v === 'string') out.set(k, v);
    return out;
  }
  const type = String(req.headers['content-type'] ?? '');
  if (type && !type.startsWith('application/x-www-form-urlencoded')) throw badRequest(`a form (application/x-www-form-urlencoded) was expected, not ${type}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `the form is larger than ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const CSP = ["default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"].join('; ');

function secure(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cache-Control', 'no-store');
}

export function sendHtml(res: ServerResponse, status: number, body: string): void {
  secure(res);
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(body);
}

export function sendJson(res: ServerResponse, value: unknown): void {
  secure(res);
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(value));
}

/** 303 See Other: after a POST the browser GETs the page. */
export function redirect(res: ServerResponse, to: string): void {
  secure(res);
  res.statusCode = 303;
  res.setHeader('Location', to);
  res.end();
}
