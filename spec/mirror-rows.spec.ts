// The mirror's row mapping without servers: a task hash as an async_tasks row, the JSON renderings
// of stored values, a row read back as handle fields, the upsert it becomes, and its error texts.
import assert from 'assert';
import { Sequelize, ConnectionRefusedError, DatabaseError } from 'sequelize';
import { encode, encodeArgs, encodeError } from '../lib/codec';
import { rowFromHash, COLUMNS, MAX_BLOB } from '../lib/mirror/rows';
import { jsonFromMsgpack, toJsonValue } from '../lib/mirror/json';
import { fieldsFromRow, hashFromRow } from '../lib/mirror/model';
import { upsertSql } from '../lib/mirror/upsert';
import { databaseError, databaseLabel } from '../lib/mirror/db-error';
import { summarize } from '../lib/mirror/migrate';
import type { RawHash } from '../lib/util/values';

// Never connects: Sequelize opens a connection only for a query.
const mysql = new Sequelize('mysql://root@10.0.0.9:3307/app', { logging: false });
// (pg is not installed here: a stand-in driver module is enough for SQL text and errors.)
const fakePg = { types: { setTypeParser() { /* unused */ }, getTypeParser() { return () => undefined; }, builtins: {} }, Client: class {}, native: null };
const pg = new Sequelize('postgres://postgres@db.example:5432/app', { logging: false, dialectModule: fakePg });

function hash(extra: RawHash = {}): RawHash {
  return {
    type: 'Order', object_id: '42', action: 'ship', args: encodeArgs([42, 'x'])!, priority: '5', state: 'succeeded',
    success: '1', result: encode({ ok: true }), attempts: '1', worker: 'host:1', scheduled_at: '1700000000000',
    started_at: '1700000000100', finished_at: '1700000000200', created_at: '1699999999000', ...extra,
  };
}

