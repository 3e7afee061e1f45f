// A recurring schedule as stored: the hash `recurring` of its queue maps its name to this JSON.
// The fields are written in one fixed order, so the same every() call gives the same string, and
// recur-upsert.lua can tell "unchanged" (keep the schedule's next tick) from "changed" (replace).
import type { TaskSpec } from '../enqueue/options';

export type Missed = 'skip' | 'latest' | 'all';
export const MISSED: readonly Missed[] = ['skip', 'latest', 'all'];
/** 'all' runs at most this many missed ticks (the newest). */
export const MAX_MISSED = 1000;

export interface Definition {
  name: string;
  pattern: string;
  tz: string;
  missed: Missed;
  /** false: a tick is skipped while the schedule's previous task is still queued, scheduled or running. */
  overlap: boolean;
  queue: string;
  type: string;
  objectId: string | null;
  action: string;
  /** msgpack args, base64 (null: none). */
  args: string | null;
  argsValue: unknown[];
  priority: number;
  /** Extra task hash fields (max_attempts, backoff, timeout) as field/value pairs. */
  extra: string[];
}

export function definitionFrom(spec: TaskSpec, r: { name: string; pattern: string; tz: string; missed: Missed; overlap: boolean }): Definition {
  return {
    name: r.name, pattern: r.pattern, tz: r.tz, missed: r.missed, overlap: r.overlap,
    queue: spec.queue, type: spec.type, objectId: spec.objectId, action: spec.action,
    args: spec.args ? spec.args.toString('base64') : null, argsValue: spec.argsValue, priority: spec.priority, extra: spec.extra,
  };
}

export const encodeDefinition = (d: Definition): string => JSON.stringify(d);

/** A stored definition, or an Error saying why it cannot be read (written by hand or by another version). */
export function decodeDefinition(name: string, json: string): Definition | Error {
  try {
    const d = JSON.parse(json) as Definition;
    if (d && typeof d.pattern === 'string' && typeof d.type === 'string' && typeof d.action === 'string' && d.name === name) return d;
  } catch { /* reported below */ }
  return new Error(`recurring schedule ${JSON.stringify(name)}: its stored definition is not readable (${json.slice(0, 80)})`);
}

/** 'Type#action' or 'Type(id)#action'. */
export const targetLabel = (type: string, objectId: string | null): string => (objectId === null ? type : `${type}(${objectId})`);
