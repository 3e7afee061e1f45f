// The SQL mirror on real Redis, against MariaDB and PostgreSQL: rows, migration, retention, lag, outage.
import assert from 'assert';
import net from 'net';
import { join } from 'path';
import { execFileSync } from 'child_process';
import { mkdtempSync, copyFileSync, writeFileSync, mkdirSync, readdirSync } from 'fs';
import { tmpdir } from 'os';
import type { Sequelize } from 'sequelize';
import { setup, Queue, runMirror, MIGRATIONS_DIR, TableTakenError } from '../lib';
import { redisClient, uniquePrefix, dropPrefix, until, sleep, REDIS_URL, DATABASES } from './helpers';

const DB = 'sa_mirror';

const Jobs = {
  name: 'Jobs',
  add(a: number, b: number) { return a + b; },
  nothing() { /* no result */ },
  boom(msg: string) { const e = new Error(msg) as Error & { code?: number }; e.name = 'BoomError'; e.code = 7; throw e; },
  nap(ms: number) { return new Promise((r) => setTimeout(r, ms)); },
  work(i: number) { if (i % 10 === 0) throw new Error(`task ${i} fails`); return { i }; },
  echo(...xs: unknown[]) { return xs; },
};

for (const db of DATABASES) describe(`mirror (${db.label} history)`, function () {
  this.timeout(60000);
  let seq: Sequelize;
  let prefix: string;
  const queues: Queue[] = [];
  const redis = redisClient();

  before(async () => {
    seq = await db.open(DB);
    // A fresh start each run: the table and the migration tools' record of it.
    await seq.query('DROP TABLE IF EXISTS async_tasks');
    await seq.query(`DROP TABLE IF EXISTS ${seq.getQueryInterface().quoteIdentifier('SequelizeMeta')}`);
  });
  after(async () => { await seq.close(); redis.disconnect(); });
  beforeEach(async () => {
    prefix = uniquePrefix('mir');
    // Every test's ids start at 1: start from an empty table.
    await seq.query('DELETE FROM async_tasks').catch(() => undefined);
  });
  afterEach(async () => {
    for (const q of queues.splice(0)) await q.close();
    await dropPrefix(redis, prefix);
  });

  function queue(opts: Record<string, unknown> = {}, sequelize: Sequelize = seq): Queue {
    const q = setup({ sequelize, redis: REDIS_URL, prefix, ...opts });
    q.register(Jobs);
    queues.push(q);
    return q;
  }

  const rows = async () => (await seq.query('SELECT * FROM async_tasks ORDER BY id', { type: 'SELECT' })) as Record<string, unknown>[];

  it('migrates twice (queue.migrate, then the shipped migrations through umzug and sequelize-cli) and the model matches the table', async () => {
    // Sequelize warns (console.warn) about a type the dialect does not have: none may.
    const warned: string[] = [];
    const warn = console.warn;
    console.warn = (...a: unknown[]) => { warned.push(a.map(String).join(' ')); };
    let q: Queue;
    try {
      q = queue();
      assert.strictEqual((await q.migrate()).summary, 'created async_tasks');
    } finally { console.warn = warn; }
    assert.deepStrictEqual(warned, []);
    const again = await q.migrate();
    assert.deepStrictEqual([again.created, again.addedColumns, again.addedIndexes, again.summary], [false, [], [], 'async_tasks is up to date']);
    const files = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.js')).sort();
    assert.deepStrictEqual(files, ['20250101000000-create-async-tasks.js', '20261203000000-add-async-tasks-json.js', '20261203120000-dashboard-indexes.js', '20261203130000-add-async-tasks-recurrence.js',
      '20261204000000-error-text-search.js']);
    // umzug 3: up({ context: queryInterface })
    const { Umzug, SequelizeStorage } = await import('umzug');
    const umzug = new Umzug({ migrations: { glob: join(MIGRATIONS_DIR, '*.js') }, context: seq.getQueryInterface(), storage: new SequelizeStorage({ sequelize: seq }), logger: undefined });
    const ran = await umzug.up();
    assert.strictEqual(ran.length, 5);
    // sequelize-cli: up(queryInterface, Sequelize), loaded from a migrations folder
    const dir = mkdtempSync(join(tmpdir(), 'sa-cli-'));
    mkdirSync(join(dir, 'migrations'));
    for (const f of files) copyFileSync(join(MIGRATIONS_DIR, f), join(dir, 'migrations', f));
    const u = new URL(db.url(DB));
    writeFileSync(join(dir, '.sequelizerc'), `module.exports = { 'migrations-path': ${JSON.stringify(join(dir, 'migrations'))}, url: ${JSON.stringify(u.toString())} };`);
    await seq.query(`DELETE FROM ${seq.getQueryInterface().quoteIdentifier('SequelizeMeta')} WHERE name LIKE '%async-tasks%'`);
    const bin = join(__dirname, '..', 'node_modules', '.bin', 'sequelize-cli');
    const out = execFileSync(bin, ['db:migrate', '--url', u.toString()], { cwd: dir, encoding: 'utf8' });
    assert.match(out, /create-async-tasks: migrated/);
    assert.match(out, /add-async-tasks-json: migrated/);
    // Same columns and indexes as the model declares.
    const table = await seq.getQueryInterface().describeTable('async_tasks');
    assert.deepStrictEqual(Object.keys(table).sort(), Object.keys(q.AsyncTask!.getAttributes()).sort());
    // The types: on MySQL/MariaDB exactly those the first migration always created.
    const types = ['id', 'args', 'error_message', 'scheduled_at'].map((c) => table[c].type);
    if (db.dialect === 'postgres') {
      assert.deepStrictEqual(types, ['BIGINT', 'BYTEA', 'TEXT', 'TIMESTAMP WITH TIME ZONE']);
      const [p] = await seq.query("SELECT datetime_precision AS p FROM information_schema.columns WHERE table_name = 'async_tasks' AND column_name = 'scheduled_at'", { type: 'SELECT' }) as { p: number }[];
      assert.strictEqual(Number(p.p), 3, 'TIMESTAMPTZ(3): milliseconds, as the task times');
    } else assert.deepStrictEqual(types.map((x) => x.replace('BIGINT(20)', 'BIGINT')), ['BIGINT UNSIGNED', 'LONGBLOB', 'MEDIUMTEXT', 'DATETIME(3)']);
    const idx = (await seq.getQueryInterface().showIndex('async_tasks') as { name: string }[]).map((i) => i.name);
    for (const n of ['async_tasks_object', 'async_tasks_state', 'async_tasks_scheduled_at']) assert.ok(idx.includes(n), `index ${n}`);
  });

  it('migrates a table of the first migration: adds the JSON columns and first_scheduled_at, keeping its rows', async () => {
    const q = queue();
    await q.migrate();
    await seq.query("INSERT INTO async_tasks (id, queue, object_type, action, state, scheduled_at) VALUES (7, 'default', 'Jobs', 'add', 'queued', '2026-01-02 03:04:05.678')");
    await seq.query('ALTER TABLE async_tasks DROP COLUMN args_json, DROP COLUMN result_json, DROP COLUMN first_scheduled_at');
    // Until then the mirror writes what the table has, and says once what is missing.
    const errors: Error[] = [];
    const t = await q.async(Jobs, 'add', { args: [1, 2] });
    const ac = new AbortController();
    const loop = runMirror(q, { signal: ac.signal, onError: (e) => errors.push(e) });
    await until(async () => (await rows()).length === 2, 5000, 'the row of the old table');
    ac.abort();
    await loop;
    assert.strictEqual(errors.length, 1, errors.map((e) => e.message).join('\n'));
    assert.match(errors[0].message, new RegExp(`^${db.label} at 127\\.0\\.0\\.1:\\d+: async_tasks has no column`));
    assert.match(errors[0].message, /async_tasks has no column args_json, result_json, first_scheduled_at yet: run `node scripts\/async\.js migrate`/);
    const r = await q.migrate();
    assert.deepStrictEqual([r.created, r.addedColumns, r.summary], [false, ['args_json', 'result_json', 'first_scheduled_at'],
      'async_tasks: added columns args_json, result_json, first_scheduled_at']);
    const old = (await rows()).find((x) => Number(x.id) === 7)!;
    assert.strictEqual((old.first_scheduled_at as Date).toISOString(), '2026-01-02T03:04:05.678Z');
    assert.strictEqual(old.args_json, null);
    assert.ok((await rows()).some((x) => Number(x.id) === t.id));
  });

  it('says what a missing table or an unreachable database is, naming the database, its address and the fix', async () => {
    const q = queue();
    await seq.query('DROP TABLE IF EXISTS async_tasks');
    try {
      await q.async(Jobs, 'add', { args: [1, 2] });
      const errors: Error[] = [];
      const ac = new AbortController();
      const loop = runMirror(q, { signal: ac.signal, onError: (e) => errors.push(e) });
      await until(async () => errors.length > 0, 5000, 'the mirror to report');
      ac.abort();
      await loop;
      assert.match(errors[0].message, new RegExp(`^${db.label} at 127\\.0\\.0\\.1:\\d+: there is no async_tasks table: run \`node scripts/async\\.js migrate\``));
      await assert.rejects(q.task(123456), new RegExp(`^SequelizeDatabaseError: ${db.label} at 127\\.0\\.0\\.1:\\d+: .*(doesn't exist|does not exist) \\(the async_tasks table is missing: run \`node scripts/async\\.js migrate\``));
    } finally {
      await q.migrate();
    }
    // Nothing listens on this port (a server just closed on it).
    const port = await new Promise<number>((res) => { const srv = net.createServer().listen(0, '127.0.0.1', () => { const p = (srv.address() as net.AddressInfo).port; srv.close(() => res(p)); }); });
    const { Sequelize } = await import('sequelize');
    const down = new Sequelize(db.url(DB, `127.0.0.1:${port}`), { logging: false, pool: { max: 1, acquire: 2000 } });
    try {
      await assert.rejects(queue({}, down).migrate(), (e: Error) => {
        assert.strictEqual(e.message, `${db.label} at 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`);
        return true;
      });
    } finally {
      await down.close();
    }
  });

  it('writes one row per task with the right fields: success, failure with backtrace, cancel, no result', async () => {
    const q = queue();
    await q.migrate();
    const ok = await q.async(Jobs, 'add', { args: [2, 3], priority: 7 });
    const fail = await q.async(Jobs, 'boom', { args: ['bad input'] });
    const none = await q.async(Jobs, 'nothing');
    const later = await q.schedule(Jobs, Date.now() + 3600e3, 'add', { args: [1, 1] });
    assert.strictEqual(await later.cancel(), 'cancelled');
    const w = q.worker({ concurrency: 2 });
    await w.start();
    await Promise.all([ok.wait(), fail.wait(), none.wait()]);
    await w.stop();
    const r = await rows();
    assert.deepStrictEqual(r.map((x) => Number(x.id)), [ok.id, fail.id, none.id, later.id].sort((a, b) => a - b));
    const byId = new Map(r.map((x) => [Number(x.id), x]));
    const a = byId.get(ok.id)!;
    assert.strictEqual(a.queue, 'default'); assert.strictEqual(a.object_type, 'Jobs'); assert.strictEqual(a.object_id, null);
    assert.strictEqual(a.action, 'add'); assert.strictEqual(a.state, 'succeeded'); assert.strictEqual(Number(a.success), 1);
    assert.strictEqual(Number(a.priority), 7); assert.strictEqual(Number(a.attempts), 1); assert.ok(a.worker);
    assert.ok(a.started_at instanceof Date && a.finished_at instanceof Date && a.created_at instanceof Date && a.scheduled_at instanceof Date);
    assert.strictEqual(a.error_name, null);
    const f = byId.get(fail.id)!;
    assert.strictEqual(f.state, 'failed'); assert.strictEqual(Number(f.success), 0);
    assert.strictEqual(f.error_name, 'BoomError'); assert.strictEqual(f.error_message, 'bad input');
    assert.match(String(f.backtrace), /^at .*boom/);
    const n = byId.get(none.id)!;
    assert.strictEqual(n.state, 'succeeded'); assert.strictEqual(n.result, null); assert.strictEqual(n.args, null);
    const c = byId.get(later.id)!;
    assert.strictEqual(c.state, 'cancelled'); assert.strictEqual(Number(c.cancelled), 1); assert.strictEqual(c.success, null);

    // The model's getters decode like a task handle.
    const M = q.AsyncTask!;
    const ra = (await M.findByPk(ok.id))!;
    assert.deepStrictEqual(ra.args, [2, 3]);
    assert.strictEqual(ra.result, 5);
    assert.strictEqual(ra.success, true);
    const rf = (await M.findByPk(fail.id))!;
    assert.ok(rf.result instanceof Error);
    assert.strictEqual((rf.result as Error).name, 'BoomError');
    assert.strictEqual((rf.result as Error & { code: number }).code, 7);
    assert.ok(((rf.result as Error & { backtrace: string[] }).backtrace).length > 0);
    assert.strictEqual((await M.findByPk(none.id))!.result, undefined);
    assert.deepStrictEqual((await M.findByPk(none.id))!.args, []);
    assert.strictEqual((await M.findAll({ where: { success: false } })).length, 1);
  });

  it('writes args_json and result_json that SQL can search, in the documented JSON form', async () => {
    const q = queue();
    await q.migrate();
    const add = await q.async(Jobs, 'add', { args: [42, 1] });
    const other = await q.async(Jobs, 'add', { args: [7, 1] });
    const fail = await q.async(Jobs, 'boom', { args: ['bad input'] });
    const when = new Date('2026-12-03T10:00:00.000Z');
    const odd = await q.async(Jobs, 'echo', { args: [12345678901234567890n, Buffer.from('hi'), new Map([['k', 1]]), new Set([2]), when,
      [undefined], 'a\u0000b\ud800', { $bigint: 'mine' }, { 'with "quotes"': 'é ✓' }, -1.5] });
    const w = q.worker({ concurrency: 2 });
    await w.start();
    await Promise.all([add.wait(), other.wait(), fail.wait(), odd.wait()]);
    await until(async () => (await q.stats()).default.mirrorLag.events === 0, 5000, 'the mirror to catch up');
    await w.stop();
    const ids = async (where: string) => ((await seq.query(`SELECT id FROM async_tasks WHERE ${where} ORDER BY id`, { type: 'SELECT' })) as { id: number }[]).map((r) => Number(r.id));
    const pg = db.dialect === 'postgres';
    assert.deepStrictEqual(await ids(pg ? "args_json->0 = '42'::jsonb" : "JSON_EXTRACT(args_json, '$[0]') = 42"), [add.id]);
    assert.deepStrictEqual(await ids(pg ? "result_json = '43'::jsonb" : "JSON_EXTRACT(result_json, '$') = 43"), [add.id]);
    assert.deepStrictEqual(await ids(pg ? "result_json->'$error'->>'name' = 'BoomError'" : "JSON_UNQUOTE(JSON_EXTRACT(result_json, '$.\"$error\".name')) = 'BoomError'"), [fail.id]);
    assert.deepStrictEqual(await ids(pg ? "result_json->'$error'->'code' = '7'::jsonb" : "JSON_EXTRACT(result_json, '$.\"$error\".code') = 7"), [fail.id]);
    assert.deepStrictEqual(await ids(pg ? "args_json->0->>'$bigint' = '12345678901234567890'" : "JSON_UNQUOTE(JSON_EXTRACT(args_json, '$[0].\"$bigint\"')) = '12345678901234567890'"), [odd.id]);
    const [row] = (await seq.query(`SELECT args, args_json, result_json FROM async_tasks WHERE id = ${odd.id}`, { type: 'SELECT' })) as Record<string, unknown>[];
    // (A lone surrogate is stored as U+FFFD: msgpack strings are UTF-8; PostgreSQL's jsonb has no NUL: U+FFFD too.)
    const form = [{ $bigint: '12345678901234567890' }, { $binary: Buffer.from('hi').toString('base64') }, { $map: [['k', 1]] }, { $set: [2] },
      { $date: '2026-12-03T10:00:00.000Z' }, [{ $undefined: true }], pg ? 'a\ufffdb\ufffd' : 'a\u0000b\ufffd', { $object: { $bigint: 'mine' } }, { 'with "quotes"': 'é ✓' }, -1.5];
    // (The driver may hand JSON columns back parsed.)
    const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
    assert.deepStrictEqual(json(row.args_json), form);
    assert.deepStrictEqual(json(row.result_json), form); // echo returns its args
    // The msgpack column is still the exact value.
    assert.deepStrictEqual((await q.AsyncTask!.findByPk(odd.id))!.args[0], 12345678901234567890n);
    assert.ok(Buffer.isBuffer(row.args));
    // The model reads the JSON columns as JSON values.
    assert.deepStrictEqual((await q.AsyncTask!.findByPk(add.id))!.get('args_json'), [42, 1]);
    const e = (await q.AsyncTask!.findByPk(fail.id))!.get('result_json') as { $error: { message: string; stack: string } };
    assert.strictEqual(e.$error.message, 'bad input');
    assert.match(e.$error.stack, /^BoomError: bad input\n/);
  });

  it('keeps the first scheduled time in first_scheduled_at when a retry moves scheduled_at', async () => {
    const q = queue({ retention: 60000 });
    await q.migrate();
    const at = Date.now() + 300;
    const bad = await q.schedule(Jobs, at, 'boom', { args: ['no'] });
    const w = q.worker({ concurrency: 1 });
    await w.start();
    await bad.wait({ timeout: 5000 });
    await until(async () => (await rows()).some((r) => r.state === 'failed'), 5000, 'the failed row');
    const first = (await rows())[0];
    assert.strictEqual((first.first_scheduled_at as Date).getTime(), at);
    assert.strictEqual((first.scheduled_at as Date).getTime(), at);
    await sleep(20);
    assert.strictEqual(await q.internals.retry(bad.queue, bad.id), 'queued');
    await until(async () => { const r = (await rows())[0]; return Number(r.attempts) === 2 && r.state === 'failed'; }, 5000, 'the retried row');
    await w.stop();
    const again = (await rows())[0];
    assert.strictEqual((again.first_scheduled_at as Date).getTime(), at, 'the first time stays');
    assert.ok((again.scheduled_at as Date).getTime() > at, 'scheduled_at is the retry\'s');
  });

  it('writes the recurring schedule and the unique key of a task into recurrence and unique_key', async () => {
    const q = queue({ retention: 60000 });
    await q.migrate();
    await q.every(Jobs, '* * * * * *', 'echo', { name: 'every-second', args: [1] });
    const u = await q.async(Jobs, 'echo', { args: [2], unique: 'sync-7' });
    const w = q.worker({ concurrency: 2 });
    await w.start();
    await until(async () => (await rows()).some((r) => r.recurrence === 'every-second' && r.state === 'succeeded'), 8000, 'a tick\'s row');
    await until(async () => (await rows()).some((r) => Number(r.id) === u.id && r.state === 'succeeded'), 5000, 'the unique task\'s row');
    await w.stop();
    await q.unschedule('every-second');
    const row = (await rows()).find((r) => Number(r.id) === u.id) as Record<string, unknown>;
    assert.strictEqual(row.unique_key, 'sync-7');
    assert.strictEqual(row.recurrence, null);
    const [n] = await seq.query("SELECT COUNT(*) AS n FROM async_tasks WHERE recurrence = 'every-second'", { type: 'SELECT' }) as { n: number }[];
    assert.ok(Number(n.n) >= 1);
  });

  it('with retention 0 drops a finished hash only once its row is written; queue.task(id) then reads SQL', async () => {
    const q = queue({ retention: 0 });
    await q.migrate();
    const t = await q.async(Jobs, 'add', { args: [20, 22] });
    const f = await q.async(Jobs, 'boom', { args: ['gone'] });
    // No mirror loop yet: the finished hash must stay.
    const w = q.worker({ mirror: false });
    await w.start();
    await until(async () => (await redis.hget(`{${prefix}:default}:t:${f.id}`, 'state')) === 'failed', 5000, 'tasks to finish');
    await w.stop();
    assert.strictEqual(await redis.exists(`{${prefix}:default}:t:${t.id}`), 1);
    assert.strictEqual((await rows()).length, 0);
    const ac = new AbortController();
    const loop = runMirror(q, { signal: ac.signal });
    await until(async () => (await redis.exists(`{${prefix}:default}:t:${t.id}`, `{${prefix}:default}:t:${f.id}`)) === 0, 5000, 'hashes to be dropped');
    ac.abort();
    await loop;
    assert.strictEqual((await rows()).length, 2);
    assert.strictEqual(await redis.zcard(`{${prefix}:default}:finished`), 0);
    const h = (await q.task(t.id))!;
    assert.strictEqual(h.state, 'succeeded'); assert.strictEqual(h.result, 42); assert.deepStrictEqual(h.args, [20, 22]);
    const hf = (await q.task(f.id))!;
    assert.strictEqual(hf.state, 'failed'); assert.ok(hf.result instanceof Error); assert.strictEqual(hf.errors.length, 1);
    assert.strictEqual((hf.result as Error).message, 'gone');
    await t.reload(); // the handle reloads from SQL too
    assert.strictEqual(t.result, 42);
    assert.strictEqual(await q.task(999999), null);
  });

  it('with retention > 0 gives mirrored finished hashes an expiry, and none before', async () => {
    const q = queue({ retention: 60000 });
    await q.migrate();
    const t = await q.async(Jobs, 'add', { args: [1, 2] });
    const w = q.worker({ mirror: false });
    await w.start();
    await t.wait();
    await w.stop();
    const key = `{${prefix}:default}:t:${t.id}`;
    assert.strictEqual(await redis.pttl(key), -1);
    const w2 = q.worker();
    await w2.start();
    await until(async () => (await redis.pttl(key)) > 0, 5000, 'an expiry');
    assert.ok((await redis.pttl(key)) <= 60000);
    await w2.stop();
  });

  it('reports mirror lag in stats(): events waiting and the age of the oldest', async () => {
    const q = queue();
    await q.migrate();
    assert.deepStrictEqual((await q.stats()).default, undefined);
    await q.async(Jobs, 'add', { args: [1, 2] });
    await q.async(Jobs, 'add', { args: [3, 4] });
    const s1 = (await q.stats()).default.mirrorLag;
    assert.strictEqual(s1.events, 2);
    assert.ok(s1.oldestAgeMs !== null && s1.oldestAgeMs >= 0);
    await sleep(300);
    const s2 = (await q.stats()).default.mirrorLag;
    assert.ok(s2.oldestAgeMs! >= 250, `age ${s2.oldestAgeMs}`);
    const w = q.worker();
    await w.start();
    await until(async () => (await q.stats()).default.mirrorLag.events === 0, 5000, 'the mirror to catch up');
    await w.stop();
    assert.deepStrictEqual((await q.stats()).default.mirrorLag, { events: 0, oldestAgeMs: null });
    assert.strictEqual((await rows()).length, 2);
  });

  it('gives way to saturated workers for at most yieldMs, then catches up while they are still busy', async () => {
    const q = queue();
    await q.migrate();
    const w = q.worker({ concurrency: 2, mirror: false });
    await q.bulk(Array.from({ length: 3000 }, () => [Jobs, 'nap', { args: [1] }] as [object, string, object]));
    const ctrl = new AbortController();
    await w.start();
    const loop = runMirror(q, { signal: ctrl.signal, batch: 20, yieldMs: 300 });
    // Rows keep landing while the backlog lasts: the pause is bounded, the mirror never starves.
    await until(async () => (await rows()).length >= 200, 10000, 'rows written during the burst');
    assert.ok((await q.stats()).default.queued > 0, 'the workers still had a backlog');
    await until(async () => (await q.stats()).default.queued === 0 && (await q.stats()).default.running === 0, 30000, 'the backlog to drain');
    await until(async () => (await q.stats()).default.mirrorLag.events === 0, 20000, 'the mirror to catch up');
    ctrl.abort();
    await loop;
    await w.stop();
    const r = await rows();
    assert.strictEqual(r.length, 3000);
    assert.ok(r.every((x) => x.state === 'succeeded'));
    await assert.rejects(runMirror(q, { yieldMs: -1 }), /yieldMs must be a number of ms >= 0 \(got -1\)/);
  });

  it('never lets two mirror loops trim each other\'s events: all rows land once', async () => {
    const q = queue();
    await q.migrate();
    const loops = [new AbortController(), new AbortController()];
    const running = loops.map((c) => runMirror(q, { signal: c.signal, batch: 7 }));
    const w = q.worker({ concurrency: 10, mirror: false });
    await w.start();
    const handles = await Promise.all(Array.from({ length: 150 }, (_, i) => q.async(Jobs, 'work', { args: [i + 1] })));
    await Promise.all(handles.map((h) => h.wait()));
    await until(async () => (await q.stats()).default.mirrorLag.events === 0, 10000, 'the mirror to catch up');
    await w.stop();
    for (const c of loops) c.abort();
    await Promise.all(running);
    const r = await rows();
    assert.strictEqual(r.length, 150);
    assert.strictEqual(r.filter((x) => x.state === 'failed').length, 15);
    assert.ok(r.every((x) => x.state === 'succeeded' || x.state === 'failed'));
  });

  it('keeps a change made after the mirror read the task for the next pass', async () => {
    const q = queue();
    const outbox = `{${prefix}:default}:outbox`;
    const t = await q.async(Jobs, 'add', { args: [1, 2] });
    const taken = (await q.internals.script('mirror-take', 'default', ['A', 30000, 10]) as unknown[]).map(String);
    assert.deepStrictEqual(taken, ['1', String(t.id)]);
    await t.cancel(); // a change after the read: its entry must stay
    assert.strictEqual(Number(await q.internals.script('mirror-done', 'default', ['A', 30000, 1])), 1);
    assert.deepStrictEqual(await redis.lrange(outbox, 0, -1), [String(t.id)]);
    await q.internals.script('mirror-release', 'default', ['A']);
  });

  it('writes a task changed many times once, even when its changes fall in different batches; a retried task again', async () => {
    const q = queue({ retention: 60000 });
    await q.migrate();
    const ok = await q.async(Jobs, 'add', { args: [1, 2] });
    const bad = await q.async(Jobs, 'boom', { args: ['no'] });
    const w = q.worker({ mirror: false });
    await w.start();
    await Promise.all([ok.wait(), bad.wait()]);
    await w.stop();
    // Enqueue, claim and finish: three changes per task, waiting.
    assert.strictEqual((await q.stats()).default.mirrorLag.events, 6);
    const inserts: string[] = [];
    const query = seq.query.bind(seq);
    const counting = Object.assign(Object.create(seq) as Sequelize, {
      query: (sql: unknown, o?: unknown) => { if (/^INSERT INTO .async_tasks/.test(String(sql))) inserts.push(String(sql)); return query(sql as string, o as never); },
    });
    const host = { internals: Object.assign(Object.create(q.internals), { sequelize: counting }) } as unknown as Queue;
    // One entry per batch: the task's first entry writes its final state, the later two are skipped.
    const mirrorAll = async () => {
      const ac = new AbortController();
      const loop = runMirror(host, { signal: ac.signal, batch: 1 });
      await until(async () => (await q.stats()).default.mirrorLag.events === 0, 5000, 'the mirror to catch up');
      ac.abort();
      await loop;
    };
    await mirrorAll();
    assert.strictEqual(inserts.length, 2, inserts.map((x) => x.slice(0, 160)).join('\n'));
    assert.deepStrictEqual((await rows()).map((r) => [Number(r.id), r.state]), [[ok.id, 'succeeded'], [bad.id, 'failed']]);
    // A retried task is no longer the one written: its new run is mirrored.
    assert.strictEqual(await q.internals.retry(bad.queue, bad.id), 'queued');
    const w2 = q.worker({ mirror: false });
    await w2.start();
    await until(async () => (await bad.reload()).attempts === 2 && bad.state === 'failed', 5000, 'the retry to run');
    await w2.stop();
    inserts.length = 0;
    await mirrorAll();
    assert.strictEqual(inserts.length, 1, inserts.map((x) => x.slice(0, 160)).join('\n'));
    const row = (await rows()).find((r) => Number(r.id) === bad.id)!;
    assert.strictEqual(Number(row.attempts), 2);
  });

  it('mirrors into a table of its own (mirror: { table }) and refuses a second prefix writing into the same table', async () => {
    await seq.query('DROP TABLE IF EXISTS async_tasks_billing');
    await queue().migrate(); // async_tasks too, to show nothing lands there
    assert.throws(() => setup({ sequelize: seq, redis: 'mock', mirror: { table: 'bad-name' } }), /mirror\.table must be a table name of 1-63 characters/);
    assert.throws(() => setup({ sequelize: seq, redis: 'mock', mirror: { tabel: 'x' } as never }), /mirror must be true, false or \{ table: 'name' \}/);
    const q = queue({ mirror: { table: 'async_tasks_billing' } });
    assert.strictEqual((await q.migrate()).summary, 'created async_tasks_billing');
    const idx = (await seq.getQueryInterface().showIndex('async_tasks_billing') as { name: string }[]).map((i) => i.name);
    for (const n of ['async_tasks_billing_object', 'async_tasks_billing_state', 'async_tasks_billing_scheduled_at']) assert.ok(idx.includes(n), `index ${n}`);
    const t = await q.async(Jobs, 'add', { args: [2, 2] });
    const w = q.worker();
    await w.start();
    await t.wait();
    await until(async () => (await q.AsyncTask!.findByPk(t.id))?.state === 'succeeded', 5000, 'the row in async_tasks_billing');
    assert.strictEqual(q.AsyncTask!.getTableName(), 'async_tasks_billing');
    assert.strictEqual((await rows()).length, 0, 'nothing in async_tasks');
    // Another prefix, same table, while the first one's mirror runs: refused, naming both.
    const otherPrefix = uniquePrefix('mir');
    const other = setup({ sequelize: seq, redis: REDIS_URL, prefix: otherPrefix, mirror: { table: 'async_tasks_billing' } });
    other.register(Jobs);
    try {
      const said = new RegExp(`prefix '${prefix}' is writing its task history into async_tasks_billing, so this queue's prefix '${otherPrefix}' must not`);
      await assert.rejects(other.migrate(), said);
      const errors: Error[] = [];
      const o = await other.async(Jobs, 'add', { args: [1, 1] });
      const ac = new AbortController();
      const loop = runMirror(other, { signal: ac.signal, onError: (e) => errors.push(e) });
      await until(async () => errors.length > 0, 5000, 'the second prefix\'s mirror to refuse');
      ac.abort();
      await loop;
      assert.match(errors[0].message, said);
      assert.ok(errors[0] instanceof TableTakenError);
      assert.deepStrictEqual([(errors[0] as TableTakenError).owner, (errors[0] as TableTakenError).prefix], [prefix, otherPrefix]);
      assert.strictEqual((await q.AsyncTask!.findByPk(t.id))!.action, 'add', 'the first prefix\'s row is untouched');
      assert.strictEqual(await q.AsyncTask!.count(), 1, `nothing of ${otherPrefix} (task ${o.id}) was written`);
      // Once the first prefix's mirror stopped (its lease given up), the table is free.
      await w.stop();
      await other.migrate();
    } finally {
      await other.close();
      await dropPrefix(redis, otherPrefix);
    }
  });

  it('refuses a trim by a loop that does not hold the lock', async () => {
    const q = queue();
    const outbox = `{${prefix}:default}:outbox`;
    await q.async(Jobs, 'add', { args: [1, 2] });
    const taken = (await q.internals.script('mirror-take', 'default', ['A', 30000, 10]) as unknown[]).map(String);
    assert.strictEqual(taken.length, 2);
    assert.deepStrictEqual((await q.internals.script('mirror-take', 'default', ['B', 30000, 10]) as unknown[]).map(String), ['0']);
    assert.strictEqual(Number(await q.internals.script('mirror-done', 'default', ['B', 30000, 1])), 0);
    assert.strictEqual(await redis.llen(outbox), 1);
    assert.strictEqual(Number(await q.internals.script('mirror-done', 'default', ['A', 30000, 1])), 1);
    assert.strictEqual(await redis.llen(outbox), 0);
  });

  it('keeps the queue running through a database outage of 10 s and then writes exactly one right row per task', async function () {
    this.timeout(60000);
    // A TCP proxy in front of MariaDB that the test cuts and restores.
    const sockets = new Set<net.Socket>();
    let up = true;
    const proxy = net.createServer((c) => {
      if (!up) { c.destroy(); return; }
      const s = net.connect(db.port, '127.0.0.1');
      sockets.add(c); sockets.add(s);
      const end = () => { c.destroy(); s.destroy(); sockets.delete(c); sockets.delete(s); };
      c.on('error', end); s.on('error', end); c.on('close', end); s.on('close', end);
      c.pipe(s); s.pipe(c);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const port = (proxy.address() as net.AddressInfo).port;
    const { Sequelize } = await import('sequelize');
    const viaProxy = new Sequelize(db.url(DB, `127.0.0.1:${port}`), { logging: false, pool: { max: 3, acquire: 2000 },
      dialectOptions: db.dialect === 'postgres' ? { connectionTimeoutMillis: 1000 } : { connectTimeout: 1000 } });
    try {
      const q = queue({}, viaProxy);
      await q.migrate();
      const errors: Error[] = [];
      const w = q.worker({ concurrency: 20 });
      w.on('error', (e) => errors.push(e));
      await w.start();
      // Cut the database.
      up = false;
      for (const s of sockets) s.destroy();
      const cutAt = Date.now();
      const handles = [];
      const argOf = new Map<number, number>();
      for (let i = 1; i <= 1000; i++) {
        const h = await q.async(Jobs, 'work', { args: [i] });
        argOf.set(h.id, i);
        handles.push(h);
      }
      await Promise.all(handles.map((h) => h.wait({ timeout: 20000 })));
      // Every task finished while the database was unreachable.
      const finishedDuringOutage = (await q.stats()).default.finished;
      assert.strictEqual(finishedDuringOutage, 1000);
      assert.ok((await q.stats()).default.mirrorLag.events >= 1000);
      if (Date.now() - cutAt < 10000) await sleep(10000 - (Date.now() - cutAt));
      assert.ok(errors.length > 0, 'the mirror reported the database as unreachable');
      const lag = (await q.stats()).default.mirrorLag;
      assert.ok(lag.oldestAgeMs! >= 9000, `oldest event age ${lag.oldestAgeMs}`);
      // Restore; rows catch up.
      up = true;
      await until(async () => (await q.stats()).default.mirrorLag.events === 0, 30000, 'the mirror to catch up');
      await w.stop();
      const r = await rows();
      assert.strictEqual(r.length, 1000);
      for (const row of r) {
        const i = argOf.get(Number(row.id));
        assert.ok(i !== undefined, `row ${row.id} is one of ours`);
        if (i % 10 === 0) { assert.strictEqual(row.state, 'failed'); assert.strictEqual(row.error_message, `task ${i} fails`); }
        else { assert.strictEqual(row.state, 'succeeded'); assert.strictEqual(Number(row.success), 1); }
        assert.strictEqual(Number(row.attempts), 1);
      }
    } finally {
      up = false;
      for (const s of sockets) s.destroy();
      proxy.close();
      await viaProxy.close().catch(() => undefined);
    }
  });
});
