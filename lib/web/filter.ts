// The dashboard's task filter, read from a query string or form: state, queue, type, action,
// object id, error text; and the page number. A bad value is a 400 naming it.
import type { TaskState } from '../../types';
import { QUEUE_NAME } from '../keys';
import { STATES } from '../states';
import { badRequest } from './http';

export type ListState = Exclude<TaskState, 'pending'>;

export interface Filter {
  state?: ListState;
  queue?: string;
  type?: string;
  action?: string;
  objectId?: string;
  error?: string;
}

export const PAGE_SIZE = 25;

const TEXT = ['type', 'action', 'objectId', 'error'] as const;

/** The filter from a query string (or form); a bad value is a 400 naming it. */
export function parseFilter(q: URLSearchParams): Filter {
  const f: Filter = {};
  const state = q.get('state');
  if (state) {
    if (state === 'pending' || !(STATES as readonly string[]).includes(state)) throw badRequest(`unknown state '${state}' (known: ${STATES.join(', ')})`);
    f.state = state as ListState;
  }
  const queue = q.get('queue');
  if (queue) {
    if (!QUEUE_NAME.test(queue)) throw badRequest(`'${queue}' is not a queue name (1-64 characters of A-Z a-z 0-9 _ . -)`);
    f.queue = queue;
  }
  for (const k of TEXT) {
    const v = q.get(k);
    // Error text is words: only spaces is no filter.
    if (v === null || v === '' || (k === 'error' && v.trim() === '')) continue;
    if (v.length > 255) throw badRequest(`the ${k} filter is longer than 255 characters`);
    f[k] = v;
  }
  return f;
}

export function parsePage(q: URLSearchParams): number {
  const p = q.get('page');
  if (p === null || p === '') return 1;
  if (!/^\d{1,5}$/.test(p) || Number(p) < 1) throw badRequest(`page must be a whole number from 1 (got '${p}')`);
  return Number(p);
}

export const hasSearch = (f: Filter) => TEXT.some((k) => f[k] !== undefined);
