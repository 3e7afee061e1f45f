// The overview page: a row of counts per queue (each a link to its tasks) and the throughput
// chart. dashboard.js refreshes the counts from <mount>/api/overview while the tab is visible and
// draws the chart from <mount>/api/metrics.
import { html, age } from '../html';
import type { Overview } from '../overview';
import { View, page, link } from './layout';

const COUNTS = ['queued', 'scheduled', 'running', 'succeeded', 'failed'] as const;

export function overviewPage(v: View, o: Overview, chartNote: string | null): string {
  const showPaused = o.queues.some((q) => q.paused !== undefined);
  const totals = COUNTS.map((c) => o.queues.reduce((n, q) => n + q[c], 0));
  const body = html`
<section class="cards">${COUNTS.map((c, i) => html`<a class="card ${c}" href="${link(v, '/tasks', { state: c })}"><span class="n" data-total="${c}">${totals[i]}</span><span class="l">${c}</span></a>`)}</section>
<table class="queues" id="queues"><thead><tr><th>Queue</th>${COUNTS.map((c) => html`<th class="num">${c}</th>`)}${showPaused ? html`<th>paused</th>` : ''}<th class="num">oldest due</th><th class="num">mirror lag</th></tr></thead>
<tbody>${o.queues.length === 0 ? html`<tr><td colspan="9" class="empty">No queue has been used yet.</td></tr>` : o.queues.map((q) => html`<tr data-queue="${q.queue}">
<td><a href="${link(v, '/tasks', { queue: q.queue })}">${q.queue}</a></td>
${COUNTS.map((c) => html`<td class="num"><a data-count="${c}" href="${link(v, '/tasks', { queue: q.queue, state: c })}">${q[c]}${(c === 'succeeded' || c === 'failed') && q.finishedCapped ? '+' : ''}</a></td>`)}
${showPaused ? html`<td data-count="paused">${q.paused ? 'paused' : ''}</td>` : ''}
<td class="num" data-count="oldestDue">${age(q.oldestDueMs)}</td><td class="num" data-count="mirrorLag">${q.mirrorLag}</td></tr>`)}</tbody></table>
<p class="note">${o.finishedFrom === 'redis' ? 'Succeeded and failed count the finished tasks still in Redis (they expire after the retention time).' : `Succeeded and failed count ${o.finishedFrom}.`} <span id="updated" data-at="${o.at}">Updated live.</span></p>
<section class="charts">
<div class="chart" data-range="hour"><h2>Processed and failed per minute, last hour</h2>${chartNote ? html`<p class="chart-empty">${chartNote}</p>` : html`<div class="plot"></div>`}</div>
<div class="chart" data-range="days"><h2>Processed and failed per hour, last 7 days</h2>${chartNote ? html`<p class="chart-empty">${chartNote}</p>` : html`<div class="plot"></div>`}</div>
</section>`;
  return page({ ...v }, 'Overview', body, 'Overview');
}
