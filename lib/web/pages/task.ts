// One task: what it runs (type, object id, action, args), its result, every attempt's error with
// its backtrace, times, worker, attempts, and the Redis hash and the mirror row side by side.
import { html, Html, show, when } from '../html';
import type { TaskDetail } from '../../queries';
import type { StoredError } from '../../../types';
import type { RawHash } from '../../util/values';
import { View, page, postForm } from './layout';

export interface TaskSides {
  detail: TaskDetail;
  /** The task hash as stored (null: no longer in Redis). */
  hash: RawHash | null;
  /** The mirror row as stored (null: none; undefined: the queue does not mirror). */
  row: Record<string, unknown> | null | undefined;
}

const BINARY = /^(args|result|error(:\d+)?)$/;

function cell(k: string, x: unknown): string {
  if (x === null || x === undefined) return 'NULL';
  if (Buffer.isBuffer(x)) {
    if (BINARY.test(k) || x.some((b) => b < 9)) return `(msgpack, ${x.length} bytes)`;
    const s = x.toString('utf8');
    return k.endsWith('_at') && /^\d{12,14}$/.test(s) ? `${s} (${when(Number(s))})` : s;
  }
  if (x instanceof Date) return when(x);
  return String(x);
}

function sideTable(title: string, entries: [string, unknown][] | null, missing: string): Html {
  return html`<div class="side"><h3>${title}</h3>${entries === null ? html`<p class="empty">${missing}</p>`
    : html`<table class="kv">${entries.map(([k, x]) => html`<tr><th>${k}</th><td><code>${cell(k, x)}</code></td></tr>`)}</table>`}</div>`;
}

function errorBlock(e: StoredError, n: number | null): Html {
  const bt = Array.isArray(e.backtrace) && e.backtrace.length ? e.backtrace.join('\n') : (e.stack ?? '');
  return html`<div class="error"><h3>${n !== null ? `Attempt ${n}: ` : ''}<span class="ename">${e.name}</span>: ${e.message}</h3><pre class="backtrace">${bt}</pre></div>`;
}

export function taskPage(v: View, s: TaskSides): string {
  const t = s.detail.task;
  const facts: [string, string | number][] = [
    ['Queue', t.queue], ['State', t.state], ['Task', `${t.objectType}${t.objectId !== null ? `(${t.objectId})` : ''}#${t.action}`],
    ['Priority', t.priority], ['Attempts', t.attempts], ['Worker', t.worker ?? ''], ['Created', when(t.createdAt)],
    ['Scheduled', when(t.scheduledAt)], ['Started', when(t.startedAt)], ['Finished', when(t.finishedAt)],
    ['Cancelled', t.cancelled ? 'yes' : 'no'], ...Object.entries(s.detail.extra) as [string, string][],
    ...(t.recurrence ? [['Recurrence', t.recurrence] as [string, string]] : []),
    ...(t.unique ? [['Unique key', t.unique] as [string, string]] : []),
  ];
  const errors = t.errors.length ? t.errors : (t.result instanceof Error ? [t.result as StoredError] : []);
  const actions = html`<p class="actions">
${t.state === 'failed' && s.hash ? postForm(v, `/tasks/${t.id}/retry`, 'Retry') : ''}
${(t.state === 'queued' || t.state === 'scheduled' || (t.state === 'running' && !t.cancelled)) && s.hash ? postForm(v, `/tasks/${t.id}/cancel`, 'Cancel') : ''}
${t.state !== 'running' ? postForm(v, `/tasks/${t.id}/delete`, 'Delete', { danger: true, confirm: `Delete task ${t.id} for good?` }) : ''}</p>`;
  const hashEntries = s.hash ? Object.entries(s.hash).sort(([a], [b]) => a.localeCompare(b)) : null;
  const rowEntries = s.row ? Object.entries(s.row) : null;
  const body = html`${actions}
<table class="kv facts">${facts.map(([k, x]) => html`<tr><th>${k}</th><td>${k === 'State' ? html`<span class="state ${x}" id="task-state">${x}</span>` : x}</td></tr>`)}</table>
<h2>Args</h2><pre class="value" id="task-args">${show(t.args)}</pre>
${t.success === true ? html`<h2>Result</h2><pre class="value" id="task-result">${show(t.result)}</pre>` : ''}
${errors.length ? html`<h2>Errors</h2>${errors.map((e, i) => errorBlock(e, t.errors.length > 0 ? i + 1 : null))}` : ''}
<h2>Stored</h2><div class="sides">
${sideTable('Redis hash', hashEntries, 'Not in Redis any more (finished and expired).')}
${s.row === undefined ? html`<div class="side"><h3>SQL mirror row</h3><p class="empty">This queue does not mirror to SQL.</p></div>`
    : sideTable('SQL mirror row', rowEntries, 'No row yet (the mirror writes it shortly after a change).')}</div>`;
  return page(v, `Task ${t.id}`, body, 'Tasks');
}
