// The Lua script convention (lib/scripts.ts, docs/lua.md), checked without servers: each script
// opens with a header naming its keys, binds KEYS to QueueKeys names and its own ARGV (5..) to named
// locals, and its expanded source compiles and uses no name it does not define (a helper whose
// include is missing, or a key the script does not bind, would be a global lookup that fails only
// when Redis runs that line). Compiled with fengari, the Lua VM ioredis-mock already ships.
import { strict as assert } from 'assert';
import { readFileSync, readdirSync } from 'fs';
import { join } from 'path';
import { LUA_DIR, boundKeys, loadScript, scriptNames } from '../lib/scripts';
import { queueKeys } from '../lib/keys';

// fengari has no type declarations; only what is used here is typed.
interface Ins { opcode: number; A: number; B: number; C: number }
interface Proto { code: unknown[]; k: { value: { getstr(): Uint8Array } }[]; p: Proto[]; upvalues: { name: { getstr(): Uint8Array } }[] }
const fengari = require('fengari');
const opcodes = require('fengari/src/lopcodes.js');
const { lua, lauxlib, to_luastring, to_jsstring } = fengari;

/** Compiles Lua source; returns its syntax error, or the global names it reads and writes. */
function compile(src: string, name: string): { error?: string; reads: string[]; writes: string[] } {
  const L = lauxlib.luaL_newstate();
  if (lauxlib.luaL_loadbuffer(L, to_luastring(src), null, to_luastring(name)) !== 0) {
    return { error: lua.lua_tojsstring(L, -1), reads: [], writes: [] };
  }
  const reads = new Set<string>(), writes = new Set<string>();
  const walk = (p: Proto) => {
    for (const raw of p.code) {
      const ins = opcodes.fullins(raw) as Ins;
      const get = ins.opcode === opcodes.OpCodesI.OP_GETTABUP, set = ins.opcode === opcodes.OpCodesI.OP_SETTABUP;
      if (!get && !set) continue;
      // A global is a constant key of the _ENV upvalue.
      if (to_jsstring(p.upvalues[get ? ins.B : ins.A].name.getstr()) !== '_ENV') continue;
      const key = get ? ins.C : ins.B;
      if (!opcodes.ISK(key)) continue;
      (get ? reads : writes).add(to_jsstring(p.k[opcodes.INDEXK(key)].value.getstr()));
    }
    p.p.forEach(walk);
  };
  walk(L.stack[L.top - 1].value.p as Proto);
  return { reads: [...reads].sort(), writes: [...writes].sort() };
}

// What Redis's Lua (5.1) offers a script; anything else read as a global is a missing definition.
const REDIS_GLOBALS = new Set(['KEYS', 'ARGV', 'redis', 'struct', 'cjson', 'cmsgpack', 'bit', 'string', 'table', 'math',
  'tonumber', 'tostring', 'type', 'unpack', 'pairs', 'ipairs', 'select', 'error', 'pcall', 'assert', 'next']);
const QUEUE_KEY_NAMES = Object.keys(queueKeys('p', 'q')).filter((k) => k !== 'base');

const raw = (name: string) => readFileSync(join(LUA_DIR, `${name}.lua`), 'utf8');
const code = (src: string) => src.split('\n').filter((l) => !/^\s*--/.test(l));
/** The leading comment block of a file. */
const header = (src: string) => {
  const lines = src.split('\n');
  const end = lines.findIndex((l) => !l.startsWith('--'));
  return lines.slice(0, end < 0 ? lines.length : end);
};

