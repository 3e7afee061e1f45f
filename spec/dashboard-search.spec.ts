// The dashboard's search as a user sees it, with the mirror (MariaDB and PostgreSQL) and without it
// (the Redis indexes): the error text ignores case and finds words at a word start on every path; a
// filtered list is newest first and pages through every match, also past the few thousand newest
// rows the SQL search looks at first; the bulk count is the number of matches; and the Redis path
// lists the same tasks as the SQL path.
import assert from 'assert';
import http from 'http';
import type { AddressInfo } from 'net';
import { setup } from '../lib';
import { dashboard } from '../lib/web/dashboard';
import { hasFulltext, hasTrigram } from '../lib/web/fulltext';
import { startEnv, Env, Mailer } from './dashboard-fixture';
import { Client, visible } from './dashboard-client';
import { until, REDIS_URL, DATABASES } from './helpers';

/** The ids a task list shows, in order. */
const listed = async (c: Client, q: string) => {
  const r = await c.get(`/tasks${q}`);
  assert.strictEqual(r.status, 200, `${q}: ${visible(r.text).slice(0, 300)}`);
  return { ids: [...r.text.matchAll(/<a href="\/tasks\/(\d+)">\1<\/a>/g)].map((m) => Number(m[1])), older: /rel="next"/.test(r.text), text: r.text };
};

/** Every page of a list, concatenated. */
async function allPages(c: Client, q: string): Promise<number[]> {
  const ids: number[] = [];
  for (let p = 1; p < 50; p++) {
    const page = await listed(c, `${q}&page=${p}`);
    ids.push(...page.ids);
    if (!page.older) return ids;
    assert.strictEqual(page.ids.length, 25, `page ${p} of ${q} is full when an older one follows`);
  }
  throw new Error(`${q}: more than 50 pages`);
}

