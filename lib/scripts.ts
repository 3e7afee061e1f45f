// Loads the Lua scripts of lib/lua (one file per atomic operation) and runs them by EVALSHA
// (ioredis defineCommand), falling back to EVAL once per connection.
//
// A script names the keys it takes in its binding line, `local a, b = KEYS[1], KEYS[2]`: that
// line is the one place that says which of a queue's keys (QueueKeys names) a script gets, and in
// which order, so the TS side never lists them again. `--!include name` pastes
// lib/lua/include/name.lua (once per script, however often it is asked for; includes may include
// others). `--!claim-fields` becomes the Lua table of lib/claim-reply.ts's CLAIM_FIELDS.
import { readFileSync, existsSync, readdirSync } from 'fs';
import { join } from 'path';
import { Command } from 'ioredis';
import type { Redis } from 'ioredis';
import type { QueueKeys, QueueKeyName } from './keys';
import { CLAIM_FIELDS } from './claim-reply';
import { packagePath } from './paths';
import { respHead, encodedCommand, RespHead } from './resp';
import { isCluster } from './redis';

export type ScriptName = 'enqueue' | 'claim' | 'finish' | 'cancel' | 'extend' | 'release' | 'sweep' | 'retry' | 'abandon' | 'delete'
  | 'mirror-take' | 'mirror-done' | 'mirror-read' | 'mirror-lag' | 'mirror-release'
  | 'recur-upsert' | 'recur-tick' | 'recur-remove'
  | 'flow-set' | 'flow-hold' | 'idle-leave' | 'search';

// The compiled build runs from dist/lib; the .lua files stay in lib/lua.
export const LUA_DIR = packagePath('lib', 'lua');

const KEY_NAMES: readonly QueueKeyName[] = ['levels', 'scheduled', 'running', 'finished', 'marker', 'outbox', 'outboxDone', 'mirrorMarks', 'mirrorLock', 'sweeper',
  'recurring', 'recurringNext', 'recurringLast', 'flow', 'flowStarts', 'metrics', 'metricsSeries', 'idlers'];

export interface LoadedScript {
  name: string;
  /** The full source sent to Redis: includes pasted, generated tables filled in. */
  lua: string;
  /** The QueueKeys names the script takes as KEYS, in order. */
  keys: QueueKeyName[];
}

function expand(src: string, seen: Set<string>, from: string): string {
  return src.replace(/^--!include ([\w-]+)[ \t]*$/gm, (_m, inc: string) => {
    if (seen.has(inc)) return `-- (include ${inc}: pasted above)`;
    seen.add(inc);
    const file = join(LUA_DIR, 'include', `${inc}.lua`);
    if (!existsSync(file)) throw new Error(`${from}: --!include ${inc}: no file ${file}`);
    return expand(readFileSync(file, 'utf8'), seen, `include/${inc}.lua`);
  }).replace(/^--!claim-fields[ \t]*$/gm, () => `local CLAIM_FIELDS = {${CLAIM_FIELDS.map((f) => `'${f}'`).join(', ')}}`);
}

