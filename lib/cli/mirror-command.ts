// `migrate` and `mirror`: the SQL history's commands.
import type { Queue } from '../queue';
import { runMirror } from '../mirror';

/** `mirror`: the mirror loop in the foreground until SIGTERM/SIGINT (it drains what waits, then returns). */
export async function mirrorCommand(q: Queue, say: (s: string) => void): Promise<number> {
  if (!q.internals.mirror) throw new Error(`the queue of this app does not mirror to SQL (setup() needs sequelize, and mirror not false)`);
  const ac = new AbortController();
  const stopOn = (sig: string) => { say(`${sig}: stopping the mirror after the batch in flight`); ac.abort(); };
  process.once('SIGTERM', stopOn);
  process.once('SIGINT', stopOn);
  say(`mirroring queues of prefix ${q.prefix} to SQL; SIGTERM/SIGINT stops`);
  await runMirror(q.internals, { signal: ac.signal, onError: (e) => say(`mirror error (retrying): ${e.message}`) });
  say('mirror stopped');
  return 0;
}
