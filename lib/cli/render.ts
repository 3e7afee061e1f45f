// Text (and --json) for `status`, `ls` and `inspect`, from the read layer's plain data.
import { hostname } from 'os';
import { inspect as show } from 'util';
import type { Queue } from '../queue';
import type { QueueLimits } from '../../types';
import { countFailed, listTasks, queueStats, taskDetail, workers, ListQuery, TaskDetail } from '../queries';
import type { PresenceEntry } from '../presence';
import { pidFiles, alive } from './daemon';
import { taskLabel } from '../label';

export function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const w = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join('  ').trimEnd()).join('\n');
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor(s / 3600) % 24).padStart(2, '0')}h`;
}

const mb = (bytes: number) => `${Math.round(bytes / 1048576)} MB`;
const label = (t: { objectType: string; objectId: string | null; action: string }) => taskLabel(t.objectType, t.objectId, t.action);

/** "recovered after its worker died": what a stalled count means to a person. */
function recovered(stalled: number, by: string | null): string {
  if (!(stalled > 0)) return '';
  const times = stalled > 1 ? ` (${stalled} times)` : '';
  return by ? `recovered after its worker ${by} died${times}` : `recovered after its worker died (its lease ran out)${times}`;
}

interface WorkerRow extends PresenceEntry { alive: boolean; uptimeMs: number }
interface QueueRow { queued: number; scheduled: number; running: number; finished: number; failed: number; mirrorLag: number; paused: boolean; limits: QueueLimits | null; heldUntil: number | null }

/** The FLOW column: paused, held (a RateLimitedError), limits; '-' for none. */
function flow(s: QueueRow, now: number): string {
  const parts = [s.paused ? 'paused' : '', s.heldUntil ? `held ${Math.max(0, s.heldUntil - now)}ms` : '',
    s.limits?.rate ? `rate ${s.limits.rate.max}/${s.limits.rate.duration}ms` : '', s.limits?.concurrency ? `max ${s.limits.concurrency} running` : ''];
  return parts.filter(Boolean).join(', ') || '-';
}

export async function status(q: Queue, o: { json: boolean; pidDir: string }): Promise<string> {
  const ctx = q.internals;
  const now = Date.now();
  const me = hostname();
  const live: WorkerRow[] = (await workers(ctx)).map((e) => ({
    ...e, uptimeMs: now - e.started,
    // Same host: ask the kernel; elsewhere an unexpired heartbeat is all there is.
    alive: e.host === me ? alive(e.pid) : true,
  }));
  // Local supervisors with no worker in Redis (starting, restarting, or unable to reach it).
  const local = pidFiles(o.pidDir).filter((f) => !live.some((w) => w.host === me && (w.supervisor === f.pid || (w.uid === f.uid && f.pid !== null))))
    .map((f) => ({ uid: f.uid, pid: f.pid, alive: f.pid !== null && alive(f.pid), pidFile: f.path }));
  const queues: Record<string, QueueRow> = {};
  for (const [name, s] of Object.entries(await queueStats(ctx))) {
    const f = await countFailed(ctx, name);
    queues[name] = { queued: s.queued, scheduled: s.scheduled, running: s.running, finished: s.finished, failed: f.failed, mirrorLag: s.mirrorLag.events,
      paused: s.paused, limits: s.limits, heldUntil: s.heldUntil };
  }
  if (o.json) return JSON.stringify({ prefix: q.prefix, workers: live, unregistered: local, queues }, null, 2);
  const parts: string[] = [];
  if (live.length === 0 && local.length === 0) parts.push(`no workers (prefix ${q.prefix})`);
  else {
    parts.push(table(['WORKER', 'UID', 'HOST', 'PID', 'ALIVE', 'UPTIME', 'DONE', 'FAILED', 'RUNNING', 'MEMORY', 'QUEUES'], [
      ...live.map((w) => [w.name, w.uid ?? '-', w.host, w.pid, w.state === 'stopping' ? 'stopping' : w.alive ? 'yes' : 'no',
        duration(w.uptimeMs), w.done, w.failed, w.running, mb(w.rss), w.queues.join(',')]),
      ...local.map((l) => [`async${l.uid} (no heartbeat)`, l.uid, me, l.pid ?? '?', l.alive ? 'yes' : 'no', '-', '-', '-', '-', '-', '-']),
    ]));
  }
  const names = Object.keys(queues);
  parts.push(names.length === 0 ? 'no queues yet' : table(['QUEUE', 'QUEUED', 'SCHEDULED', 'RUNNING', 'FAILED', 'FINISHED', 'MIRROR LAG', 'FLOW'],
    names.map((n) => { const s = queues[n]; return [n, s.queued, s.scheduled, s.running, s.failed, s.finished, s.mirrorLag, flow(s, now)]; })));
  return parts.join('\n\n');
}

export async function list(q: Queue, o: ListQuery & { json: boolean }): Promise<string> {
  const shown = await listTasks(q.internals, o);
  const error = (r: { state: string; result: unknown }) => (r.state === 'failed' && r.result instanceof Error ? `${r.result.name}: ${r.result.message}` : undefined);
  if (o.json) {
    return JSON.stringify(shown.map((r) => ({ id: r.id, queue: r.queue, state: r.state, type: r.objectType, objectId: r.objectId, action: r.action,
      priority: r.priority, attempts: r.attempts, worker: r.worker, scheduledAt: r.scheduledAt, finishedAt: r.finishedAt, error: error(r) })), null, 2);
  }
  if (shown.length === 0) return `no tasks${o.state ? ` in state ${o.state}` : ''}${o.queue ? ` in queue ${o.queue}` : ''}`;
  return table(['ID', 'QUEUE', 'STATE', 'PRI', 'TASK', 'ATTEMPTS', 'WHEN', 'NOTE'], shown.map((r) => [
    r.id, r.queue, r.state, r.priority, label(r), r.attempts,
    (r.finishedAt ?? r.scheduledAt)?.toISOString?.() ?? '-',
    error(r)?.split('\n')[0].slice(0, 80) ?? [r.state === 'running' ? `on ${r.worker}` : '', recovered(r.stalled, r.stalledBy)].filter(Boolean).join('; '),
  ]));
}

export function inspect(d: TaskDetail, json: boolean): string {
  const { task, extra } = d;
  const errors = task.errors.map((e) => ({ name: e.name, message: e.message, backtrace: e.backtrace ?? (e.stack ? e.stack.split('\n').slice(1).map((l) => l.trim()) : []) }));
  if (json) {
    const result = task.result instanceof Error ? { error: { name: task.result.name, message: task.result.message } } : task.result;
    return JSON.stringify({ ...task.toJSON(), result, errors, ...extra, inRedis: d.inRedis }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
  }
  const t = (x: Date | null) => (x ? x.toISOString() : '-');
  const lines: [string, string][] = [
    ['id', String(task.id)], ['task', label(task)], ['queue', task.queue], ['state', task.state],
    ['success', task.success === null ? '-' : String(task.success)], ['priority', String(task.priority)],
    ['args', show(task.args, { depth: 6, breakLength: 100 })],
    ['result', task.result instanceof Error ? `${task.result.name}: ${task.result.message}` : show(task.result, { depth: 6, breakLength: 100 })],
    ['attempts', String(task.attempts)], ['cancelled', String(task.cancelled)], ['worker', task.worker ?? '-'],
    ['created', t(task.createdAt)], ['scheduled', t(task.scheduledAt)], ['started', t(task.startedAt)], ['finished', t(task.finishedAt)],
    ...Object.entries(extra),
  ];
  if (task.recurrence) lines.push(['recurrence', task.recurrence]);
  if (task.unique) lines.push(['unique', task.unique]);
  const again = recovered(Number(extra.stalled ?? 0), extra.stalled_by ?? null);
  if (again) lines.push(['recovered', again]);
  if (!d.inRedis) lines.push(['stored', 'only in the SQL history (expired from Redis)']);
  const w = Math.max(...lines.map(([k]) => k.length));
  let s = lines.map(([k, v]) => `${k.padEnd(w)}  ${v.replace(/\n/g, `\n${' '.repeat(w + 2)}`)}`).join('\n');
  errors.forEach((e, i) => {
    s += `\n\nerror ${errors.length > 1 ? `${i + 1} of ${errors.length}` : ''}`.trimEnd() + `: ${e.name}: ${e.message}`;
    for (const l of e.backtrace) s += `\n    ${l}`;
  });
  return s;
}

