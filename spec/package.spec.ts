// README's Getting started, followed literally in a fresh app that installs the packed tarball (npm pack of a
// clean build), against the real Redis and MariaDB: what a user of the package gets, not what this repository has.
import { strict as assert } from 'assert';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { execFileSync, spawnSync } from 'child_process';
import type Redis from 'ioredis';
import type { Sequelize } from 'sequelize';
import { DATABASE_URL, REDIS_URL, dropPrefix, mysqlDb, redisClient, uniquePrefix, until } from './helpers';

const ROOT = join(__dirname, '..');
const DB = 'sa_pkg';
const version = (name: string): string => JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
// The app's own versions: sequelize 6.37.7 is the one the app had (the peer range must take it;
// SA_SEQUELIZE=6.x.y tries another), the others as installed here, so that npm finds them in its cache.
const SEQUELIZE = process.env.SA_SEQUELIZE || '6.37.7';
const APP_VERSIONS: Record<string, string> = {
  'sequelize': SEQUELIZE, 'mysql2': version('mysql2'), 'ioredis-mock': version('ioredis-mock'),
};

type Step = { kind: 'sh'; command: string } | { kind: 'file'; path: string; text: string };

/** The sh commands and js files between README's app path markers, in order. */
function appPath(): Step[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const m = /<!-- app path[^>]*-->([\s\S]*?)<!-- end app path -->/.exec(readme);
  assert.ok(m, 'README has the app path block');
  const steps: Step[] = [];
  for (const b of m[1].matchAll(/```(\w+)\n([\s\S]*?)```/g)) {
    if (b[1] === 'sh') {
      for (const line of b[2].split('\n')) if (line.trim()) steps.push({ kind: 'sh', command: line.trim() });
    } else {
      assert.equal(b[1], 'js', 'README app path blocks are sh or js');
      const first = /^\/\/ (\S+)\n/.exec(b[2]);
      assert.ok(first, `a js block of the app path opens with "// <file>": ${b[2].slice(0, 40)}`);
      steps.push({ kind: 'file', path: first[1], text: b[2] });
    }
  }
  return steps;
}

/** The environment of a command the user types: no npm_* variables from the `npm test` running this. */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_|^ASYNC_APP$|^INIT_CWD$/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

