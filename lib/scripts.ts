// Loads the Lua scripts of lib/lua (one file per atomic operation, `--!include name` pulls in
// lib/lua/include/name.lua) and runs them by EVALSHA, falling back to EVAL once per connection.
import { readFileSync, existsSync } from 'fs';
import { join } from 'path';
import type { Redis } from 'ioredis';

export type ScriptName = 'enqueue' | 'claim' | 'finish' | 'cancel' | 'extend' | 'release' | 'sweep' | 'mirrored' | 'retry';

// The compiled build runs from dist/lib; the .lua files stay in lib/lua.
const LUA_DIR = [join(__dirname, 'lua'), join(__dirname, '..', '..', 'lib', 'lua')].find((d) => existsSync(d)) as string;

const sources = new Map<string, string>();

export function luaSource(name: string): string {
  let src = sources.get(name);
  if (src === undefined) {
    src = readFileSync(join(LUA_DIR, `${name}.lua`), 'utf8').replace(/^--!include (\w+)$/gm, (_m, inc: string) =>
      readFileSync(join(LUA_DIR, 'include', `${inc}.lua`), 'utf8'));
    sources.set(name, src);
  }
  return src;
}

const NUM_KEYS = 6;
const defined = new WeakSet<Redis>();
const ALL: ScriptName[] = ['enqueue', 'claim', 'finish', 'cancel', 'extend', 'release', 'sweep', 'mirrored', 'retry'];

/**
 * Registers every script on a client. Call it when the client is created: with ioredis
 * auto-pipelining, a pipeline opened by an earlier plain command lacks commands defined later.
 */
export function defineScripts(client: Redis): void {
  if (defined.has(client)) return;
  for (const name of ALL) {
    if (existsSync(join(LUA_DIR, `${name}.lua`))) client.defineCommand(`async_${name}`, { numberOfKeys: NUM_KEYS, lua: luaSource(name) });
  }
  defined.add(client);
}

type Arg = string | number | Buffer;
type Reply = Array<string | Buffer> | string | Buffer | number | null;

/** Runs one script. `binary` asks for Buffer replies (needed where msgpack fields come back). */
export function runScript(client: Redis, name: ScriptName, keys: string[], argv: Arg[], binary = false): Promise<Reply> {
  defineScripts(client);
  const c = client as unknown as Record<string, (...a: Arg[]) => Promise<Reply>>;
  // ioredis-mock has no *Buffer variants; it hands binary fields back as Buffers anyway.
  const fn = (binary && c[`async_${name}Buffer`]) || c[`async_${name}`];
  return fn.call(client, ...keys, ...argv);
}

/**
 * Runs one script in a pipeline of its own, written to the socket at once. Through ioredis's
 * auto-pipelining a call waits until the connection's previous auto-pipeline is answered (it runs
 * one at a time), so Redis could not work on one batch while this process prepares the next.
 */
export async function runScriptNow(client: Redis, name: ScriptName, keys: string[], argv: Arg[], binary = false): Promise<Reply> {
  defineScripts(client);
  const p = client.pipeline() as unknown as Record<string, (...a: Arg[]) => unknown> & { exec(): Promise<[Error | null, unknown][] | null> };
  const fn = (binary && p[`async_${name}Buffer`]) || p[`async_${name}`];
  fn.call(p, ...keys, ...argv);
  const [err, reply] = (await p.exec())?.[0] ?? [new Error(`${name}: no reply`), null];
  if (err) throw err;
  return reply as Reply;
}
