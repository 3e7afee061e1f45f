// The web dashboard: `dashboard(queue, options)` returns a plain Node request handler, no
// framework. Mounted under Express/Connect it finds its prefix in req.baseUrl; alone it takes
// `base`. GETs render pages (server-side HTML, every task value escaped) or JSON for the live
// overview; every change is a POST with a CSRF token from our own origin; anything else is 403.
import type { IncomingMessage, ServerResponse } from 'http';
import type { QueueContext } from '../context';
import type { AsyncTaskModel } from '../mirror/model';
import { taskDetail, workers } from '../queries';
import { Csrf, COOKIE, FIELD } from './csrf';
import { HttpError, mountPrefix, route, formBody, sendHtml, sendJson, redirect, notFound, badRequest, forbidden } from './http';
import { sendAsset } from './assets';
import { MetricsSource, MetricsRange, SqlMetricsSource, NoMetricsSource } from './metrics-source';
import { overview } from './overview';
import { parseFilter, parsePage, search, scheduledTasks, SearchHost } from './search';
import { actOn, bulk, bulkCount, Action, ACTIONS, BulkAction } from './actions';
import { View, errorPage, link } from './pages/layout';
import { overviewPage } from './pages/overview';
import { tasksPage, scheduledPage, confirmPage, filterParams } from './pages/tasks';
import { taskPage } from './pages/task';
import { workersPage } from './pages/workers';
import { runningByWorker } from './running';
import { RedisMetricsSource } from './redis-metrics-source';
import { prometheusText, PROMETHEUS_CONTENT_TYPE } from '../metrics/prometheus';

export type Access = 'all' | 'read' | false;

export interface DashboardOptions {
  /** Who may do what: 'all', 'read' (no changes) or false (403). Default: 'all' for everyone. */
  authorize?: (req: IncomingMessage) => Access | Promise<Access>;
  /** Refuse every change, whatever authorize says. */
  readOnly?: boolean;
  /** Signs the CSRF tokens (at least 16 characters); default random per process. */
  secret?: string | Buffer;
  /** The mount path when it cannot be told from the request (served alone under a path). */
  base?: string;
  /** Where the overview chart's numbers come from (default: the metrics the scripts record in Redis; with setup metrics: false, the SQL history when the queue mirrors). */
  metrics?: MetricsSource;
  /** Origins besides the request's own Host allowed to POST (e.g. behind a proxy that rewrites Host). */
  trustedOrigins?: string[];
}

