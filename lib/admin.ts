// What the CLI reads and changes in Redis besides running workers: `status` (presence entries of
// every host, counts per queue), `ls` (tasks from the queue indexes), `inspect`, `retry`
// (retry.lua) and the `mirror` command's loop.
import { hostname } from 'os';
import { inspect as show } from 'util';
import { join } from 'path';
import type { Queue } from './queue';
import type { Task } from './task';
import { fieldsFromHash, RawHash } from './task';
import { taskKey } from './keys';
import { listWorkers, PresenceEntry } from './presence';
import { pidFiles, alive } from './cli/daemon';

export const STATES = ['queued', 'scheduled', 'running', 'succeeded', 'failed', 'cancelled'];
const FINAL = ['succeeded', 'failed', 'cancelled'];

function table(head: string[], rows: (string | number)[][]): string {
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

/** Failed tasks among the finished ones of a queue (capped: status must stay quick). */
async function countFailed(q: Queue, queue: string, cap = 100000): Promise<{ failed: number; capped: boolean }> {
  const k = q.keys(queue);
  const ids = await q.redis.zrevrange(k.finished, 0, cap - 1);
  let failed = 0;
  for (let i = 0; i < ids.length; i += 1000) {
    const states = await Promise.all(ids.slice(i, i + 1000).map((id) => q.redis.hget(taskKey(k, id), 'state')));
    failed += states.filter((s) => s === 'failed').length;
  }
  return { failed, capped: ids.length >= cap };
}

interface WorkerRow extends PresenceEntry { alive: boolean; uptimeMs: number }

export async function status(q: Queue, o: { json: boolean; pidDir: string }): Promise<string> {
  const now = Date.now();
  const me = hostname();
  const workers: WorkerRow[] = (await listWorkers(q.redis, q.prefix, now)).map((e) => ({
    ...e, uptimeMs: now - e.started,
    // Same host: ask the kernel; elsewhere an unexpired heartbeat is all there is.
    alive: e.host === me ? alive(e.pid) : true,
  }));
  // Local supervisors with no worker in Redis (starting, restarting, or unable to reach it).
  const local = pidFiles(o.pidDir).filter((f) => !workers.some((w) => w.host === me && (w.supervisor === f.pid || (w.uid === f.uid && f.pid !== null))))
    .map((f) => ({ uid: f.uid, pid: f.pid, alive: f.pid !== null && alive(f.pid), pidFile: f.path }));
  const stats = await q.stats();
  const queues: Record<string, QueueRow> = {};
  for (const [name, s] of Object.entries(stats)) {
    const f = await countFailed(q, name);
    queues[name] = { queued: s.queued, scheduled: s.scheduled, running: s.running, finished: s.finished, failed: f.failed, mirrorLag: s.mirrorLag.events };
  }
  if (o.json) return JSON.stringify({ prefix: q.prefix, workers, unregistered: local, queues }, null, 2);
  const parts: string[] = [];
  if (workers.length === 0 && local.length === 0) parts.push(`no workers (prefix ${q.prefix})`);
  else {
    parts.push(table(['WORKER', 'UID', 'HOST', 'PID', 'ALIVE', 'UPTIME', 'DONE', 'FAILED', 'RUNNING', 'MEMORY', 'QUEUES'], [
      ...workers.map((w) => [w.name, w.uid ?? '-', w.host, w.pid, w.state === 'stopping' ? 'stopping' : w.alive ? 'yes' : 'no',
        duration(w.uptimeMs), w.done, w.failed, w.running, mb(w.rss), w.queues.join(',')]),
      ...local.map((l) => [`async${l.uid} (no heartbeat)`, l.uid, me, l.pid ?? '?', l.alive ? 'yes' : 'no', '-', '-', '-', '-', '-', '-']),
    ]));
  }
  const names = Object.keys(queues);
  parts.push(names.length === 0 ? 'no queues yet' : table(['QUEUE', 'QUEUED', 'SCHEDULED', 'RUNNING', 'FAILED', 'FINISHED', 'MIRROR LAG'],
    names.map((n) => { const s = queues[n]; return [n, s.queued, s.scheduled, s.running, s.failed, s.finished, s.mirrorLag]; })));
  return parts.join('\n\n');
}

interface QueueRow { queued: number; scheduled: number; running: number; finished: number; failed: number; mirrorLag: number }

export interface ListOptions { state?: string; queue?: string; limit: number; json: boolean }

/** Candidate ids of one queue in the wanted states, at most `limit` of each index. */
async function candidates(q: Queue, queue: string, state: string | undefined, limit: number): Promise<{ id: string; h: RawHash }[]> {
  const k = q.keys(queue);
  const want = (s: string) => state === undefined || state === s;
  const ids: string[] = [];
  if (want('running')) ids.push(...await q.redis.zrange(k.running, 0, limit - 1));
  if (want('scheduled')) ids.push(...await q.redis.zrange(k.scheduled, 0, limit - 1));
  if (want('queued')) {
    // Due tasks, per priority: a list of "time:id" (in-order arrivals) and a zset whose members are
    // the id behind a length letter (the rest).
    for (const p of await q.redis.zrevrange(k.levels, 0, -1)) {
      if (ids.length >= 3 * limit) break;
      ids.push(...(await q.redis.lrange(`${k.base}fifo:${p}`, 0, limit - 1).catch(() => [] as string[])).map((e) => e.slice(e.indexOf(':') + 1)));
      ids.push(...(await q.redis.zrange(`${k.base}due:${p}`, 0, limit - 1)).map((m) => m.slice(1)));
    }
  }
  const rows: { id: string; h: RawHash }[] = [];
  const read = async (list: string[]) => {
    const hs = await Promise.all(list.map((id) => q.redis.hgetallBuffer(taskKey(k, id)) as unknown as Promise<RawHash>));
    list.forEach((id, i) => { if (hs[i] && Object.keys(hs[i]).length) rows.push({ id, h: hs[i] }); });
  };
  await read(ids);
  if (state === undefined || FINAL.includes(state)) {
    // Finished, newest first, until enough of the wanted state.
    let found = 0;
    for (let off = 0; found < limit; off += 500) {
      const page = await q.redis.zrevrange(k.finished, off, off + 499);
      if (page.length === 0) break;
      const before = rows.length;
      await read(page);
      const added = rows.splice(before).filter((r) => want(String(r.h.state)));
      rows.push(...added.slice(0, limit - found));
      found += added.length;
      if (off > 100000) break;
    }
  }
  return rows;
}

export async function list(q: Queue, o: ListOptions): Promise<string> {
  const queues = o.queue !== undefined ? [o.queue] : await q.queueNames();
  const rows: (ReturnType<typeof fieldsFromHash> & { id: number })[] = [];
  for (const queue of queues) {
    for (const { id, h } of await candidates(q, queue, o.state, o.limit)) {
      const f = fieldsFromHash(queue, h);
      if (o.state === undefined || f.state === o.state) rows.push({ ...f, id: Number(id) });
    }
  }
  rows.sort((a, b) => b.id - a.id);
  const shown = rows.slice(0, o.limit);
  if (o.json) {
    return JSON.stringify(shown.map((r) => ({ id: r.id, queue: r.queue, state: r.state, type: r.objectType, objectId: r.objectId, action: r.action,
      priority: r.priority, attempts: r.attempts, worker: r.worker, scheduledAt: r.scheduledAt, finishedAt: r.finishedAt,
      error: r.state === 'failed' && r.result instanceof Error ? `${r.result.name}: ${r.result.message}` : undefined })), null, 2);
  }
  if (shown.length === 0) return `no tasks${o.state ? ` in state ${o.state}` : ''}${o.queue ? ` in queue ${o.queue}` : ''}`;
  return table(['ID', 'QUEUE', 'STATE', 'PRI', 'TASK', 'ATTEMPTS', 'WHEN', 'NOTE'], shown.map((r) => [
    r.id, r.queue, r.state, r.priority, label(r), r.attempts,
    (r.finishedAt ?? r.scheduledAt)?.toISOString?.() ?? '-',
    r.state === 'failed' && r.result instanceof Error ? `${r.result.name}: ${r.result.message.split('\n')[0]}`.slice(0, 80)
      : r.state === 'running' ? `on ${r.worker}` : '',
  ]));
}

const label = (t: { objectType: string; objectId: string | null; action: string }) =>
  t.objectId !== null ? `${t.objectType}(${t.objectId})#${t.action}` : `${t.objectType}#${t.action}`;

const EXTRA = ['max_attempts', 'backoff', 'timeout', 'stalled', 'released'];

export async function inspect(q: Queue, task: Task, json: boolean): Promise<string> {
  const raw = await q.readHash(task.queue, task.id);
  const extra: Record<string, string> = {};
  for (const f of EXTRA) if (raw && raw[f] !== undefined) extra[f] = raw[f].toString();
  const errors = task.errors.map((e) => ({ name: e.name, message: e.message, backtrace: e.backtrace ?? (e.stack ? e.stack.split('\n').slice(1).map((l) => l.trim()) : []) }));
  if (json) {
    const result = task.result instanceof Error ? { error: { name: task.result.name, message: task.result.message } } : task.result;
    return JSON.stringify({ ...task.toJSON(), result, errors, ...extra, inRedis: raw !== null }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
  }
  const d = (x: Date | null) => (x ? x.toISOString() : '-');
  const lines: [string, string][] = [
    ['id', String(task.id)], ['task', label(task)], ['queue', task.queue], ['state', task.state],
    ['success', task.success === null ? '-' : String(task.success)], ['priority', String(task.priority)],
    ['args', show(task.args, { depth: 6, breakLength: 100 })],
    ['result', task.result instanceof Error ? `${task.result.name}: ${task.result.message}` : show(task.result, { depth: 6, breakLength: 100 })],
    ['attempts', String(task.attempts)], ['cancelled', String(task.cancelled)], ['worker', task.worker ?? '-'],
    ['created', d(task.createdAt)], ['scheduled', d(task.scheduledAt)], ['started', d(task.startedAt)], ['finished', d(task.finishedAt)],
    ...Object.entries(extra),
  ];
  if (raw === null) lines.push(['stored', 'only in the MySQL mirror (expired from Redis)']);
  const w = Math.max(...lines.map(([k]) => k.length));
  let s = lines.map(([k, v]) => `${k.padEnd(w)}  ${v.replace(/\n/g, `\n${' '.repeat(w + 2)}`)}`).join('\n');
  errors.forEach((e, i) => {
    s += `\n\nerror ${errors.length > 1 ? `${i + 1} of ${errors.length}` : ''}`.trimEnd() + `: ${e.name}: ${e.message}`;
    for (const l of e.backtrace) s += `\n    ${l}`;
  });
  return s;
}

/** retry.lua: 'queued', or the state that prevented it, or '' when the hash is gone. */
export async function retry(q: Queue, task: Task): Promise<string> {
  return String(await q.script('retry', task.queue, [String(task.id)]) ?? '');
}

function mirrorModule(): Record<string, unknown> {
  try {
    // Looked up at run time: a build without the mirror still runs every other command.
    return require(join(__dirname, 'mirror')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`the MySQL mirror is not part of this build (${(e as Error).message.split('\n')[0]})`);
  }
}

/** `migrate`: queue.migrate(), or the mirror module's migrate(queue). */
export async function migrate(q: Queue): Promise<void> {
  const own = (q as unknown as { migrate?: () => Promise<unknown> }).migrate;
  if (typeof own === 'function') { await own.call(q); return; }
  const m = mirrorModule().migrate as ((q: Queue) => Promise<unknown>) | undefined;
  if (typeof m !== 'function') throw new Error('this build of sequelize-async has no migrate()');
  await m(q);
}

type MirrorLoop = (q: Queue, o: { signal: AbortSignal; onError: (e: Error) => void }) => Promise<void>;

/** `mirror`: runs lib/mirror.ts's runMirror until SIGTERM/SIGINT (it drains what waits, then returns). */
export async function runMirror(q: Queue, say: (s: string) => void): Promise<number> {
  if (!q.mirror) throw new Error(`the queue of this app does not mirror to MySQL (setup() needs sequelize, and mirror not false)`);
  const loop = mirrorModule().runMirror as MirrorLoop | undefined;
  if (typeof loop !== 'function') throw new Error('lib/mirror has no runMirror export');
  const ac = new AbortController();
  const stopOn = (sig: string) => { say(`${sig}: stopping the mirror after the batch in flight`); ac.abort(); };
  process.once('SIGTERM', stopOn);
  process.once('SIGINT', stopOn);
  say(`mirroring queues of prefix ${q.prefix} to MySQL; SIGTERM/SIGINT stops`);
  await loop(q, { signal: ac.signal, onError: (e) => say(`mirror error (retrying): ${e.message}`) });
  say('mirror stopped');
  return 0;
}