describe('mirror rows (no servers)', () => {
  after(async () => { await mysql.close(); await pg.close(); });

  describe('rowFromHash', () => {
    it('maps every field of a succeeded task, with JSON renderings beside the msgpack', () => {
      const r = rowFromHash('mail', 9, hash());
      assert.deepStrictEqual(Object.keys(r).sort(), [...COLUMNS].sort());
      assert.strictEqual(r.id, 9); assert.strictEqual(r.queue, 'mail');
      assert.strictEqual(r.object_type, 'Order'); assert.strictEqual(r.object_id, '42'); assert.strictEqual(r.action, 'ship');
      assert.ok(Buffer.isBuffer(r.args)); assert.ok(Buffer.isBuffer(r.result));
      assert.strictEqual(r.args_json, '[42,"x"]');
      assert.strictEqual(r.result_json, '{"ok":true}');
      assert.strictEqual(r.priority, 5); assert.strictEqual(r.state, 'succeeded'); assert.strictEqual(r.success, true);
      assert.strictEqual(r.cancelled, false); assert.strictEqual(r.attempts, 1); assert.strictEqual(r.worker, 'host:1');
      assert.strictEqual((r.scheduled_at as Date).getTime(), 1700000000000);
      assert.strictEqual((r.first_scheduled_at as Date).getTime(), 1700000000000, 'no retry: the scheduled time');
      assert.strictEqual((r.finished_at as Date).getTime(), 1700000000200);
      assert.strictEqual(r.error_name, null); assert.strictEqual(r.error_message, null);
    });

    it('keeps the first scheduled time of a task a retry moved', () => {
      const r = rowFromHash('q', 1, hash({ scheduled_at: '1700000099000', first_scheduled_at: '1700000000000' }));
      assert.strictEqual((r.scheduled_at as Date).getTime(), 1700000099000);
      assert.strictEqual((r.first_scheduled_at as Date).getTime(), 1700000000000);
    });

    it('puts a failure\'s stored error in result, result_json and the error columns', () => {
      const err = Object.assign(new Error('no stock'), { name: 'StockError', code: 7 });
      const r = rowFromHash('q', 2, hash({ state: 'failed', success: '0', error: encodeError(err), result: encode('stale') }));
      assert.strictEqual(r.error_name, 'StockError'); assert.strictEqual(r.error_message, 'no stock');
      assert.match(String(r.backtrace), /^at /);
      const j = JSON.parse(String(r.result_json));
      assert.deepStrictEqual(Object.keys(j), ['$error']);
      assert.strictEqual(j.$error.name, 'StockError'); assert.strictEqual(j.$error.message, 'no stock'); assert.strictEqual(j.$error.code, 7);
      assert.match(j.$error.stack, /^StockError: no stock\n/);
    });

    it('writes no result for a task not finished, and NULL JSON where there is no value', () => {
      const h = hash({ state: 'queued' });
      delete h.success; delete h.args; delete h.result;
      const q = rowFromHash('q', 4, h);
      assert.strictEqual(q.args, null); assert.strictEqual(q.args_json, null);
      assert.strictEqual(q.result, null); assert.strictEqual(q.result_json, null); assert.strictEqual(q.success, null);
    });

    it('leaves the JSON columns out when the table has none (json: false)', () => {
      const r = rowFromHash('q', 5, hash(), { json: false });
      assert.strictEqual(r.args_json, null); assert.strictEqual(r.result_json, null);
      assert.ok(Buffer.isBuffer(r.args));
    });

    it('does not copy a value over 4 MB and says so in error_message', () => {
      const big = encode('x'.repeat(MAX_BLOB + 10));
      const r = rowFromHash('q', 6, hash({ result: big }));
      assert.strictEqual(r.result, null); assert.strictEqual(r.result_json, null);
      assert.match(String(r.error_message), /^result \(\d+ bytes\) too large to mirror$/);
    });

    it('clamps damaged numbers and times instead of failing the batch', () => {
      const r = rowFromHash('q', 7, hash({ priority: 'high', attempts: '1e99', scheduled_at: 'soon', finished_at: '9e99' }));
      assert.strictEqual(r.priority, 0); assert.strictEqual(r.attempts, 2147483647);
      assert.strictEqual(r.scheduled_at, null); assert.strictEqual(r.first_scheduled_at, null);
      assert.strictEqual((r.finished_at as Date).toISOString(), '9999-12-31T23:59:59.999Z');
    });

    it('replaces NUL characters for PostgreSQL (jsonb refuses \\u0000) and keeps them elsewhere', () => {
      const h = hash({ args: encodeArgs(['a\0b', { 'k\0': 1 }])! });
      assert.strictEqual(rowFromHash('q', 8, h).args_json, '["a\\u0000b",{"k\\u0000":1}]');
      assert.strictEqual(rowFromHash('q', 8, h, { noNul: true }).args_json, '["a\ufffdb",{"k\ufffd":1}]');
    });
  });

  describe('JSON rendering', () => {
    it('renders what JSON has no type for in the documented form', () => {
      const v = [12345678901234567890n, Buffer.from('hi'), new Map<unknown, unknown>([[1, 'one']]), new Set(['a']), new Date('2026-01-02T03:04:05.006Z'),
        new Date(NaN), undefined, NaN, Infinity, -Infinity, null, true, -0.5, 'é'];
      assert.deepStrictEqual(JSON.parse(jsonFromMsgpack(encode(v))!), [
        { $bigint: '12345678901234567890' }, { $binary: 'aGk=' }, { $map: [[1, 'one']] }, { $set: ['a'] }, { $date: '2026-01-02T03:04:05.006Z' },
        { $date: null }, { $undefined: true }, { $number: 'NaN' }, { $number: 'Infinity' }, { $number: '-Infinity' }, null, true, -0.5, 'é']);
    });

    it('wraps a plain object that would read as a marker, and only such an object', () => {
      const j = (v: unknown) => JSON.parse(JSON.stringify(toJsonValue(v)));
      assert.deepStrictEqual(j({ $bigint: '1' }), { $object: { $bigint: '1' } });
      assert.deepStrictEqual(j({ $x: 1, y: 2 }), { $x: 1, y: 2 });
      assert.deepStrictEqual(j({ n: { $set: [] } }), { n: { $object: { $set: [] } } });
    });

    it('keeps a "__proto__" key as a plain key', () => {
      const o = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
      const text = JSON.stringify(toJsonValue(o));
      assert.strictEqual(text, '{"__proto__":{"polluted":true},"a":1}');
      assert.strictEqual(({} as Record<string, unknown>).polluted, undefined);
    });

    it('says so for bytes that do not decode, and null for no value', () => {
      // An array of two with one element: cut short.
      assert.match(jsonFromMsgpack(Buffer.from([0x92, 0x01]))!, /^\{"\$undecodable":".+"\}$/);
      assert.strictEqual(jsonFromMsgpack(null), null);
      assert.strictEqual(jsonFromMsgpack(Buffer.alloc(0)), null);
    });
  });

  describe('fieldsFromRow / hashFromRow', () => {
    it('reads a row back as the handle fields of the task it was', () => {
      const r = rowFromHash('mail', 9, hash()) as Record<string, unknown>;
      const f = fieldsFromRow(r);
      assert.deepStrictEqual(f.args, [42, 'x']); assert.deepStrictEqual(f.result, { ok: true });
      assert.strictEqual(f.objectType, 'Order'); assert.strictEqual(f.objectId, '42'); assert.strictEqual(f.state, 'succeeded');
      assert.strictEqual(f.success, true); assert.strictEqual(f.priority, 5); assert.strictEqual(f.attempts, 1);
      assert.strictEqual(f.scheduledAt!.getTime(), 1700000000000); assert.strictEqual(f.finishedAt!.getTime(), 1700000000200);
      assert.strictEqual(hashFromRow(r).scheduled_at, '1700000000000');
    });

    it('gives a failed row its stored error, and a row that succeeded after failing its last error', () => {
      const failed = rowFromHash('q', 2, hash({ state: 'failed', success: '0', error: encodeError(new Error('boom')) })) as Record<string, unknown>;
      const f = fieldsFromRow(failed);
      assert.ok(f.result instanceof Error); assert.strictEqual((f.result as Error).message, 'boom');
      const ok = fieldsFromRow({ ...rowFromHash('q', 3, hash()), error_name: 'TimeoutError', error_message: 'took too long', backtrace: 'at a\nat b' });
      assert.strictEqual(ok.errors!.length, 1);
      assert.strictEqual(ok.errors![0].name, 'TimeoutError');
      assert.deepStrictEqual(ok.errors![0].backtrace, ['at a', 'at b']);
    });
  });

  describe('upsert SQL', () => {
    it('upserts by id on MySQL with the values escaped, writing only the columns given', () => {
      const row = rowFromHash('q', 1, hash({ object_id: "it's" }));
      const sql = upsertSql(mysql, [row]);
      assert.match(sql, /^INSERT INTO `async_tasks` \(`id`,`queue`,.*`args_json`,`result_json`,`first_scheduled_at`,`recurrence`,`unique_key`\) VALUES \(1,'q','Order','it\\'s','ship',X'/);
      assert.match(sql, /'\[42,\\"x\\"\]'/);
      assert.match(sql, /'2023-11-14 22:13:20\.000'/);
      assert.match(sql, / ON DUPLICATE KEY UPDATE `queue`=VALUES\(`queue`\),.*`first_scheduled_at`=VALUES\(`first_scheduled_at`\),`recurrence`=VALUES\(`recurrence`\),`unique_key`=VALUES\(`unique_key`\)$/);
      const old = upsertSql(mysql, [row], ['id', 'queue', 'state']);
      assert.strictEqual(old, "INSERT INTO `async_tasks` (`id`,`queue`,`state`) VALUES (1,'q','succeeded') ON DUPLICATE KEY UPDATE `queue`=VALUES(`queue`),`state`=VALUES(`state`)");
    });

    it('upserts by id on PostgreSQL with ON CONFLICT', () => {
      const sql = upsertSql(pg, [rowFromHash('q', 1, hash())], ['id', 'args_json']);
      assert.strictEqual(sql, 'INSERT INTO "async_tasks" ("id","args_json") VALUES (1,\'[42,"x"]\') ON CONFLICT ("id") DO UPDATE SET "args_json"=excluded."args_json"');
    });

    it('escapes for PostgreSQL as Sequelize does, times with their offset, into the table given', () => {
      const row = { ...rowFromHash('q', 1, hash({ object_id: "it's\u0000" })), args: Buffer.from('hi') };
      const sql = upsertSql(pg, [row], ['id', 'object_id', 'args', 'scheduled_at', 'success'], 'async_tasks_billing');
      assert.strictEqual(sql, 'INSERT INTO "async_tasks_billing" ("id","object_id","args","scheduled_at","success") VALUES '
        + "(1,'it''s\\0',E'\\\\x6869','2023-11-14 22:13:20.000+00:00',true) ON CONFLICT (\"id\") DO UPDATE SET "
        + '"object_id"=excluded."object_id","args"=excluded."args","scheduled_at"=excluded."scheduled_at","success"=excluded."success"');
      for (const v of ["it's\u0000", Buffer.from('hi'), new Date(1700000000000), true, null, 7]) {
        const ours = upsertSql(pg, [{ ...row, object_id: v }], ['id', 'object_id']);
        assert.ok(ours.includes(`(1,${pg.escape(v as string).replace(' +00:00', '+00:00')})`), `${String(v)}: ${ours}`);
      }
    });
  });

  describe('database errors', () => {
    it('name the database and its address', () => {
      assert.strictEqual(databaseLabel(mysql), 'MySQL at 10.0.0.9:3307');
      assert.strictEqual(databaseLabel(pg), 'PostgreSQL at db.example:5432');
      const e = databaseError(mysql, new ConnectionRefusedError(Object.assign(new Error('connect ECONNREFUSED 10.0.0.9:3307'), { code: 'ECONNREFUSED' })));
      assert.ok(e instanceof ConnectionRefusedError, 'still the error Sequelize raised');
      assert.strictEqual(e.message, 'MySQL at 10.0.0.9:3307: connect ECONNREFUSED 10.0.0.9:3307');
      assert.strictEqual(databaseError(mysql, e).message, e.message, 'described once');
      const plain = new Error('not from the database');
      assert.strictEqual(databaseError(mysql, plain).message, 'not from the database');
    });

    it('say what to run for a missing table or column', () => {
      const parent = (code: string, errno: number | undefined, message: string) => Object.assign(new Error(message), { code, errno, sql: '' });
      const table = databaseError(mysql, new DatabaseError(parent('ER_NO_SUCH_TABLE', 1146, "Table 'app.async_tasks' doesn't exist") as never));
      assert.strictEqual(table.message, "MySQL at 10.0.0.9:3307: Table 'app.async_tasks' doesn't exist (the async_tasks table is missing: run `node scripts/async.js migrate` or queue.migrate())");
      const column = databaseError(pg, new DatabaseError(parent('42703', undefined, 'column "args_json" does not exist') as never));
      assert.match(column.message, /^PostgreSQL at db\.example:5432: column "args_json" does not exist \(async_tasks lacks columns of a newer sequelize-async migration: run `node scripts\/async\.js migrate`/);
    });
  });

  it('summarizes what migrate did', () => {
    const base = { table: 'async_tasks', created: false, addedColumns: [] as string[], addedIndexes: [] as string[] };
    assert.strictEqual(summarize({ ...base, created: true }), 'created async_tasks');
    assert.strictEqual(summarize(base), 'async_tasks is up to date');
    assert.strictEqual(summarize({ ...base, addedColumns: ['args_json'], addedIndexes: ['a', 'b'] }), 'async_tasks: added column args_json; added indexes a, b');
  });
});
