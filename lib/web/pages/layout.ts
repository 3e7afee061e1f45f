// The page shell every dashboard page shares: head (our CSS and JS as files: the CSP allows no
// inline script), navigation, the flash message of the last action, and the forms' CSRF field.
import { html, Html, query } from '../html';
import { FIELD } from '../csrf';

/** What a page needs to know about the request it answers. */
export interface View {
  /** Mount prefix ('' or '/async'): every link starts with it. */
  base: string;
  /** The CSRF token for the page's forms. */
  token: string;
  /** Whether this request may change anything (not read-only, authorize gave 'all'). */
  canWrite: boolean;
  /** The message of the action just done, if any. */
  flash?: { ok: boolean; message: string };
  title?: string;
}

const NAV: [string, string][] = [['/', 'Overview'], ['/tasks', 'Tasks'], ['/tasks?state=failed', 'Failed'], ['/scheduled', 'Scheduled'], ['/workers', 'Workers']];

export function link(v: View, path: string, params: Record<string, string | number | undefined | null> = {}): string {
  return `${v.base}${path}${query(params)}`;
}

/** A POST form with the CSRF field (rendered only when the request may change things). */
export function postForm(v: View, path: string, label: string, opts: { fields?: Record<string, string | undefined>; danger?: boolean; confirm?: string } = {}): Html {
  if (!v.canWrite) return html``;
  const hidden = Object.entries(opts.fields ?? {}).filter(([, x]) => x !== undefined && x !== '')
    .map(([k, x]) => html`<input type="hidden" name="${k}" value="${x}">`);
  return html`<form method="post" action="${v.base}${path}" class="inline"${opts.confirm ? html` data-confirm="${opts.confirm}"` : ''}>
<input type="hidden" name="${FIELD}" value="${v.token}">${hidden}<button type="submit" class="${opts.danger ? 'danger' : ''}">${label}</button></form>`;
}

export function page(v: View, title: string, body: Html, active = ''): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · sequelize-async</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="${v.base}/assets/uPlot.min.css"><link rel="stylesheet" href="${v.base}/assets/dashboard.css">
<script src="${v.base}/assets/uPlot.iife.min.js" defer></script><script src="${v.base}/assets/dashboard.js" defer></script>
</head><body data-base="${v.base}">
<header><a class="brand" href="${v.base}/">sequelize-async</a><nav>${NAV.map(([p, l]) => html`<a href="${v.base}${p}" class="${active === l ? 'active' : ''}">${l}</a>`)}</nav>
${v.canWrite ? '' : html`<span class="badge">read-only</span>`}</header>
<main>
${v.flash ? html`<p class="flash ${v.flash.ok ? 'ok' : 'bad'}" role="status">${v.flash.message}</p>` : ''}
<h1>${title}</h1>
${body}
</main></body></html>`.value;
}

/** The error page (404, 400, 403, 500): the message only, never a stack trace. */
export function errorPage(v: View, status: number, message: string): string {
  const titles: Record<number, string> = { 400: 'Bad request', 403: 'Forbidden', 404: 'Not found', 413: 'Too large', 500: 'Server error' };
  return page(v, `${status} ${titles[status] ?? 'Error'}`, html`<p class="error-message">${message}</p><p><a href="${v.base}/">Back to the overview</a></p>`);
}