describe('the package, installed into a fresh app as README says', function () {
  this.timeout(180000);
  let tmp: string;
  let app: string;
  let env: NodeJS.ProcessEnv;
  let prefix: string;
  let redis: Redis;
  let db: Sequelize;
  let started = false;

  const sh = (command: string, cwd = app): { code: number | null; out: string; err: string } => {
    const r = spawnSync('bash', ['-c', command], { cwd, env, encoding: 'utf8', timeout: 120000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const ok = (command: string, cwd = app): string => {
    const r = sh(command, cwd);
    assert.equal(r.code, 0, `\`${command}\` failed (exit ${r.code}):\n${r.out}\n${r.err}`);
    return r.out;
  };

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'sa-pkg-'));
    app = join(tmp, 'app');
    mkdirSync(app);
    prefix = uniquePrefix('pkg');
    redis = redisClient();
    db = await mysqlDb(DB);
    await db.query('DROP TABLE IF EXISTS `Orders`');
    await db.query('DROP TABLE IF EXISTS `async_tasks`');
    const url = new URL(DATABASE_URL);
    url.pathname = `/${DB}`;
    env = userEnv({ DATABASE_URL: url.toString(), REDIS_URL });
  });

  after(async () => {
    if (started) {
      const r = sh('node scripts/async.js stop --kill-after=5');
      if (r.code !== 0) console.error(r.out, r.err);
    }
    await dropPrefix(redis, prefix);
    redis.disconnect();
    await db.query('DROP TABLE IF EXISTS `Orders`');
    await db.query('DROP TABLE IF EXISTS `async_tasks`');
    await db.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('packs only what a user runs, and the app path of README works from the tarball', async () => {
    // npm pack of a clean build, in a copy of the package's inputs, so this repository's dist/ is left alone.
    const stage = join(tmp, 'stage');
    for (const f of ['package.json', 'README.md', 'tsconfig.json', 'tsconfig.build.json', 'lib', 'types', 'templates', 'scripts/async.js']) {
      mkdirSync(dirname(join(stage, f)), { recursive: true });
      cpSync(join(ROOT, f), join(stage, f), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(stage, 'node_modules'));
    ok(`npm pack --pack-destination ${JSON.stringify(tmp)}`, stage);
    const tarball = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    assert.ok(tarball, 'npm pack wrote a tarball');
    const files = execFileSync('tar', ['tzf', join(tmp, tarball)], { encoding: 'utf8' }).trim().split('\n').map((f) => f.replace(/^package\//, ''));

    // The file list: the build, Lua, migrations, types, the launcher, templates; no sources, tests or benchmarks.
    const shipped = /^(dist\/lib\/.+\.js|lib\/lua\/.+\.lua|lib\/migrations\/[^/]+\.js|types\/.+\.d\.ts|scripts\/async\.js|templates\/[^/]+|README\.md|package\.json|LICENSE)$/;
    assert.deepEqual(files.filter((f) => !shipped.test(f)), [], 'files a user does not run are in the tarball');
    assert.deepEqual(files.filter((f) => /\.ts$/.test(f) && !/\.d\.ts$/.test(f)), [], 'TypeScript sources are in the tarball');
    for (const f of ['dist/lib/index.js', 'types/index.d.ts', 'scripts/async.js', 'templates/launcher.js', 'README.md']) assert.ok(files.includes(f), `${f} is missing from the tarball`);
    assert.ok(files.some((f) => /^lib\/lua\/include\/.+\.lua$/.test(f)), 'the Lua includes are missing');
    assert.ok(files.some((f) => /^lib\/migrations\/\d{14}-create-async-tasks\.js$/.test(f)), 'the migration is missing');
    const manifest = JSON.parse(execFileSync('tar', ['xzOf', join(tmp, tarball), 'package/package.json'], { encoding: 'utf8' }));
    for (const dep of ['sequelize', 'mysql2', 'pg', 'sqlite3', 'ioredis-mock']) assert.ok(!manifest.dependencies?.[dep], `${dep} is a dependency`);
    assert.ok(manifest.peerDependencies?.sequelize, 'sequelize is a peer dependency');

    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'pkg-app', version: '1.0.0', private: true }, null, 2));
    const steps = appPath();
    assert.deepEqual(steps.flatMap((s) => (s.kind === 'sh' ? [s.command] : [])), [
      'npm install sequelize-async sequelize mysql2', 'npm install --save-dev ioredis-mock',
      'npx sequelize-async generate', 'node scripts/async.js migrate',
      'node -e "require(\'./app/queue\').Order.sync().then(() => process.exit(0))"', 'node enqueue.js',
      'node scripts/async.js start --uid=1', 'node scripts/async.js inspect 1', 'node scripts/async.js stop',
    ], 'README app path has the steps this spec knows (change both together)');

    let taskId = '';
    for (const step of steps) {
      if (step.kind === 'file') {
        // The one change to README's code: a key prefix of this test's own.
        const text = step.path === 'app/queue.js' ? step.text.replace("prefix: 'async'", `prefix: '${prefix}'`) : step.text;
        if (step.path === 'app/queue.js') assert.notEqual(text, step.text, "app/queue.js sets prefix: 'async'");
        mkdirSync(dirname(join(app, step.path)), { recursive: true });
        writeFileSync(join(app, step.path), text);
        continue;
      }
      const { command } = step;
      if (command.startsWith('npm install')) {
        // The tarball stands for the registry's sequelize-async; the app's own packages at known versions.
        const args = command.split(/\s+/).slice(2).map((a) => a === 'sequelize-async' ? join(tmp, tarball) : APP_VERSIONS[a] ? `${a}@${APP_VERSIONS[a]}` : a);
        ok(`npm install --prefer-offline --no-audit --no-fund ${args.map((a) => JSON.stringify(a)).join(' ')}`);
        if (!command.includes('--save-dev')) {
          // One Sequelize: the app's own, not a nested second copy; no ioredis-mock in a production install.
          assert.equal(JSON.parse(readFileSync(join(app, 'node_modules', 'sequelize', 'package.json'), 'utf8')).version, SEQUELIZE);
          assert.ok(!existsSync(join(app, 'node_modules', 'sequelize-async', 'node_modules', 'sequelize')), 'a nested copy of sequelize was installed');
          assert.ok(!existsSync(join(app, 'node_modules', 'ioredis-mock')), 'ioredis-mock was installed without being asked for');
          const r = sh(`node -e "require('sequelize-async').setup({ redis: 'mock' })"`);
          assert.notEqual(r.code, 0);
          assert.match(r.err, /redis: 'mock' needs the ioredis-mock package, which is not installed: npm install --save-dev ioredis-mock@/);
        } else {
          const out = ok(`node -e "const q = require('sequelize-async').setup({ redis: 'mock' }); const Calc = { add: (a, b) => a + b }; q.register('Calc', Calc);
            (async () => { const w = q.worker(); await w.start(); const t = await q.async(Calc, 'add', { args: [2, 3] }); await t.wait({ timeout: 5000 });
            console.log(t.state, t.result); await w.stop(); await q.close(); })()"`);
          assert.equal(out.trim(), 'succeeded 5');
        }
      } else if (command === 'node enqueue.js') {
        const out = ok(command);
        const m = /^queued task (\d+)$/m.exec(out);
        assert.ok(m, `enqueue.js printed the task id: ${out}`);
        taskId = m[1];
      } else if (/^node scripts\/async\.js inspect 1$/.test(command)) {
        assert.ok(taskId, 'a task was enqueued before inspect');
        const cmd = command.replace(/ 1$/, ` ${taskId}`);
        const out = await until(() => { const r = sh(cmd); return r.code === 0 && /succeeded/.test(r.out) ? r.out : ''; }, 20000, 'the task to succeed');
        assert.match(out, /sent to ann@example\.com/);
        // The task in Redis, and its row in the SQL history (written by the worker's mirror loop).
        const fields = await redis.hgetall(`{${prefix}:default}:t:${taskId}`);
        assert.equal(fields.state, 'succeeded');
        assert.equal(fields.type, 'Order');
        assert.equal(fields.action, 'sendConfirmationEmail');
        const row = await until(async (): Promise<Record<string, unknown> | ''> => {
          const [rows] = await db.query(`SELECT state, success, object_type, action FROM async_tasks WHERE id = ${Number(taskId)}`);
          const r = (rows as Record<string, unknown>[])[0];
          return r && r.state === 'succeeded' ? r : '';
        }, 20000, 'the task to be mirrored to async_tasks') as Record<string, unknown>;
        assert.equal(Number(row.success), 1);
        assert.equal(row.object_type, 'Order');
      } else {
        ok(command);
        if (command === 'npx sequelize-async generate') {
          assert.ok(existsSync(join(app, 'scripts', 'async.js')), 'generate wrote scripts/async.js');
          assert.ok(readdirSync(join(app, 'migrations')).some((f) => /-create-async-tasks\.js$/.test(f)), 'generate wrote the migration');
        }
        if (/ start /.test(command)) {
          started = true;
          assert.ok(existsSync(join(app, 'log', 'async', 'async1.pid')), 'start wrote log/async/async1.pid');
        }
        if (/ stop$/.test(command)) {
          started = false;
          assert.ok(!existsSync(join(app, 'log', 'async', 'async1.pid')), 'stop removed the pid file');
        }
      }
    }
    assert.ok(taskId, 'the app path enqueued a task');
  });
});
