// One mirror loop per queue object in this process, however many workers run on it.
import type { MirrorHost } from './host';
import { runMirror } from './loop';

interface Shared { refs: number; ctrl: AbortController; done: Promise<void>; listeners: Set<(e: Error) => void> }
const shared = new WeakMap<MirrorHost, Shared>();

/**
 * For workers: a share of the queue object's mirror loop (started by the first share).
 * Returns the function that gives this worker's share back (the loop stops with the last one).
 */
export function acquireMirror(host: MirrorHost, onError?: (e: Error) => void): () => Promise<void> {
  let s = shared.get(host);
  if (!s) {
    const ctrl = new AbortController();
    const listeners = new Set<(e: Error) => void>();
    const fresh: Shared = { refs: 0, ctrl, listeners, done: Promise.resolve() };
    fresh.done = runMirror(host, { signal: ctrl.signal, onError: (e) => { for (const l of listeners) l(e); } })
      .catch((e) => { for (const l of listeners) l(e as Error); });
    shared.set(host, fresh);
    s = fresh;
  }
  const mine = s;
  mine.refs++;
  const listener = onError ?? (() => undefined);
  mine.listeners.add(listener);
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    mine.refs--;
    if (mine.refs > 0) { mine.listeners.delete(listener); return; }
    shared.delete(host);
    mine.ctrl.abort();
    await mine.done;
    mine.listeners.clear();
  };
}