for (const db of DATABASES) describe(`dashboard search (${db.label}, and Redis without the mirror)`, function () {
  this.timeout(120000);
  let env: Env;
  let c: Client;
  let off: { c: Client; close(): Promise<void> };
  const ids: Record<string, number> = {};

  before(async () => {
    env = await startEnv('sa_web_search', 'search', db.dialect);
    c = new Client(env.url);
    // The same prefix without the mirror: its lists come from the Redis indexes.
    const q = setup({ redis: REDIS_URL, prefix: env.prefix });
    const server = http.createServer(dashboard(q));
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    off = { c: new Client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), close: async () => { server.close(); await q.close(); } };
    for (const [k, msg] of [['reset', 'read ECONNRESET: connection reset by peer'], ['deadlock', 'Deadlock found when trying to get lock'],
      ['refused', 'connect ECONNREFUSED 10.0.0.7:5432'], ['card', 'Card DECLINED (code 51)']] as const) {
      ids[k] = (await env.queue.async(Mailer, 'boom', { args: [msg], queue: 'mail' })).id;
    }
    ids.ok = (await env.queue.async(Mailer, 'send', { args: ['deadlock@example.com'] })).id;
    await env.settled();
  });
  after(async () => { await off?.close(); await env?.close(); });

  it('its migration: on MySQL/MariaDB error_message ignores case (type and ids stay exact), on PostgreSQL a trigram index; safe to run again', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const m = require('../lib/migrations/20261204000000-error-text-search.js') as { up(a: unknown, b?: unknown): Promise<void> };
    const qi = env.seq.getQueryInterface();
    await m.up(qi, env.seq.constructor);
    await m.up({ context: qi });
    const model = env.queue.AsyncTask!;
    assert.strictEqual(await hasFulltext(model), db.dialect === 'mysql');
    assert.strictEqual(await hasTrigram(model), db.dialect === 'postgres');
    if (db.dialect === 'mysql') {
      const cols = await env.seq.query("SELECT COLUMN_NAME AS c, COLLATION_NAME AS k FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'async_tasks' AND COLUMN_NAME IN ('error_message', 'object_type', 'object_id')",
        { type: 'SELECT' }) as { c: string; k: string }[];
      assert.deepStrictEqual(Object.fromEntries(cols.map((x) => [x.c, x.k])), { error_message: 'utf8mb4_unicode_ci', object_type: 'utf8mb4_bin', object_id: 'utf8mb4_bin' });
    }
    const names = ((await qi.showIndex('async_tasks')) as { name: string }[]).map((i) => i.name);
    assert.strictEqual(names.includes('async_tasks_error_message_trgm'), db.dialect === 'postgres');
  });

  it('finds an error by a word of any case, at the start of a word, the same with the mirror and without', async () => {
    const cases: [string, number[]][] = [
      ['ECONNRESET', [ids.reset]], ['econnreset', [ids.reset]], ['Deadlock', [ids.deadlock]], ['DEADLOCK', [ids.deadlock]],
      ['deadlock', [ids.deadlock]], ['econn', [ids.refused, ids.reset]], ['ECONNRESET connection', [ids.reset]], ['Reset PEER', [ids.reset]],
      ['declined', [ids.card]], ['card declined', [ids.card]], ['(code', [ids.card]],
      // Punctuation first: anywhere; a word inside another is not a word start.
      [':5432', [ids.refused]], ['10.0.0.7', [ids.refused]], ['nnreset', []], ['eadlock', []], ['lined', []],
      // The task whose args (not its error) hold the word is no match.
      ['example', []],
    ];
    for (const [words, want] of cases) {
      const q = `?error=${encodeURIComponent(words)}`;
      assert.deepStrictEqual((await listed(c, q)).ids, want, `mirror: ${words}`);
      assert.deepStrictEqual((await listed(off.c, q)).ids, want, `Redis: ${words}`);
    }
    const page = await listed(c, '?state=failed&error=ECONNRESET');
    assert.match(visible(page.text), /SmtpError: read ECONNRESET: connection reset by peer/);
  });

  it('the Redis path lists the same tasks as the SQL path for the same filter, newest first, paged', async () => {
    // One worker at a time on this queue: tasks finish in id order, as the Redis list walks them.
    const w = env.queue.worker({ concurrency: 1, queues: ['search'] });
    await w.start();
    try {
      const made: number[] = [];
      for (let i = 0; i < 40; i++) {
        const msg = [`Gateway TIMEOUT after ${i} s`, `read ECONNRESET #${i}`, `Deadlock found (${i})`][i % 3];
        made.push((await env.queue.async(Mailer, i % 8 === 7 ? 'send' : 'boom', { args: [msg], queue: 'search' })).id);
      }
      await until(async () => (await env.queue.stats()).search?.finished === 40, 20000, 'the 40 tasks to finish');
      await env.settled();
      const failed = made.filter((_, i) => i % 8 !== 7).reverse();
      const expect = (keep: (i: number) => boolean) => made.map((id, i) => ({ id, i })).filter(({ i }) => i % 8 !== 7 && keep(i)).map((x) => x.id).reverse();
      const filters: [string, number[]][] = [
        ['?queue=search&state=failed', failed],
        ['?queue=search&state=failed&action=boom', failed],
        ['?queue=search&error=timeout', expect((i) => i % 3 === 0)],
        ['?state=failed&queue=search&error=Gateway+timeout', expect((i) => i % 3 === 0)],
        ['?queue=search&error=econnreset', expect((i) => i % 3 === 1)],
        ['?state=failed&queue=search&type=Mailer&action=boom&error=FOUND', expect((i) => i % 3 === 2)],
        ['?queue=search&state=succeeded', made.filter((_, i) => i % 8 === 7).reverse()],
        ['?queue=search&state=failed&error=nothing+like+it', []],
      ];
      for (const [q, want] of filters) {
        const sql = await allPages(c, q);
        assert.deepStrictEqual(sql, want, `mirror: ${q}`);
        assert.deepStrictEqual(await allPages(off.c, q), sql, `Redis: ${q}`);
      }
      assert.ok(failed.length > 25, 'the failed list has two pages');
      const confirm = visible((await off.c.get('/bulk?do=retry&queue=search&error=econnreset')).text);
      assert.match(confirm, new RegExp(`This will retry ${expect((i) => i % 3 === 1).length} tasks`));
    } finally { await w.stop(); }
  });

  it('pages through every match of a text search past the newest rows it looks at first, and counts them for a bulk action', async () => {
    // 5,000 failed rows in the SQL history alone (ids far above the live tasks'), oldest first: the
    // newest 4,000 hold "declined" 10 times, the oldest 1,000 hold it 100 times (capitalised in
    // some), and "zebra" twice; the rest are other errors.
    const model = env.queue.AsyncTask!;
    const FIRST = 10_000_001;
    const want: number[] = [];
    const zebra: number[] = [];
    const rows = Array.from({ length: 5000 }, (_, i) => {
      const id = FIRST + i;
      const declined = i < 1000 ? i % 10 === 3 : i % 400 === 7;
      const message = declined ? (i % 20 === 3 ? `Card DECLINED: insufficient funds (${i})` : `card declined (code ${i})`)
        : i === 5 || i === 6 ? `Zebra crossing closed (${i})` : i % 2 ? `timed out after ${i} ms` : `connect ECONNREFUSED 10.0.${i % 250}.1:5432`;
      if (declined) want.unshift(id);
      if (i === 5 || i === 6) zebra.unshift(id);
      return { id, queue: 'history', object_type: 'Invoice', object_id: String(i), action: i % 2 ? 'charge' : 'refund', state: 'failed', success: false,
        attempts: 1, priority: 0, error_name: 'CardError', error_message: message, created_at: new Date(Date.now() - 86400000 + i), finished_at: new Date() };
    });
    for (let i = 0; i < rows.length; i += 1000) await model.bulkCreate(rows.slice(i, i + 1000) as never[]);
    try {
      assert.strictEqual(want.length, 110);
      // The live task failed with "Card DECLINED (code 51)" is the oldest match where the filter lets it in.
      const charges = want.filter((id) => (id - FIRST) % 2 === 1);
      for (const [q, only] of [['?state=failed&error=declined', [...want, ids.card]], ['?state=failed&error=DECLINED', [...want, ids.card]],
        ['?queue=history&state=failed&error=Declined', want], ['?error=declined', [...want, ids.card]], ['?type=Invoice&action=charge&error=declined', charges],
        ['?queue=history&state=failed&error=de', want], ['?queue=history&error=de', want]] as const) {
        assert.deepStrictEqual(await allPages(c, q), only, q);
      }
      assert.deepStrictEqual((await listed(c, '?state=failed&error=Zebra')).ids, zebra);
      assert.deepStrictEqual((await listed(c, '?state=failed&error=zebra+crossing&page=2')).ids, []);
      assert.deepStrictEqual((await listed(c, '?state=failed&error=zebra+declined')).ids, []);
      // A bulk action says how many match (at most its cap).
      assert.match(visible((await c.get('/bulk?do=retry&error=declined')).text), /This will retry 111 tasks/);
      assert.match(visible((await c.get('/bulk?do=delete&state=failed&error=timed')).text), /This will delete 1000\+ tasks/);
    } finally { await model.destroy({ where: { queue: 'history' } }); }
  });
});
