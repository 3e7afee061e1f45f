// `recurring` (list schedules with their next times, or --remove one) and `unlock KEY` (free a
// unique task's lock by hand).
import type { Queue } from '../queue';
import { recurring, unschedule } from '../recurring/api';
import { unlock, lockHolder } from '../unique';
import { CliError } from './parse';
import { table } from './render';

const when = (d: Date | null) => (d ? d.toISOString() : '-');

export async function recurringCommand(q: Queue, o: { remove?: string; json: boolean }, say: (s: string) => void): Promise<number> {
  if (o.remove !== undefined) {
    if (!(await unschedule(q.internals, o.remove))) throw new CliError(`no recurring schedule named '${o.remove}' (prefix ${q.prefix})`);
    say(`removed the recurring schedule '${o.remove}'`);
    return 0;
  }
  const all = await recurring(q.internals);
  if (o.json) { say(JSON.stringify(all, null, 2)); return 0; }
  if (all.length === 0) { say(`no recurring schedules (prefix ${q.prefix})`); return 0; }
  say(table(['NAME', 'QUEUE', 'PATTERN', 'TZ', 'TASK', 'NEXT', 'LAST', 'LAST TASK'], all.map((r) => [
    r.name, r.queue, r.pattern, r.tz, `${r.target}#${r.action}`, when(r.next), when(r.last),
    r.lastTaskId === null ? '-' : `${r.lastTaskId} ${r.lastState ?? 'gone'}${r.lastError ? `: ${r.lastError.split('\n')[0].slice(0, 80)}` : ''}`,
  ])));
  return 0;
}

export async function unlockCommand(q: Queue, key: string, queue: string | undefined, say: (s: string) => void): Promise<number> {
  const holder = await lockHolder(q.internals, key, queue);
  if (!(await unlock(q.internals, key, queue))) throw new CliError(`no unique lock '${key}' in queue ${queue ?? 'default'} (prefix ${q.prefix})`);
  say(`freed the unique lock '${key}'${holder !== null ? ` (held by task ${holder})` : ''}`);
  return 0;
}
