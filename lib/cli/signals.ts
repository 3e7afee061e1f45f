// Shutdown requests of a worker process. A signal sent to a process group (a container runtime,
// `kill -TERM -- -PGID`, coreutils `timeout`, which signals the child and then its group) reaches
// the worker more than once at the same moment, and the supervisor passes its own copy on: all of
// that is one request. Only a signal that comes later than DUPLICATE_WINDOW_MS after the last one,
// i.e. sent again on purpose, is the second request that means "exit now".
export const DUPLICATE_WINDOW_MS = 1000;

export interface Requests {
  /** The first request: begin a graceful shutdown. */
  first(why: string): void;
  /** A later, deliberate signal. */
  second(sig: NodeJS.Signals): void;
}

/** Listens for SIGTERM/SIGINT and the supervisor's {type: 'stop'} message; returns an unlisten function. */
export function onShutdownRequests(r: Requests, windowMs = DUPLICATE_WINDOW_MS): () => void {
  let firstAt = 0;
  let last: { sig: string; at: number } | null = null;
  const request = (sig: string, fromSupervisor: boolean) => {
    const now = Date.now();
    if (!firstAt) {
      firstAt = now;
      last = { sig, at: now };
      r.first(fromSupervisor ? `${sig} (from the supervisor)` : sig);
      return;
    }
    // The supervisor's copy never counts as a second request; a repeat within the window is the same one.
    const duplicate = fromSupervisor || (last !== null && now - last.at < windowMs);
    if (!fromSupervisor) last = { sig, at: now };
    if (!duplicate) r.second(sig as NodeJS.Signals);
  };
  const onTerm = () => request('SIGTERM', false);
  const onInt = () => request('SIGINT', false);
  const onMessage = (m: { type?: string; signal?: string }) => { if (m?.type === 'stop') request(m.signal ?? 'SIGTERM', true); };
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  process.on('message', onMessage);
  return () => { process.off('SIGTERM', onTerm); process.off('SIGINT', onInt); process.off('message', onMessage); };
}
