// every()'s options, checked up front: every option of async (args, priority, queue, attempts,
// backoff, timeout, checked by the enqueue pipeline's own buildSpec), plus name, tz, missed and
// overlap. Bad input is an error naming what was wrong, thrown before anything is stored.
import type { EnqueueOptions, RecurringOptions } from '../../types';
import { buildSpec, SCHEDULE_PRIORITY } from '../enqueue/options';
import type { Described } from '../enqueue/target';
import { parsePattern, Pattern } from './pattern';
import { Definition, definitionFrom, MISSED, targetLabel } from './definition';

export type { RecurringOptions };

const TASK_OPTIONS = ['args', 'priority', 'queue', 'attempts', 'backoff', 'timeout'];
const OWN_OPTIONS = ['name', 'tz', 'missed', 'overlap'];
const KNOWN = [...TASK_OPTIONS, ...OWN_OPTIONS];

/** The checked schedule for every(target described as `d`, pattern, action, opts). */
export function buildDefinition(d: Described, pattern: unknown, action: string, opts: RecurringOptions | undefined,
  defaults: Partial<EnqueueOptions> = {}): { def: Definition; cron: Pattern } {
  if (opts !== undefined && (typeof opts !== 'object' || opts === null || Array.isArray(opts))) {
    throw new TypeError(`every: options must be an object like { tz: 'Europe/Berlin' } (got ${Array.isArray(opts) ? 'an array' : String(opts)})`);
  }
  const o = opts ?? {};
  const task: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    if (!KNOWN.includes(k)) throw new TypeError(`every: unknown option '${k}' (known: ${KNOWN.join(', ')})`);
    if (TASK_OPTIONS.includes(k)) task[k] = (o as Record<string, unknown>)[k];
  }
  const cron = parsePattern(pattern, o.tz ?? 'UTC');
  const name = o.name ?? `${targetLabel(d.type, d.objectId)}#${action}`;
  if (typeof name !== 'string' || name.length < 1 || name.length > 200) throw new TypeError(`every: name must be a string of 1-200 characters (got ${JSON.stringify(o.name)})`);
  const missed = o.missed ?? 'latest';
  if (!MISSED.includes(missed)) throw new TypeError(`every: missed must be ${MISSED.map((m) => `'${m}'`).join(', ')} (got ${JSON.stringify(o.missed)})`);
  if (o.overlap !== undefined && typeof o.overlap !== 'boolean') throw new TypeError(`every: overlap must be true or false (got ${String(o.overlap)})`);
  // scheduledAt: any fixed value; each tick's task gets the tick's time.
  const spec = buildSpec(d.type, d.objectId, action, { ...task, scheduledAt: 0 } as EnqueueOptions, SCHEDULE_PRIORITY, defaults);
  return { def: definitionFrom(spec, { name, pattern: cron.pattern, tz: cron.tz, missed, overlap: o.overlap ?? true }), cron };
}