/** What the dashboard needs of a queue (the public Queue has these; no import of queue.ts). */
export interface DashboardQueue {
  readonly internals: QueueContext;
  readonly AsyncTask?: AsyncTaskModel;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;

const OPTIONS = ['authorize', 'readOnly', 'secret', 'base', 'metrics', 'trustedOrigins'];

export function dashboard(queue: DashboardQueue, options: DashboardOptions = {}): Handler {
  for (const k of Object.keys(options)) if (!OPTIONS.includes(k)) throw new TypeError(`dashboard: unknown option '${k}' (known: ${OPTIONS.join(', ')})`);
  if (options.authorize !== undefined && typeof options.authorize !== 'function') throw new TypeError('dashboard: authorize must be a function (req) => "all" | "read" | false');
  if (options.base !== undefined && (typeof options.base !== 'string' || !/^(\/[^/?#]+)*\/?$/.test(options.base))) throw new TypeError(`dashboard: base must be a path like '/async' (got ${JSON.stringify(options.base)})`);
  const ctx = queue.internals;
  const model = queue.AsyncTask;
  const host: SearchHost = { ctx, model };
  const csrf = new Csrf(options.secret, options.trustedOrigins);
  const metrics = options.metrics ?? (ctx.metrics ? new RedisMetricsSource(ctx) : ctx.mirror && model?.sequelize ? new SqlMetricsSource(model.sequelize, String(model.getTableName())) : new NoMetricsSource());

  return (req, res) => {
    const base = mountPrefix(req, options.base);
    let view: View = { base, token: '', canWrite: false };
    handle(req, res, base, (v) => { view = v; }).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      // A 500 says what failed, not where: no stack trace on the page.
      const message = e instanceof HttpError ? e.message : `the dashboard could not answer: ${(e as Error)?.message ?? String(e)}`;
      if (res.headersSent) { res.end(); return; }
      if (wantsJson(req)) { res.statusCode = status; res.setHeader('Content-Type', 'application/json; charset=utf-8'); res.end(JSON.stringify({ error: message })); return; }
      sendHtml(res, status, errorPage(view, status, message));
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse, base: string, setView: (v: View) => void): Promise<void> {
    const { path, query } = route(req, base, options.base !== undefined);
    const method = req.method ?? 'GET';
    if (method === 'GET' || method === 'HEAD') {
      const asset = /^\/assets\/([\w.-]+)$/.exec(path);
      if (asset) { if (!sendAsset(res, asset[1])) throw notFound(`there is no asset ${asset[1]}`); return; }
    }
    const access = options.authorize ? await options.authorize(req) : 'all';
    if (access !== 'all' && access !== 'read') throw forbidden('you are not allowed to see this dashboard');
    const { token, fresh } = csrf.tokenFor(req);
    const v: View = { base, token, canWrite: access === 'all' && !options.readOnly, flash: flash(query) };
    setView(v);
    if (fresh) res.setHeader('Set-Cookie', `${COOKIE}=${token}; Path=${base || '/'}; HttpOnly; SameSite=Strict${secureRequest(req) ? '; Secure' : ''}`);
    if (method === 'POST') return post(req, res, v, path, access);
    if (method !== 'GET' && method !== 'HEAD') throw forbidden(`${method} is not allowed: the dashboard reads with GET and changes with POST from its own forms`);
    if (/^\/tasks\/[^/]+\/(retry|cancel|delete)$/.test(path)) {
      throw forbidden('changes need a POST from the dashboard\'s own form (with its CSRF token)');
    }
    return get(res, v, path, query);
  }

  async function get(res: ServerResponse, v: View, path: string, query: URLSearchParams): Promise<void> {
    if (path === '/' || path === '/overview') {
      return sendHtml(res, 200, overviewPage(v, await overview(ctx, metrics), metrics.enabled ? null : metrics.unavailable));
    }
    if (path === '/api/overview') return sendJson(res, await overview(ctx, metrics));
    if (path === '/metrics') {
      res.writeHead(200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE, 'Cache-Control': 'no-store' });
      res.end(await prometheusText(ctx));
      return;
    }
    if (path === '/api/metrics') {
      const range = query.get('range') ?? 'hour';
      if (range !== 'hour' && range !== 'days') throw badRequest(`range must be 'hour' or 'days' (got '${range}')`);
      const q = parseFilter(new URLSearchParams({ queue: query.get('queue') ?? '' })).queue;
      return sendJson(res, { series: await metrics.series(range as MetricsRange, q), unavailable: metrics.unavailable });
    }
    if (path === '/tasks') {
      const f = parseFilter(query);
      const p = parsePage(query);
      return sendHtml(res, 200, tasksPage(v, f, p, await search(host, f, p), await ctx.queueNames()));
    }
    const one = /^\/tasks\/([^/]+)$/.exec(path);
    if (one) return sendHtml(res, 200, taskPage(v, await loadTask(one[1])));
    if (path === '/scheduled') {
      const q = parseFilter(new URLSearchParams({ queue: query.get('queue') ?? '' })).queue;
      const p = parsePage(query);
      return sendHtml(res, 200, scheduledPage(v, q, p, await scheduledTasks(ctx, q, p)));
    }
    if (path === '/workers') return sendHtml(res, 200, workersPage(v, await workers(ctx), await runningByWorker(ctx)));
    if (path === '/bulk') {
      if (!v.canWrite) throw forbidden(refusal(v));
      const action = bulkAction(query.get('do'));
      const f = parseFilter(query);
      const { count, more } = await bulkCount(host, action, f);
      return sendHtml(res, 200, confirmPage(v, action, f, count, more));
    }
    throw notFound(`there is no page ${path}`);
  }

  async function post(req: IncomingMessage, res: ServerResponse, v: View, path: string, access: Access): Promise<void> {
    if (access !== 'all') throw forbidden('you have read-only access to this dashboard: changes are refused');
    if (options.readOnly) throw forbidden('this dashboard is read-only: changes are refused');
    const body = await formBody(req);
    const why = csrf.refuse(req, body.get(FIELD) ?? undefined);
    if (why) throw forbidden(`refused: ${why}`);
    const one = /^\/tasks\/([^/]+)\/([a-z]+)$/.exec(path);
    if (one) {
      const id = taskId(one[1]);
      if (!(ACTIONS as readonly string[]).includes(one[2])) throw notFound(`there is no action ${one[2]}`);
      const out = await actOn(ctx, model, one[2] as Action, id);
      const to = one[2] === 'delete' && out.ok ? link(v, '/tasks') : link(v, `/tasks/${id}`);
      return redirect(res, withFlash(to, out));
    }
    if (path === '/bulk') {
      const action = bulkAction(body.get('do'));
      const f = parseFilter(body);
      const out = await bulk(host, action, f);
      return redirect(res, withFlash(link(v, '/tasks', filterParams(f)), out));
    }
    throw notFound(`there is no action at ${path}`);
  }

  async function loadTask(raw: string) {
    const id = taskId(raw);
    const detail = await taskDetail(ctx, id);
    if (!detail) throw notFound(`there is no task ${id} (never enqueued, deleted, or expired${ctx.mirror ? '' : ' and not mirrored'})`);
    const hash = await ctx.readHash(detail.task.queue, id);
    const row = model && ctx.mirror ? ((await model.findByPk(id, { raw: true })) as unknown as Record<string, unknown> | null) : undefined;
    return { detail, hash, row };
  }

  function withFlash(to: string, out: { ok: boolean; message: string }): string {
    const ok = out.ok ? '1' : '0';
    const sep = to.includes('?') ? '&' : '?';
    return `${to}${sep}${new URLSearchParams({ msg: out.message, ok, sig: csrf.sign(`${ok}${out.message}`) })}`;
  }

  /** The message of the last action, when it carries our signature (a link cannot make the page say anything). */
  function flash(q: URLSearchParams): View['flash'] {
    const msg = q.get('msg');
    const ok = q.get('ok') === '1' ? '1' : '0';
    if (!msg || q.get('sig') !== csrf.sign(`${ok}${msg}`)) return undefined;
    return { ok: ok === '1', message: msg };
  }

  function refusal(v: View): string {
    return options.readOnly ? 'this dashboard is read-only: changes are refused' : 'you have read-only access to this dashboard: changes are refused';
  }
}

function taskId(raw: string): number {
  if (!/^\d{1,15}$/.test(raw) || Number(raw) < 1) throw notFound(`there is no task '${raw}' (a task id is a positive whole number)`);
  return Number(raw);
}

function bulkAction(x: string | null): BulkAction {
  if (x !== 'retry' && x !== 'delete') throw badRequest(`a bulk action is 'retry' or 'delete' (got '${x ?? ''}')`);
  return x;
}

const wantsJson = (req: IncomingMessage) => (req.url ?? '').includes('/api/');
const secureRequest = (req: IncomingMessage) => Boolean((req.socket as { encrypted?: boolean }).encrypted) || req.headers['x-forwarded-proto'] === 'https';
