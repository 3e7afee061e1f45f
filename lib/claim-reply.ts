// The reply of claim.lua and finish.lua, defined once. CLAIM_FIELDS is the table both sides use:
// lib/scripts.ts writes it into the Lua include that builds the reply (include/claim.lua reads
// `CLAIM_FIELDS`), and parseClaimReply below reads the reply with the same table.
//
// Reply: {refused ids (comma-separated, '' for none), claimed count, next scheduled time (ms, '' when
// none or when something was claimed), then per claimed task: id, attempt, then CLAIM_FIELDS}.

/** Task hash fields a worker needs to run a claimed task, in reply order (after id and attempt). */
export const CLAIM_FIELDS = ['type', 'object_id', 'action', 'args', 'timeout', 'max_attempts', 'backoff', 'stalled', 'released'] as const;
/** Values per claimed task in the reply. */
export const CLAIM_STRIDE = 2 + CLAIM_FIELDS.length;

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

export interface ClaimReply {
  /** Ids whose outcome finish.lua refused (their attempt is no longer this worker's). */
  refused: string[];
  /** How many tasks were claimed (tasks.length). */
  got: number;
  /** When the earliest scheduled task becomes due (ms), Infinity when none or when tasks were claimed; or, held back
   *  by flow control (include/flow.lua), when the next start is allowed, if earlier. */
  nextAt: number;
  tasks: Claimed[];
}

type Value = Buffer | string | null | undefined;
type Field = typeof CLAIM_FIELDS[number];
/** Offset of each field within a task's run of values (0 is the id, 1 the attempt). */
const AT = Object.fromEntries(CLAIM_FIELDS.map((f, i) => [f, 2 + i])) as Record<Field, number>;
const text = (v: Value) => (v === null || v === undefined ? '' : v.toString());

/** The task whose values (id, attempt, CLAIM_FIELDS) start at `o` in `values`. */
export function claimedAt(queue: string, values: Value[], o: number): Claimed {
  const f = (name: Field) => values[o + AT[name]];
  return {
    queue, id: text(values[o]), attempt: Number(text(values[o + 1])),
    type: text(f('type')), objectId: text(f('object_id')), action: text(f('action')), args: f('args') ?? '',
    timeout: Number(text(f('timeout'))) || 0, maxAttempts: Number(text(f('max_attempts'))) || 1, backoff: text(f('backoff')),
    stalled: Number(text(f('stalled'))) || 0, released: Number(text(f('released'))) || 0,
  };
}

/** Where args sit among a task's values. */
export const ARGS_AT = AT.args;

export function parseClaimReply(queue: string, reply: Value[]): ClaimReply {
  const refusedCsv = text(reply[0]);
  const got = Number(text(reply[1])) || 0;
  const next = text(reply[2]);
  const tasks: Claimed[] = new Array(got);
  for (let i = 0; i < got; i++) tasks[i] = claimedAt(queue, reply, 3 + i * CLAIM_STRIDE);
  return { refused: refusedCsv ? refusedCsv.split(',') : [], got, nextAt: next ? Number(next) : Infinity, tasks };
}
