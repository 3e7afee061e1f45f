// The task list (filtered, paged, newest first), the scheduled list, and the confirm page of a
// bulk action. Every task value is interpolated through `html`, so it is escaped.
import { html, Html, show, when } from '../html';
import type { TaskRow } from '../../queries';
import { STATES } from '../../states';
import type { Filter, Found } from '../search';
import { REDIS_LOOK } from '../search';
import { BULK_CAP, BulkAction } from '../actions';
import { View, page, link, postForm } from './layout';

const short = (v: unknown, n = 80) => { const s = show(v).replace(/\s+/g, ' '); return s.length > n ? `${s.slice(0, n - 1)}…` : s; };

function lastError(r: TaskRow): string {
  const e = r.errors[r.errors.length - 1] ?? (r.result instanceof Error ? r.result : undefined);
  return e ? short(`${e.name}: ${e.message}`, 100) : '';
}

export function filterParams(f: Filter): Record<string, string | undefined> {
  return { state: f.state, queue: f.queue, type: f.type, action: f.action, objectId: f.objectId, error: f.error };
}

export function taskTable(v: View, rows: TaskRow[], timeCol: 'created' | 'scheduled' = 'created'): Html {
  if (rows.length === 0) return html`<p class="empty">No tasks match.</p>`;
  return html`<table class="tasks"><thead><tr><th class="num">Id</th><th>Queue</th><th>State</th><th>Task</th><th>Args</th><th>${timeCol === 'created' ? 'Created' : 'Due'}</th><th>Attempts</th><th>Error</th></tr></thead><tbody>
${rows.map((r) => html`<tr class="state-${r.state}"><td class="num"><a href="${link(v, `/tasks/${r.id}`)}">${r.id}</a></td><td>${r.queue}</td><td><span class="state ${r.state}">${r.state}</span></td>
<td><a href="${link(v, `/tasks/${r.id}`)}">${r.objectType}${r.objectId !== null ? `(${r.objectId})` : ''}#${r.action}</a></td><td><code>${short(r.args)}</code></td>
<td>${when(timeCol === 'created' ? r.createdAt : r.scheduledAt)}</td><td class="num">${r.attempts}</td><td class="err">${lastError(r)}</td></tr>`)}
</tbody></table>`;
}

function pager(v: View, path: string, params: Record<string, string | undefined>, p: number, more: boolean): Html {
  return html`<nav class="pager">${p > 1 ? html`<a href="${link(v, path, { ...params, page: p - 1 })}" rel="prev">← Newer</a>` : ''}
<span>Page ${p}</span>${more ? html`<a href="${link(v, path, { ...params, page: p + 1 })}" rel="next">Older →</a>` : ''}</nav>`;
}

function filterForm(v: View, f: Filter, queues: string[]): Html {
  const opt = (value: string, cur: string | undefined, label = value) => html`<option value="${value}"${value === (cur ?? '') ? html` selected` : ''}>${label}</option>`;
  return html`<form method="get" action="${v.base}/tasks" class="filters">
<label>State <select name="state">${opt('', f.state, 'any')}${STATES.map((s) => opt(s, f.state))}</select></label>
<label>Queue <select name="queue">${opt('', f.queue, 'any')}${queues.map((q) => opt(q, f.queue))}</select></label>
<label>Type <input name="type" value="${f.type ?? ''}" placeholder="Order"></label>
<label>Action <input name="action" value="${f.action ?? ''}" placeholder="sendMail"></label>
<label>Object id <input name="objectId" value="${f.objectId ?? ''}"></label>
<label>Error text <input name="error" value="${f.error ?? ''}" placeholder="timeout"></label>
<button type="submit">Filter</button></form>`;
}

export function tasksPage(v: View, f: Filter, p: number, found: Found, queues: string[]): string {
  const params = filterParams(f);
  const source = found.source === 'sql' ? 'Searched in the SQL history (the mirror).'
    : `From the Redis indexes${Object.values(params).some((x) => x && x !== f.state && x !== f.queue) ? ` (a filter looks at the newest ${REDIS_LOOK.toLocaleString('en')} tasks of each index per queue)` : ''}.`;
  const bulk = v.canWrite ? html`<p class="bulk">
<a class="button" href="${link(v, '/bulk', { ...params, do: 'retry' })}">Retry all failed matching…</a>
<a class="button danger" href="${link(v, '/bulk', { ...params, do: 'delete' })}">Delete all matching…</a></p>` : '';
  const title = f.state ? `Tasks: ${f.state}` : 'Tasks';
  return page(v, title, html`${filterForm(v, f, queues)}${bulk}${taskTable(v, found.rows)}${pager(v, '/tasks', params, p, found.more)}<p class="note">${source}</p>`,
    f.state === 'failed' && !f.queue ? 'Failed' : 'Tasks');
}

export function scheduledPage(v: View, queue: string | undefined, p: number, found: Found): string {
  return page(v, 'Scheduled tasks', html`${taskTable(v, found.rows, 'scheduled')}${pager(v, '/scheduled', { queue }, p, found.more)}<p class="note">Soonest first.</p>`, 'Scheduled');
}

export function confirmPage(v: View, action: BulkAction, f: Filter, count: number, more: boolean): string {
  const params = filterParams(action === 'retry' ? { ...f, state: 'failed' } : f);
  const what = Object.entries(params).filter(([, x]) => x).map(([k, x]) => html`<li>${k}: <code>${x}</code></li>`);
  const verb = action === 'retry' ? 'Retry' : 'Delete';
  const body = html`<p class="confirm">${count === 0 ? 'No task matches this filter.' : html`This will ${action} <strong id="bulk-count">${count}${more ? '+' : ''}</strong> task${count === 1 ? '' : 's'}.`}
 At most ${BULK_CAP} are changed per request${more ? '; run it again for the rest' : ''}.${action === 'delete' ? ' Running tasks are skipped; deleted tasks are gone from Redis and from the SQL history.' : ''}</p>
<ul class="criteria">${what.length ? what : html`<li>every task</li>`}</ul>
${count > 0 ? postForm(v, '/bulk', `${verb} ${count}${more ? '+' : ''} tasks`, { fields: { ...params, do: action }, danger: action === 'delete' }) : ''}
<p><a href="${link(v, '/tasks', filterParams(f))}">Back to the list</a></p>`;
  return page(v, `${verb} matching tasks?`, body, 'Tasks');
}