describe('Lua scripts (lib/lua): the convention', () => {
  const names = scriptNames();

  it('finds the scripts of lib/lua', () => {
    for (const n of ['enqueue', 'claim', 'finish', 'cancel', 'extend', 'release', 'sweep', 'retry']) assert.ok(names.includes(n), n);
  });

  for (const name of names) {
    describe(`${name}.lua`, () => {
      const src = raw(name);
      const head = header(src);

      it('opens with a header: what it does, its KEYS by name in binding order, ARGV from 5, what it returns', () => {
        assert.match(head[0] ?? '', new RegExp(`^-- ${name}: \\S`), 'first line: "-- <name>: what it does"');
        const k = head.findIndex((l) => /^-- KEYS\b/.test(l));
        const a = head.findIndex((l) => /^-- ARGV\b/.test(l));
        assert.ok(k > 0 && a > k, 'a "-- KEYS" section, then a "-- ARGV" section');
        const listed = head.slice(k + 1, a).map((l) => /^--\s{3}(\w+)\s/.exec(l)?.[1]).filter(Boolean);
        assert.deepEqual(listed, boundKeys(name, src), 'the header lists exactly the bound keys, in order');
        const argv = head.slice(a + 1);
        assert.ok(argv.some((l) => /^--\s+1-4\s+base, now, mirror, retention/.test(l)), 'ARGV 1-4 named as the context');
        assert.ok(argv.some((l) => /^--\s+5(\.\.)?\s/.test(l)), 'ARGV 5 described');
        assert.ok(head.some((l) => /^-- Also touches: /.test(l)), 'keys built inside ("Also touches:")');
        assert.ok(head.some((l) => /^-- Returns: /.test(l)), '"Returns:"');
      });

      it('binds its KEYS to QueueKeys names, then includes the context', () => {
        const keys = boundKeys(name, src);
        assert.ok(keys.length > 0);
        for (const k of keys) assert.ok(QUEUE_KEY_NAMES.includes(k), `${k} is a QueueKeys name`);
        const lines = src.split('\n');
        const bind = lines.findIndex((l) => /^local .* = KEYS\[1\]/.test(l));
        assert.equal(lines[bind + 1], '--!include context', 'the context right after the KEYS binding');
        assert.ok(!code(src).some((l) => /KEYS\[/.test(l) && l !== lines[bind]), 'KEYS read nowhere else');
        assert.ok(!/\bbase \.\. '(sweeper|mirror-lock|outbox-done|mirror-marks|levels|scheduled|running|finished|marker|outbox)'/.test(src),
          'no queue key built from base');
      });

      it('binds its own ARGV (5..) to named locals: no numbered ARGV in the body, per-item args start at a name', () => {
        for (const l of code(src)) {
          for (const m of l.matchAll(/ARGV\[(\d+)\]/g)) {
            assert.ok(Number(m[1]) >= 5, `ARGV[${m[1]}]: ARGV 1-4 are the context's (include/context.lua): ${l.trim()}`);
            assert.match(l, /^\s*local [\w, ]+ = /, `ARGV[${m[1]}] outside a binding line: ${l.trim()}`);
          }
          assert.doesNotMatch(l, /for \w+ = \d+\s*,\s*#ARGV/, `a loop over ARGV from a bare number: ${l.trim()}`);
          assert.doesNotMatch(l, /local i = \d+\b/, `a bare ARGV position: ${l.trim()}`);
        }
      });

      it('expands (every include found), compiles, and reads no name it does not define', () => {
        const s = loadScript(name);
        assert.doesNotMatch(s.lua, /^--!/m, 'every --! directive resolved');
        const c = compile(s.lua, name);
        assert.equal(c.error, undefined);
        assert.deepEqual(c.reads.filter((g) => !REDIS_GLOBALS.has(g)), [], 'undefined names (a missing include or key binding)');
        assert.deepEqual(c.writes, [], 'globals written (Redis refuses them)');
      });
    });
  }

  describe('includes (lib/lua/include)', () => {
    for (const f of readdirSync(join(LUA_DIR, 'include')).filter((x) => x.endsWith('.lua'))) {
      it(`${f} says what it provides and what it needs`, () => {
        const head = header(readFileSync(join(LUA_DIR, 'include', f), 'utf8'));
        assert.match(head[0] ?? '', new RegExp(`^-- ${f.slice(0, -4)}: \\S`));
        assert.ok(head.some((l) => /^-- Provides: /.test(l)), '"Provides:"');
        const needs = head.find((l) => /^-- Needs: /.test(l));
        assert.ok(needs, '"Needs:"');
        for (const k of /KEYS ([\w, ]+);/.exec(needs)?.[1].split(', ') ?? []) assert.ok(QUEUE_KEY_NAMES.includes(k), `needs ${k}: a QueueKeys name`);
      });
    }
  });

  describe('the checks themselves', () => {
    it('find a helper used without its include', () => {
      const c = compile("local base = ARGV[1]\nlocal function f(id) return fail_corrupt(id, 'x') end\nreturn f(base)", 'probe');
      assert.deepEqual(c.reads.filter((g) => !REDIS_GLOBALS.has(g)), ['fail_corrupt']);
    });
    it('find a syntax error', () => {
      assert.match(compile('local x = = 1', 'probe').error ?? '', /unexpected symbol|expected/);
    });
    it('refuse a script without a binding line, or one binding a name that is not a queue key', () => {
      assert.throws(() => boundKeys('x', '-- x: nothing\nreturn 1'), /no KEYS binding line/);
      assert.throws(() => boundKeys('x', 'local levels, lock = KEYS[1], KEYS[2]'), /'lock', which is not a queue key name/);
      assert.throws(() => boundKeys('x', 'local levels, running = KEYS[2], KEYS[1]'), /in order/);
      assert.deepEqual(boundKeys('x', 'local sweeper, running = KEYS[1], KEYS[2]'), ['sweeper', 'running']);
    });
  });
});
