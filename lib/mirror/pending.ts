// Transactional enqueue that a crash cannot lose. A task queued inside a transaction gets its
// history row, state 'pending', written inside that same transaction (writePendingRow): it
// commits or rolls back with the user's rows. After the commit the process pushes the task to
// Redis as before; the mirror then overwrites the row with the task's real state. A process that
// died between COMMIT and that push leaves a committed 'pending' row and no task: the recovery
// pass of the mirror loop (recoverPending) pushes those, by id.
//
// Exactly once: every push of such a task is an enqueue by id that skips a task whose hash exists
// (enqueue.lua's ':new' layout), and the recovery pass holds the rows it pushes locked (SELECT
// ... FOR UPDATE) while it pushes: a row still 'pending' under that lock was never written by the
// mirror, so its task's hash, if it was ever stored, has not been dropped yet (the mirror drops a
// finished hash only after it committed its row).
//
// A pending row keeps the task's options (attempts, backoff, timeout: the hash fields the table
// has no column for) in `result`, as msgpack of the field/value pairs, until the mirror writes the
// task; hashFromRow ignores `result` of a pending row.
import { QueryTypes } from 'sequelize';
import type { Sequelize, Transaction } from 'sequelize';
import { encode, decode } from '../codec';
import { queuesKey } from '../keys';
import { enqueueArgs } from '../enqueue/blob';
import type { TaskSpec } from '../enqueue/options';
import type { MirrorHost } from './host';
import { upsertSql } from './upsert';
import type { Column, Row } from './rows';

export const PENDING = 'pending';
/** Columns of a pending row: all from the first migration, so any migrated table takes it. */
const PENDING_COLUMNS: readonly Column[] = ['id', 'queue', 'object_type', 'object_id', 'action', 'args', 'result', 'priority',
  'state', 'cancelled', 'attempts', 'scheduled_at', 'created_at'];
/** Rows per recovery transaction. */
const RECOVER_BATCH = 500;

/** Writes the pending row of a task about to wait for `tx`'s commit, inside `tx`. */
export async function writePendingRow(seq: Sequelize, table: string, tx: Transaction, id: number, spec: TaskSpec, now = Date.now()): Promise<void> {
  const row = {
    id, queue: spec.queue, object_type: spec.type, object_id: spec.objectId, action: spec.action, args: spec.args,
    result: spec.extra.length ? encode(spec.extra, 'task options') : null, priority: spec.priority, state: PENDING,
    cancelled: false, attempts: 0, scheduled_at: new Date(spec.scheduledAt), created_at: new Date(now),
  } as unknown as Row;
  await seq.query(upsertSql(seq, [row], PENDING_COLUMNS, table), { transaction: tx, raw: true });
}

/** Deletes a pending row inside `tx` (a pending task cancelled before the commit). */
export async function dropPendingRow(seq: Sequelize, table: string, tx: Transaction, id: number): Promise<void> {
  const q = (n: string) => seq.getQueryInterface().quoteIdentifier(n);
  await seq.query(`DELETE FROM ${q(table)} WHERE ${q('id')} = ? AND ${q('state')} = ?`, { replacements: [id, PENDING], transaction: tx });
}

/** Deletes the pending rows of tasks never stored: unique tasks refused as duplicates when pushed (`tx`: the recovery pass's). */
export async function dropRefusedPendingRows(seq: Sequelize, table: string, ids: number[], tx?: Transaction): Promise<void> {
  if (ids.length === 0) return;
  const q = (n: string) => seq.getQueryInterface().quoteIdentifier(n);
  await seq.query(`DELETE FROM ${q(table)} WHERE ${q('state')} = ? AND ${q('id')} IN (${ids.map(() => '?').join(', ')})`,
    { replacements: [PENDING, ...ids], transaction: tx });
}

/** The enqueue argument of tasks pushed by id: skipped where the task exists already. */
export function enqueueByIdArgs(specs: TaskSpec[], ids: number[], mock: boolean): (string | Buffer)[] {
  // (no batch lock: a task found stored already is skipped, and must not have its lock taken again)
  const argv = enqueueArgs(specs, ids, mock);
  argv[1] = `${String(argv[1])}:new`;
  return argv;
}

interface PendingRow {
  id: number | string; queue: string; object_type: string; object_id: string | null; action: string;
  args: Buffer | null; result: Buffer | null; priority: number; scheduled_at: Date | string | null;
}

function specOf(r: PendingRow): TaskSpec {
  let extra: string[] = [];
  if (r.result && r.result.length) {
    const v = decode(r.result);
    if (Array.isArray(v)) extra = v.map(String);
  }
  const at = r.scheduled_at instanceof Date ? r.scheduled_at.getTime() : r.scheduled_at ? new Date(r.scheduled_at).getTime() : Date.now();
  return {
    queue: r.queue, type: r.object_type, objectId: r.object_id, action: r.action,
    args: r.args && r.args.length ? Buffer.from(r.args) : null, argsValue: [], priority: Number(r.priority),
    scheduledAt: Number.isFinite(at) ? at : Date.now(), extra,
  };
}

/**
 * Pushes committed pending rows older than `graceMs` (their own process had that long to push
 * them) whose task never reached Redis. Returns how many tasks it stored.
 */
export async function recoverPending(host: Pick<MirrorHost, 'script' | 'redis' | 'prefix' | 'table'> & { mock?: boolean },
  seq: Sequelize, graceMs: number, now = Date.now()): Promise<number> {
  const qi = seq.getQueryInterface();
  const q = (n: string) => qi.quoteIdentifier(n);
  const cols = ['id', 'queue', 'object_type', 'object_id', 'action', 'args', 'result', 'priority', 'scheduled_at'].map(q).join(', ');
  // SQLite has no FOR UPDATE (and one writer at a time): the demo's database, not a shared one.
  const lock = ['mysql', 'mariadb', 'postgres'].includes(seq.getDialect()) ? ' FOR UPDATE' : '';
  let stored = 0;
  for (;;) {
    const n = await seq.transaction(async (transaction) => {
      const rows = await seq.query<PendingRow>(
        `SELECT ${cols} FROM ${q(host.table)} WHERE ${q('state')} = ? AND ${q('created_at')} < ? ORDER BY ${q('id')} LIMIT ${RECOVER_BATCH}${lock}`,
        { replacements: [PENDING, new Date(now - graceMs)], type: QueryTypes.SELECT, transaction });
      const byQueue = new Map<string, PendingRow[]>();
      for (const r of rows) {
        const l = byQueue.get(r.queue);
        if (l) l.push(r); else byQueue.set(r.queue, [r]);
      }
      for (const [queue, list] of byQueue) {
        await host.redis.sadd(queuesKey(host.prefix), queue);
        const r = await host.script('enqueue', queue, enqueueByIdArgs(list.map(specOf), list.map((x) => Number(x.id)), host.mock === true));
        // A table when unique tasks were refused: the stored count, then per refused task its
        // position (1-based), the holder's id and hash. A refused one is a duplicate: its row goes.
        if (Array.isArray(r)) {
          stored += Number(r[0]) || 0;
          const refused: number[] = [];
          for (let j = 1; j + 2 < r.length; j += 3) refused.push(Number(list[Number(r[j]) - 1].id));
          await dropRefusedPendingRows(seq, host.table, refused, transaction);
        } else stored += Number(r) || 0;
      }
      return rows.length;
    });
    if (n < RECOVER_BATCH) return stored;
  }
}
