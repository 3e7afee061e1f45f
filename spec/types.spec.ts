// The published typings (types/): an app using order.async / Order.async / register() / queue.async
// type-checks without casts; each misuse fails with the error it should; and lib/ is what types/
// declares. Run with the repo's TypeScript and with TypeScript 5.9 (what apps use today).
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import { existsSync, readFileSync, writeFileSync, rmSync } from 'fs';
import { join } from 'path';

const root = join(__dirname, '..');
const fixtures = join(__dirname, 'fixtures', 'types');

// TypeScript 5.9: the `typescript59` devDependency (npm:typescript@5.9.x) when the repo has it,
// else a copy installed by hand with `npm install --prefix /tmp/ts59 typescript@5.9`.
const TS59 = [join(root, 'node_modules', 'typescript59', 'bin', 'tsc'), '/tmp/ts59/node_modules/typescript/bin/tsc'].find((p) => existsSync(p));
const compilers: { name: string; bin: string | undefined }[] = [
  { name: `the repo's TypeScript ${require('typescript/package.json').version}`, bin: join(root, 'node_modules', 'typescript', 'bin', 'tsc') },
  { name: 'TypeScript 5.9', bin: TS59 },
];

function tsc(bin: string, project: string) {
  const r = spawnSync(process.execPath, [bin, '--pretty', 'false', '-p', join(fixtures, project)], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** `line TSnnnn` for every `// @ts-expect-error TSnnnn` in misuse.ts: the error the next line must give. */
function expectedErrors(source: string): string[] {
  const out: string[] = [];
  source.split('\n').forEach((l, i) => {
    const m = /\/\/ @ts-expect-error (TS\d+)/.exec(l);
    if (m) out.push(`${i + 2} ${m[1]}`);
  });
  return out;
}

describe('TypeScript typings', function () {
  this.timeout(120000);

  for (const { name, bin } of compilers) {
    describe(`with ${name}`, () => {
      before(function () {
        // The typescript59 devDependency: `npm ci` installs it, so a missing one is a broken install, not a skip.
        if (!bin) throw new Error('TypeScript 5.9 not found: run npm ci (devDependency typescript59, npm:typescript@5.9.3)');
      });

      it('type-checks an app without casts, and every @ts-expect-error in misuse.ts fires', () => {
        const r = tsc(bin!, 'tsconfig.json');
        assert.equal(r.status, 0, r.out);
      });

      it('gives each misuse exactly the error its directive names, and nothing else', () => {
        const source = readFileSync(join(fixtures, 'misuse.ts'), 'utf8');
        const expected = expectedErrors(source);
        assert.ok(expected.length >= 40, `misuse.ts lists ${expected.length} cases`);
        const tag = `${process.pid}-${Date.now()}`;
        const file = `misuse-bare-${tag}.ts`;
        const config = `tsconfig-bare-${tag}.json`;
        try {
          writeFileSync(join(fixtures, file), source.replace(/\/\/ @ts-expect-error TS\d+/g, '//'));
          const base = JSON.parse(readFileSync(join(fixtures, 'tsconfig.json'), 'utf8'));
          writeFileSync(join(fixtures, config), JSON.stringify({ ...base, files: [file] }));
          const r = tsc(bin!, config);
          const got = [...new Set([...r.out.matchAll(new RegExp(`${file}\\((\\d+),\\d+\\): error (TS\\d+)`, 'g'))].map((m) => `${m[1]} ${m[2]}`))];
          assert.deepEqual(got, expected, r.out);
        } finally {
          rmSync(join(fixtures, file), { force: true });
          rmSync(join(fixtures, config), { force: true });
        }
      });
    });
  }

  it("lib/index.ts's exports are what types/ declares (nothing undeclared, nothing drifted)", () => {
    const r = tsc(compilers[0].bin!, 'tsconfig.impl.json');
    assert.equal(r.status, 0, r.out);
  });
});
