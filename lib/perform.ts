// Runs one claimed task: finds its target (reloading a model row by primary key), calls the
// method with the decoded args, and encodes what happened for finish.lua. Never throws.
import type { Model, ModelStatic } from 'sequelize';
import { decode, encode, encodeError } from './codec';
import { Registry, resolveAction } from './registry';
import { CorruptTaskError, RecordNotFoundError, TimeoutError } from './errors';
import { backoffDelay } from './enqueue';

/** A task as claim.lua hands it over. */
export interface Claimed {
  queue: string;
  id: string;
  attempt: number;
  type: string;
  objectId: string;
  action: string;
  args: Buffer | string;
  timeout: number;
  maxAttempts: number;
  backoff: string;
  stalled: number;
  released: number;
}

export interface Outcome {
  outcome: 'ok' | 'fail' | 'retry';
  payload: Buffer | '';
  retryAt: number;
  error?: Error;
}

// Failures that another attempt cannot fix.
const PERMANENT = new Set(['CorruptTaskError', 'RecordNotFoundError', 'ResultNotStorableError']);

export async function perform(registry: Registry, t: Claimed): Promise<Outcome> {
  let value: unknown;
  try {
    value = await invoke(registry, t);
  } catch (err) {
    return failure(t, err);
  }
  if (value === undefined || value === null) return { outcome: 'ok', payload: '', retryAt: 0 };
  try {
    return { outcome: 'ok', payload: encode(value, 'result'), retryAt: 0 };
  } catch (err) {
    // The method ran; running it again to get a storable result would repeat its effects.
    const e = new Error(`${label(t)} returned a value that cannot be stored: ${(err as Error).message}`);
    e.name = 'ResultNotStorableError';
    return failure(t, e);
  }
}

function failure(t: Claimed, err: unknown): Outcome {
  const failures = t.attempt - t.stalled - t.released;
  const name = (err as Error)?.name;
  const retry = failures < t.maxAttempts && !PERMANENT.has(name);
  let payload: Buffer;
  try { payload = encodeError(err); } catch { payload = encodeError(new Error(String(err))); }
  return {
    outcome: retry ? 'retry' : 'fail',
    payload,
    retryAt: retry ? Date.now() + (t.backoff ? backoffDelay(t.backoff, failures) : 0) : 0,
    error: err instanceof Error ? err : new Error(String(err)),
  };
}

function label(t: Claimed): string {
  return t.objectId ? `${t.type}(${t.objectId})#${t.action}` : `${t.type}#${t.action}`;
}

async function invoke(registry: Registry, t: Claimed): Promise<unknown> {
  if (!t.type || !t.action) throw new CorruptTaskError(`task ${t.id} is missing its ${!t.type ? 'type' : 'action'} field`);
  const target = registry.lookup(t.type);
  if (!target) throw new CorruptTaskError(`task ${t.id}: unknown object type '${t.type}' (not a model and not registered in this worker)`);
  let args: unknown[] = [];
  if (t.args !== '' && t.args.length > 0) {
    let a: unknown;
    try { a = decode(typeof t.args === 'string' ? Buffer.from(t.args, 'binary') : t.args); } catch (e) {
      throw new CorruptTaskError(`task ${t.id}: args cannot be decoded (${(e as Error).message})`);
    }
    if (!Array.isArray(a)) throw new CorruptTaskError(`task ${t.id}: stored args are not an array`);
    args = a;
  }
  let holder: object;
  if (target.kind === 'model' && t.objectId) {
    const model = target.model as ModelStatic<Model>;
    const row = await model.findByPk(t.objectId);
    if (!row) throw new RecordNotFoundError(`${t.type} with id ${t.objectId} was not found (deleted before task ${t.id} ran)`);
    holder = row;
  } else {
    holder = target.kind === 'model' ? target.model : target.object;
  }
  const fn = resolveAction(holder, t.action, t.type);
  if (fn instanceof Error) throw new CorruptTaskError(`task ${t.id}: ${fn.message}`);
  const result = fn.apply(holder, args);
  if (!(t.timeout > 0)) return result;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([result, new Promise((_r, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`${label(t)} timed out after ${t.timeout} ms`)), t.timeout);
    })]);
  } finally {
    clearTimeout(timer);
  }
}
