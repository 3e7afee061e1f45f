// Runs one claimed task: finds its target (reloading a model row by primary key), calls the
// method with the decoded args, and encodes what happened for finish.lua. Never throws.
import type { Model, ModelStatic } from 'sequelize';
import { decode, encode, encodeError } from './codec';
import { Registry, actionNameError, methodDefaults } from './registry';
import { CorruptTaskError, RecordNotFoundError, TimeoutError, ResultNotStorableError } from './errors';
import { backoffDelay } from './backoff';
import { taskLabel } from './label';

import type { Claimed } from './claim-reply';
export type { Claimed } from './claim-reply';

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
    return failure(t, new ResultNotStorableError(`${label(t)} returned a value that cannot be stored: ${(err as Error).message}`));
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

const label = (t: Claimed) => taskLabel(t.type, t.objectId, t.action);

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
  // A damaged action says so without a database round trip (and before a missing record would).
  const badName = actionNameError(t.action, t.type);
  if (badName) throw new CorruptTaskError(`task ${t.id}: ${badName.message}`);
  let holder: object;
  if (target.kind === 'model' && t.objectId) {
    const model = target.model as ModelStatic<Model>;
    const row = await model.findByPk(t.objectId);
    if (!row) throw new RecordNotFoundError(`${t.type} with id ${t.objectId} was not found (deleted before task ${t.id} ran)`);
    holder = row;
  } else {
    holder = target.kind === 'model' ? target.model : target.object;
  }
  const fn = registry.resolve(holder, t.action, t.type);
  if (fn instanceof Error) throw new CorruptTaskError(`task ${t.id}: ${fn.message}`);
  // A method that asks for it gets an AbortSignal after its stored args: aborted on timeout, when
  // its worker hands it back at shutdown, and when its lease is lost (another worker re-runs it).
  let ctl: AbortController | undefined;
  if (methodDefaults(holder, t.action, t.type)?.signal) {
    ctl = new AbortController();
    controllers.set(t, ctl);
    args = [...args, ctl.signal];
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = fn.apply(holder, args);
    if (!(t.timeout > 0)) return await result;
    return await Promise.race([result, new Promise((_r, reject) => {
      timer = setTimeout(() => {
        const e = new TimeoutError(`${label(t)} timed out after ${t.timeout} ms`);
        ctl?.abort(e);
        reject(e);
      }, Math.min(t.timeout, 2147483647)); // Node fires a longer timer at once
    })]);
  } finally {
    clearTimeout(timer);
    controllers.delete(t);
  }
}

const controllers = new WeakMap<Claimed, AbortController>();

/** Aborts the signal of a running attempt (if its method asked for one); the worker calls it when it gives the attempt up. */
export function abortTask(t: Claimed, reason: Error): void {
  controllers.get(t)?.abort(reason);
}
