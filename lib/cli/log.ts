// The worker process's log (`run`, and `start` into its log file): text lines, or one JSON object
// per line (--log=json) with time, level, worker and, for a task, its id, `Type(id)#action`,
// outcome, duration and attempt. --quiet drops the line per successful task and prints a summary
// line instead every ASYNC_SUMMARY_MS (default 60 s): tasks per second, failures, backlog.
import type { FinishedTaskEvent } from '../../types';
import { taskLabel } from '../label';

export type Level = 'info' | 'warn' | 'error';
export type Fields = Record<string, unknown>;

export interface Log {
  /** Lifecycle: started, stopping, stopped, Redis gone and back. Printed in every mode. */
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** One finished attempt (quiet: failures only). */
  task(ev: FinishedTaskEvent): void;
}

export interface LogOptions {
  format: 'text' | 'json';
  quiet: boolean;
  /** The worker's name, on every JSON line. */
  worker?: string;
  colour?: boolean;
  out?: (line: string) => void;
  err?: (line: string) => void;
}

export function outcomeOf(ev: FinishedTaskEvent): 'succeeded' | 'failed' | 'retry' {
  return ev.success ? 'succeeded' : ev.willRetry ? 'retry' : 'failed';
}

/** The seed's line: SUCCESS/FAILURE, id, Type(id)#action, duration, and the error of a failure. */
export function taskLine(ev: FinishedTaskEvent, colour: boolean): string {
  const paint = (code: number, s: string) => (colour ? `\x1b[${code}m${s}\x1b[0m` : s);
  const status = ev.success ? paint(32, 'SUCCESS') : paint(31, 'FAILURE');
  let line = `${status} ${ev.id} ${ev.queue !== 'default' ? `[${ev.queue}] ` : ''}${taskLabel(ev.objectType, ev.objectId, ev.action)} ${Math.round(ev.durationMs)} ms`;
  if (ev.attempt > 1) line += ` (attempt ${ev.attempt})`;
  if (!ev.success && ev.error) line += ` ${ev.error.name || 'Error'}: ${String(ev.error.message).split('\n')[0]}`;
  return line;
}

export function createLog(o: LogOptions): Log & { setWorker(name: string): void } {
  const out = o.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const err = o.err ?? ((l: string) => process.stderr.write(`${l}\n`));
  let worker = o.worker;
  const write = (level: Level, msg: string, fields: Fields = {}) => {
    const to = level === 'info' ? out : err;
    const time = new Date().toISOString();
    if (o.format === 'json') to(JSON.stringify({ time, level, worker, msg, ...fields }));
    else to(`${time} ${level === 'info' ? '' : `${level.toUpperCase()} `}${msg}`);
  };
  return {
    setWorker: (name) => { worker = name; },
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    task: (ev) => {
      if (o.quiet && ev.success) return;
      const outcome = outcomeOf(ev);
      const level: Level = ev.success ? 'info' : outcome === 'retry' ? 'warn' : 'error';
      if (o.format === 'text') {
        // Every task line on stdout, as the seed did: one stream in the order things happened.
        out(`${new Date().toISOString()} ${taskLine(ev, Boolean(o.colour))}`);
        return;
      }
      write(level, 'task', {
        id: ev.id, queue: ev.queue, task: taskLabel(ev.objectType, ev.objectId, ev.action), outcome,
        durationMs: Math.round(ev.durationMs * 1000) / 1000, attempt: ev.attempt,
        ...(ev.retryAt ? { retryAt: ev.retryAt.toISOString() } : {}),
        ...(ev.error ? { error: { name: ev.error.name || 'Error', message: String(ev.error.message) } } : {}),
      });
    },
  };
}

export function summaryInterval(): number {
  const n = Number(process.env.ASYNC_SUMMARY_MS || 60000);
  return Number.isFinite(n) && n >= 50 ? n : 60000;
}

/** Counts finished attempts between two summary lines. */
export class Summary {
  private done = 0;
  private failed = 0;
  private since = Date.now();

  count(ev: FinishedTaskEvent): void {
    if (ev.success) this.done++; else if (!ev.willRetry) this.failed++;
  }

  /** The line's fields, and restarts the count. */
  take(backlog: number | null): { msg: string; fields: Fields } {
    const now = Date.now();
    const s = Math.max(0.001, (now - this.since) / 1000);
    const rate = Math.round((this.done + this.failed) / s * 10) / 10;
    const fields = { event: 'summary', intervalS: Math.round(s), succeeded: this.done, failed: this.failed, perSecond: rate, backlog };
    this.done = 0;
    this.failed = 0;
    this.since = now;
    return { msg: `summary: ${rate} tasks/s over ${Math.round(s)} s, ${fields.succeeded} succeeded, ${fields.failed} failed, backlog ${backlog ?? '?'}`, fields };
  }
}
