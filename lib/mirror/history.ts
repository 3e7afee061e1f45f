// The read side of the mirror: a finished task's row once its hash expired, and the mirror's lag.
import type { TaskFields } from '../task';
import type { MirrorHost } from './host';
import { AsyncTaskModel, fieldsFromRow } from './model';
import { describingErrors } from './db-error';

/** `queue.task(id)` and `Task.reload()` fall back to this once a finished task's hash expired. */
export function historyReader(model: AsyncTaskModel): (id: number) => Promise<Partial<TaskFields> | null> {
  return async (id) => {
    const row = await describingErrors(model.sequelize!, () => model.findByPk(id));
    // dataValues: the stored bytes (the model's getters decode; fieldsFromRow does that itself).
    return row ? fieldsFromRow((row as unknown as { dataValues: Record<string, unknown> }).dataValues) : null;
  };
}

/** Mirror lag of one queue: events waiting in the outbox and the age of the oldest (null when none). */
export async function mirrorLag(host: MirrorHost, queue: string): Promise<{ events: number; oldestAgeMs: number | null }> {
  const r = (await host.script('mirror-lag', queue, [])) as string[];
  const events = Number(String(r[0]));
  const age = String(r[1] ?? '');
  return { events, oldestAgeMs: events > 0 && age !== '' ? Number(age) : null };
}
