// The workers page: every live worker of every host (presence entries in Redis).
import { html, when, age } from '../html';
import type { PresenceEntry } from '../../presence';
import type { RunningTask } from '../running';
import { View, page, link } from './layout';

const mb = (n: number) => `${(n / 1048576).toFixed(0)} MB`;

export function workersPage(v: View, list: PresenceEntry[], running: Map<string, RunningTask[]>, now = Date.now()): string {
  const body = list.length === 0 ? html`<p class="empty">No worker is running (workers started by the CLI announce themselves here).</p>`
    : html`<table class="workers"><thead><tr><th>Name</th><th>Host</th><th class="num">Pid</th><th class="num">Uid</th><th>Queues</th><th class="num">Concurrency</th><th class="num">Running</th><th>Runs now</th><th class="num">Done</th><th class="num">Failed</th><th class="num">Memory</th><th>Since</th><th>State</th></tr></thead><tbody>
${list.map((w) => html`<tr><td>${w.name}</td><td>${w.host}</td><td class="num">${w.pid}</td><td class="num">${w.uid ?? ''}</td><td>${w.queues.join(', ')}</td>
<td class="num">${w.concurrency}</td><td class="num">${w.running}</td>
<td class="now">${(running.get(w.name) ?? []).map((t) => html`<a href="${link(v, `/tasks/${t.id}`)}">${t.id} ${t.label}</a> `)}</td><td class="num">${w.done}</td><td class="num">${w.failed}</td><td class="num">${mb(w.rss)}</td>
<td title="${when(w.started)}">${when(w.started)} (${age(now - w.started)})</td><td>${w.state}</td></tr>`)}</tbody></table>`;
  return page(v, 'Workers', body, 'Workers');
}
