// Ids for claim and finish calls (include/replay.lua). ioredis sends a command again when the
// connection dropped before its reply came; with an id, the script answers such a resend with
// the first call's reply, so the tasks it claimed reach this worker instead of waiting out their
// lease as stalls. Each call also acknowledges the calls of its queue whose replies arrived, so
// the script drops their kept replies at once (else they expire after a minute).
import { randomBytes } from 'crypto';

export class CallIds {
  private readonly tag = randomBytes(6).toString('hex');
  private n = 0;
  /** Per queue: ids of answered calls, to acknowledge with the next call. */
  private readonly answered = new Map<string, string[]>();

  /** Sends a call on `queue` with its [call id, acks] as the last two ARGV. */
  async run<T>(queue: string, send: (id: [string, string]) => Promise<T>): Promise<T> {
    const call = this.begin(queue);
    let ok = false;
    try {
      const r = await send(call);
      ok = true;
      return r;
    } finally {
      this.end(queue, call, ok);
    }
  }

  /** [call id, acks] for a call on `queue`: the last two ARGV of claim.lua and finish.lua. */
  begin(queue: string): [string, string] {
    const acks = this.answered.get(queue) ?? [];
    this.answered.delete(queue);
    return [`${this.tag}.${(++this.n).toString(36)}`, acks.join(',')];
  }

  /**
   * The call is over: its id is acknowledged with the next call (it may have run even when it
   * failed); a failed call's own acks may not have been applied, so they go again too.
   */
  end(queue: string, call: [string, string], ok: boolean): void {
    const l = this.answered.get(queue) ?? [];
    l.push(call[0]);
    if (!ok && call[1]) l.push(...call[1].split(','));
    // Bounded: a queue not called again for long leaves its few ids to expire.
    this.answered.set(queue, l.slice(-64));
  }
}
