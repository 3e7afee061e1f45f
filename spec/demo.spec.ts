// `npm run demo`, the README's first command: SQLite in memory and ioredis-mock, so it runs the Lua
// scripts (the MySQL mirror's included) in the mock's Lua VM.
import { strict as assert } from 'assert';
import { spawn } from 'child_process';
import { join } from 'path';

describe('npm run demo (SQLite + ioredis-mock)', function () {
  this.timeout(60000);

  it('runs every task, reports no worker error, and finds the failed one in the history table', async () => {
    const root = join(__dirname, '..');
    const env = { ...process.env };
    delete env.DATABASE_URL;
    const child = spawn(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'scripts', 'demo.ts')], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.equal(code, 0, `${out}\n${err}`);
    assert.doesNotMatch(err, /worker error/, err);
    // The migration's column types are SQLite's own: Sequelize warns about none of them.
    assert.doesNotMatch(`${out}\n${err}`, /\(sequelize\) Warning/);
    assert.match(out, /database: SQLite in memory, Redis: in-process \(ioredis-mock\)/);
    assert.equal((out.match(/^worker: (SUCCESS|FAILURE) /gm) ?? []).length, 4, out);
    assert.match(out, /AsyncTask\.findAll\(\{ where: \{ success: false \} \}\) -> #2 Order#chargeCreditCard RangeError$/m);
  });
});