/** The key names of a script's `local a, b = KEYS[1], KEYS[2]` line (checked: in order, known names). */
export function boundKeys(name: string, src: string): QueueKeyName[] {
  const m = /^local ([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=\s*(KEYS\[\d+\](?:\s*,\s*KEYS\[\d+\])*)[ \t]*$/m.exec(src);
  if (!m) throw new Error(`lib/lua/${name}.lua has no KEYS binding line ('local a, b, ... = KEYS[1], KEYS[2], ...'): it must name the queue keys it takes`);
  const names = m[1].split(',').map((s) => s.trim());
  const idx = m[2].split(',').map((s) => Number(/\d+/.exec(s)?.[0]));
  if (names.length !== idx.length || idx.some((n, i) => n !== i + 1)) {
    throw new Error(`lib/lua/${name}.lua: its KEYS binding must be 'local a, b, ... = KEYS[1], KEYS[2], ...' in order`);
  }
  const bad = names.find((n) => !(KEY_NAMES as readonly string[]).includes(n));
  if (bad) throw new Error(`lib/lua/${name}.lua binds KEYS to '${bad}', which is not a queue key name (${KEY_NAMES.join(', ')})`);
  return names as QueueKeyName[];
}

const loaded = new Map<string, LoadedScript>();

export function loadScript(name: string): LoadedScript {
  let s = loaded.get(name);
  if (!s) {
    const file = join(LUA_DIR, `${name}.lua`);
    if (!existsSync(file)) throw new Error(`no Lua script ${file}`);
    const raw = readFileSync(file, 'utf8');
    s = { name, lua: expand(raw, new Set(), `${name}.lua`), keys: boundKeys(name, raw) };
    loaded.set(name, s);
  }
  return s;
}

/** Every script in lib/lua, by name. */
export function scriptNames(): string[] {
  return readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua')).map((f) => f.slice(0, -4)).sort();
}

export const command = (name: string) => `async_${name.replace(/-/g, '_')}`;
const defined = new WeakSet<Redis>();

/**
 * Registers every script on a client. Call it when the client is created: with ioredis
 * auto-pipelining, a pipeline opened by an earlier plain command lacks commands defined later.
 */
export function defineScripts(client: Redis): void {
  if (defined.has(client)) return;
  for (const name of scriptNames()) {
    const s = loadScript(name);
    client.defineCommand(command(name), { numberOfKeys: s.keys.length, lua: s.lua });
  }
  defined.add(client);
}

type Arg = string | number | Buffer;
type Reply = Array<string | Buffer> | string | Buffer | number | null;

// The KEYS array of a script for one queue, built once.
const keyCache = new WeakMap<QueueKeys, Map<string, string[]>>();
export function keysFor(name: string, k: QueueKeys): string[] {
  let m = keyCache.get(k);
  if (!m) { m = new Map(); keyCache.set(k, m); }
  let ks = m.get(name);
  if (!ks) { ks = loadScript(name).keys.map((n) => k[n]); m.set(name, ks); }
  return ks;
}

/** Runs one script on a queue's keys. `binary` asks for Buffer replies (needed where msgpack fields come back). */
export function runScript(client: Redis, name: ScriptName, k: QueueKeys, argv: Arg[], binary = false): Promise<Reply> {
  defineScripts(client);
  const c = client as unknown as Record<string, (...a: Arg[]) => Promise<Reply>>;
  const cmd = command(name);
  // ioredis-mock has no *Buffer variants; it hands binary fields back as Buffers anyway.
  const fn = (binary && c[`${cmd}Buffer`]) || c[cmd];
  return fn.call(client, ...keysFor(name, k), ...argv);
}

/**
 * Runs one script written to the socket at once. Through ioredis's auto-pipelining a call waits
 * until the connection's previous auto-pipeline is answered (it runs one at a time), so Redis could
 * not work on one batch while this process prepares the next; and a pipeline object of its own
 * costs more than the call (ioredis copies every defined command onto each). So the EVALSHA goes
 * straight to sendCommand; a server that does not have the script yet (first call, a restart, a
 * failover) gets it through the defined command, which loads it.
 */
// Per client and queue: the start of a script's EVALSHA (sha, key count, keys), built once: as
// arguments (for a Cluster) and encoded (lib/resp.ts).
interface Head { args: Arg[]; resp: RespHead }
const heads = new WeakMap<Redis, WeakMap<QueueKeys, Map<string, Head>>>();
function evalshaHead(client: Redis, name: ScriptName, k: QueueKeys): Head {
  let byKeys = heads.get(client);
  if (!byKeys) { byKeys = new WeakMap(); heads.set(client, byKeys); }
  let m = byKeys.get(k);
  if (!m) { m = new Map(); byKeys.set(k, m); }
  let head = m.get(name);
  if (!head) {
    defineScripts(client);
    const sha = (client as unknown as { scriptsSet: Record<string, { sha: string }> }).scriptsSet[command(name)].sha;
    const keys = keysFor(name, k);
    const args = [sha, keys.length, ...keys];
    head = { args, resp: respHead('evalsha', args) };
    m.set(name, head);
  }
  return head;
}

export async function runScriptNow(client: Redis, name: ScriptName, k: QueueKeys, argv: Arg[], binary = false): Promise<Reply> {
  const head = evalshaHead(client, name, k);
  const cmd = isCluster(client)
    ? new Command('evalsha', head.args.concat(argv), binary ? {} : { replyEncoding: 'utf8' })
    : encodedCommand('evalsha', head.resp, argv, binary ? undefined : 'utf8');
  try {
    return await (client.sendCommand(cmd) as Promise<Reply>);
  } catch (e) {
    if (!/^NOSCRIPT/.test(String((e as Error)?.message))) throw e;
    return runScript(client, name, k, argv, binary);
  }
}
