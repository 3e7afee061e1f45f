// The layout promises of docs/internals.md, checked: no file in lib/ over 300 lines, and no import
// cycle among lib/'s modules (type-only imports included: a cycle of types is still a tangle).
import { strict as assert } from 'assert';
import { readdirSync, readFileSync, statSync, existsSync, mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join, dirname, resolve, relative } from 'path';

const LIB = join(__dirname, '..', 'lib');
const MAX_LINES = 300;
/** Lines as wc -l counts them (a final newline ends the last line, it does not start another). */
const lineCount = (src: string) => src.split('\n').length - (src.endsWith('\n') ? 1 : 0);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** lib/ files a module imports (relative specifiers resolved; packages left out). */
function importsOf(file: string, root: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'|require\('(\.[^']+)'\)/gm)) {
    const spec = m[1] ?? m[2];
    const base = resolve(dirname(file), spec);
    const hit = [`${base}.ts`, join(base, 'index.ts')].find((c) => existsSync(c));
    if (hit && hit.startsWith(root)) out.push(hit);
  }
  return out;
}

/** Every cycle found by a depth-first walk, as lib-relative paths. */
function cycles(all: string[], root: string): string[][] {
  const graph = new Map(all.map((f) => [f, importsOf(f, root)]));
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (f: string) => {
    state.set(f, 1);
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      if (state.get(g) === 1) found.push([...stack.slice(stack.indexOf(g)), g].map((x) => relative(root, x)));
      else if (!state.has(g)) visit(g);
    }
    stack.pop();
    state.set(f, 2);
  };
  for (const f of all) if (!state.has(f)) visit(f);
  return found;
}

describe('layout of lib/', () => {
  const all = files(LIB);

  it(`has no file over ${MAX_LINES} lines`, () => {
    const long = all.map((f) => ({ f: relative(LIB, f), n: lineCount(readFileSync(f, 'utf8')) }))
      .filter((x) => x.n > MAX_LINES).map((x) => `${x.f}: ${x.n} lines`);
    assert.deepEqual(long, []);
  });

  it('has no import cycle', () => {
    assert.deepEqual(cycles(all, LIB).map((c) => c.join(' -> ')), []);
  });

  it('the cycle check finds a cycle through a directory index and a type-only import', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sa-cycle-'));
    try {
      writeFileSync(join(dir, 'a.ts'), "import { b } from './sub';\nexport const a = 1;\n");
      mkdirSync(join(dir, 'sub'));
      writeFileSync(join(dir, 'sub', 'index.ts'), "import type { A } from '../c';\nexport const b = 2;\n");
      writeFileSync(join(dir, 'c.ts'), "export { a } from './a';\nexport type A = number;\n");
      assert.deepEqual(cycles(files(dir), dir).map((c) => c.join(' -> ')), ['a.ts -> sub/index.ts -> c.ts -> a.ts']);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});
