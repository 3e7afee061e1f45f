// AsyncTask: the Sequelize model over `async_tasks`, the SQL history the mirror writes.
// Rows are decoded with the same code as task hashes (fieldsFromHash), so `row.args`,
// `row.result` and a handle built from a row mean exactly what they mean on a live task.
import { DataTypes, Model } from 'sequelize';
import type { Sequelize, ModelStatic, ModelAttributes } from 'sequelize';
import type { AsyncTaskAttributes, StoredError } from '../../types';
import { fieldsFromHash, TaskFields } from '../task';
import type { RawHash } from '../util/values';
import { TABLE, tableColumns } from './migrations';

export interface AsyncTask extends Model<AsyncTaskAttributes>, AsyncTaskAttributes {
  /** The row as task handle fields (what `queue.task(id)` returns once the hash expired). */
  toTaskFields(): Partial<TaskFields>;
}
export type AsyncTaskModel = ModelStatic<AsyncTask>;

const OURS = Symbol.for('sequelize-async.AsyncTask');
const ms = (d: unknown) => (d instanceof Date && !Number.isNaN(d.getTime()) ? String(d.getTime()) : undefined);

/** A row's stored values as a task hash, for fieldsFromHash. */
export function hashFromRow(v: Record<string, unknown>): RawHash {
  const h: RawHash = {};
  const put = (k: string, x: unknown) => { if (x !== null && x !== undefined) h[k] = Buffer.isBuffer(x) ? x : String(x); };
  put('type', v.object_type); put('object_id', v.object_id); put('action', v.action); put('args', v.args);
  put('priority', v.priority); put('state', v.state); put('attempts', v.attempts); put('worker', v.worker);
  put('scheduled_at', ms(v.scheduled_at)); put('started_at', ms(v.started_at));
  put('finished_at', ms(v.finished_at)); put('created_at', ms(v.created_at));
  if (v.cancelled === true || v.cancelled === 1) h.cancelled = '1';
  const success = v.success === null || v.success === undefined ? null : Boolean(v.success);
  if (success !== null) h.success = success ? '1' : '0';
  // The result column holds the return value, or for a failure the stored error (a pending row's
  // holds its task's options: lib/mirror/pending.ts).
  if (v.result !== null && v.result !== undefined && v.state !== 'pending') put(success === false ? 'error' : 'result', v.result);
  return h;
}

/** Handle fields from a row: like fieldsFromHash, plus the last error of a task that failed before it succeeded. */
export function fieldsFromRow(v: Record<string, unknown>): Partial<TaskFields> {
  const f = fieldsFromHash(String(v.queue ?? ''), hashFromRow(v));
  if (f.errors.length === 0 && v.error_name) {
    const e = new Error(String(v.error_message ?? '')) as StoredError;
    e.name = String(v.error_name);
    const bt = v.backtrace ? String(v.backtrace).split('\n') : [];
    e.stack = [`${e.name}: ${e.message}`, ...bt.map((l) => `    ${l}`)].join('\n');
    Object.defineProperty(e, 'backtrace', { value: bt, enumerable: false, writable: true, configurable: true });
    f.errors = [e];
  }
  return f;
}

/** Defines AsyncTask on a Sequelize instance, or returns the one defined there before. */
export function defineAsyncTask(sequelize: Sequelize, table = TABLE): AsyncTaskModel {
  // One model per table: 'AsyncTask' over async_tasks, 'AsyncTask_<table>' over another.
  const name = table === TABLE ? 'AsyncTask' : `AsyncTask_${table}`;
  if (sequelize.isDefined(name)) {
    const m = sequelize.model(name) as AsyncTaskModel & { [OURS]?: boolean };
    if (m[OURS]) return m;
    throw new TypeError(`setup: this sequelize already has a model named '${name}' that sequelize-async did not define`);
  }
  const cols = tableColumns(DataTypes, sequelize.getDialect());
  const attrs: Record<string, Record<string, unknown>> = { ...cols };
  attrs.id = { ...cols.id, get(this: Model) { const v = this.getDataValue('id' as never); return v === null || v === undefined ? v : Number(v); } };
  attrs.args = { ...cols.args, get(this: Model) {
    const raw = this.getDataValue('args' as never) as Buffer | null;
    return raw ? fieldsFromHash('', { args: raw }).args : [];
  } };
  attrs.result = { ...cols.result, get(this: Model) {
    const raw = this.getDataValue('result' as never) as Buffer | null;
    if (!raw) return undefined;
    return fieldsFromHash('', hashFromRow({ result: raw, success: this.getDataValue('success' as never) ?? true })).result;
  } };
  const model = sequelize.define(name, attrs as unknown as ModelAttributes, {
    tableName: table,
    timestamps: false,
    underscored: true,
  }) as unknown as AsyncTaskModel;
  Object.defineProperty(model, OURS, { value: true });
  Object.defineProperty(model.prototype, 'toTaskFields', {
    value: function (this: Model) { return fieldsFromRow((this as unknown as { dataValues: Record<string, unknown> }).dataValues); },
    configurable: true, writable: true,
  });
  return model;
}
