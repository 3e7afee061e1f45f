// The dashboard over HTTP against a real server, real Redis, and MariaDB and PostgreSQL: every page
// with real data, every action, CSRF, read-only and authorize, escaping, error pages.
import assert from 'assert';
import http from 'http';
import type { AddressInfo } from 'net';
import { setup } from '../lib';
import { dashboard } from '../lib/web/dashboard';
import { Presence } from '../lib/presence';
import type { MetricsSource } from '../lib/web/metrics-source';
import { hasFulltext } from '../lib/web/fulltext';
import { startEnv, seed, Env, XSS, Mailer } from './dashboard-fixture';
import { Client, visible } from './dashboard-client';
import { until, REDIS_URL, DATABASES } from './helpers';

for (const db of DATABASES) describe(`dashboard (HTTP, ${db.label})`, function () {
  this.timeout(60000);
  let env: Env;
  let ids: Awaited<ReturnType<typeof seed>>;
  let c: Client;

  before(async () => {
    env = await startEnv('sa_web', 'web', db.dialect);
    ids = await seed(env);
    c = new Client(env.url);
  });
  after(async () => { await env?.close(); });

  const state = async (id: number) => (await env.queue.task(id))?.state;

  it('overview: counts per queue from Redis and the SQL history, a CSP without inline scripts, live JSON', async () => {
    const r = await c.get('/');
    assert.strictEqual(r.status, 200);
    const csp = r.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.match(r.headers.get('set-cookie') ?? '', /^sa_csrf=[^;]+; Path=\/; HttpOnly; SameSite=Strict/);
    const row = (q: string) => visible((new RegExp(`<tr data-queue="${q}">([\\s\\S]*?)</tr>`).exec(r.text) ?? [])[1] ?? '').trim();
    // queued, scheduled, running, succeeded, failed, oldest due, mirror lag
    assert.strictEqual(row('default'), 'default 0 1 0 2 0 – 0');
    assert.strictEqual(row('mail'), 'mail 0 0 0 0 2 – 0');
    const j = await (await fetch(`${env.url}/api/overview`)).json() as { queues: { queue: string; failed: number; scheduled: number }[]; finishedFrom: string };
    assert.strictEqual(j.finishedFrom, 'the metrics recorded in Redis');
    assert.deepStrictEqual(j.queues.map((q) => [q.queue, q.scheduled, q.failed]), [['default', 1, 0], ['mail', 0, 2]]);
  });

  it('overview: the age of the oldest due task of a queue no worker serves', async () => {
    const t = await env.queue.async(Mailer, 'send', { args: ['idle'], queue: 'idle', scheduledAt: Date.now() - 90000 });
    try {
      const r = await c.get('/');
      const row = visible((/<tr data-queue="idle">([\s\S]*?)<\/tr>/.exec(r.text) ?? [])[1] ?? '').trim();
      assert.match(row, /^idle 1 0 0 0 0 (9\d|1[01]\d) s \d+$/);
    } finally { await t.cancel(); }
  });

  it('overview: a paused queue shows as paused, the others do not', async () => {
    const t = await env.queue.async(Mailer, 'send', { args: ['held'], queue: 'held' });
    await env.queue.pause('held');
    try {
      const r = await c.get('/');
      const cells = (q: string) => [...((new RegExp(`<tr data-queue="${q}">([\\s\\S]*?)</tr>`).exec(r.text) ?? [])[1] ?? '').matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)]
        .map((m) => visible(m[1]).trim());
      const paused = (/<thead>([\s\S]*?)<\/thead>/.exec(r.text)?.[1] ?? '').match(/<th[^>]*>[^<]*<\/th>/g)?.findIndex((th) => />paused</.test(th)) ?? -1;
      assert.ok(paused > 0, 'the overview has a paused column');
      assert.strictEqual(cells('held')[paused], 'paused');
      assert.strictEqual(cells('default')[paused], '');
      await env.queue.resume('held');
      const again = await c.get('/');
      assert.doesNotMatch(visible((/<tr data-queue="held">([\s\S]*?)<\/tr>/.exec(again.text) ?? [])[1] ?? ''), /paused/);
    } finally { await env.queue.resume('held'); await t.cancel(); }
  });

  it('metrics JSON: processed and failed per minute over the last hour and per hour over 7 days, from the mirror', async () => {
    for (const [range, n] of [['hour', 60], ['days', 168]] as const) {
      const j = await (await fetch(`${env.url}/api/metrics?range=${range}`)).json() as { series: { at: number[]; processed: number[]; failed: number[] } };
      assert.strictEqual(j.series.at.length, n);
      assert.strictEqual(j.series.processed.reduce((a, b) => a + b, 0), 4, range);
      assert.strictEqual(j.series.failed.reduce((a, b) => a + b, 0), 2, range);
    }
    const mail = await (await fetch(`${env.url}/api/metrics?range=hour&queue=mail`)).json() as { series: { processed: number[] } };
    assert.strictEqual(mail.series.processed.reduce((a, b) => a + b, 0), 2);
    assert.strictEqual((await fetch(`${env.url}/api/metrics?range=year`)).status, 400);
  });

  it('takes its totals and charts from a MetricsSource given in the options (the seam for metrics recorded in Redis)', async () => {
    const source: MetricsSource = {
      enabled: true,
      unavailable: 'none',
      totalsFrom: 'the test source',
      totals: async () => new Map([['mail', { succeeded: 40, failed: 3 }]]),
      series: async (range, queue) => ({ stepMs: 60000, at: [0, 60000], processed: [range === 'hour' ? 5 : 6, queue === 'mail' ? 7 : 8], failed: [1, 0] }),
    };
    const url = await env.serve({ metrics: source });
    const page = visible(await (await fetch(`${url}/`)).text());
    assert.match(page, /mail 0 0 0 40 3 /);
    assert.match(page, /Succeeded and failed count the test source\./);
    const j = await (await fetch(`${url}/api/metrics?range=days&queue=mail`)).json() as { series: { processed: number[] } };
    assert.deepStrictEqual(j.series.processed, [6, 7]);
  });

  it('lists tasks newest first, by state and queue, filtered by type, action and error text, paged', async () => {
    const all = await c.get('/tasks');
    assert.strictEqual(all.status, 200);
    const order = [...all.text.matchAll(/<tr class="state-\w+"><td class="num"><a href="\/tasks\/(\d+)">/g)].map((m) => Number(m[1]));
    assert.deepStrictEqual(order, [...order].sort((a, b) => b - a), 'newest first');
    assert.deepStrictEqual(order.filter((id) => id <= ids.later), [5, 4, 3, 2, 1]);
    const listed = async (q: string) => [...(await c.get(`/tasks${q}`)).text.matchAll(/<a href="\/tasks\/(\d+)">\1<\/a>/g)].map((m) => Number(m[1]));
    assert.deepStrictEqual(await listed('?state=failed'), [ids.flaky, ids.failed]);
    assert.deepStrictEqual(await listed('?queue=default&state=succeeded'), [ids.xss, ids.ok]);
    assert.deepStrictEqual(await listed('?error=reset+by'), [ids.failed]);
    assert.deepStrictEqual(await listed('?error=100%25'), []);
    // Every word at a word start, in any order, ignoring case, on both dialects (lib/web/error-text.ts;
    // more in spec/dashboard-search.spec.ts); short words and stopwords too.
    assert.strictEqual(await hasFulltext(env.queue.AsyncTask!), db.dialect === 'mysql', 'the FULLTEXT index exactly on MySQL/MariaDB');
    assert.deepStrictEqual(await listed('?error=peer+reset'), [ids.failed]);
    assert.deepStrictEqual(await listed('?error=conn'), [ids.failed]);
    assert.deepStrictEqual(await listed('?error=by'), [ids.failed]);
    assert.deepStrictEqual(await listed('?error=peer+refused'), []);
    assert.deepStrictEqual(await listed('?error=refused'), [ids.flaky]);
    assert.deepStrictEqual(await listed('?type=Mailer&action=flaky'), [ids.flaky]);
    assert.deepStrictEqual(await listed('?type=Nobody'), []);
    assert.deepStrictEqual(await listed('?objectId=42'), []);
    assert.match((await c.get('/tasks?state=failed')).text, /Searched in the SQL history/);
    assert.deepStrictEqual(await listed('?page=2'), []);
  });

  it('one task: args, every error with its backtrace, times, worker, the Redis hash and the mirror row', async () => {
    const r = await c.get(`/tasks/${ids.failed}`);
    assert.strictEqual(r.status, 200);
    const t = visible(r.text);
    assert.match(t, /Attempt 1: SmtpError : connection reset by peer/);
    assert.match(t, /at Object\.boom \(.*dashboard-fixture\.ts:\d+:\d+\)/);
    assert.match(t, /Worker vm|Worker \S+:\d+:\d+/);
    assert.match(t, /Redis hash .*state failed/);
    assert.match(t, /SQL mirror row .*error_message connection reset by peer/);
    assert.match(t, /Args \[ "connection reset by peer" \]/);
    const ok = visible((await c.get(`/tasks/${ids.ok}`)).text);
    assert.match(ok, /Result \{ "sent": "ann@example.com" \}/);
  });

  it('a task whose args hold <script> renders as text', async () => {
    const r = await c.get(`/tasks/${ids.xss}`);
    assert.strictEqual(r.status, 200);
    assert.ok(!r.text.includes(XSS), 'the raw markup is not in the page');
    assert.ok(!/<script>document/.test(r.text) && !/<img src=x/.test(r.text));
    assert.ok(visible(r.text).includes(XSS.replace(/"/g, '\\"')), 'it shows as text');
    const list = await c.get('/tasks');
    assert.ok(!list.text.includes('<script>document') && list.text.includes('&lt;script&gt;document'));
  });

  it('scheduled tasks, soonest first', async () => {
    const r = await c.get('/scheduled');
    assert.strictEqual(r.status, 200);
    assert.match(visible(r.text), new RegExp(`${ids.later} default scheduled Mailer#send \\[ "later@example.com" \\]`));
  });

  it('workers: host, pid, uid, queues, concurrency, running, memory, since', async () => {
    const empty = await c.get('/workers');
    assert.match(visible(empty.text), /No worker is running/);
    const nap = await env.queue.async(Mailer, 'nap', { args: [1000] });
    await until(async () => (await state(nap.id)) === 'running', 5000, 'the nap to run');
    const p = new Presence(env.queue.redis, env.prefix, { name: env.worker.name, uid: 3, pid: 4242, supervisor: null, queues: ['default', 'mail'], concurrency: 5 },
      { stats: { done: 7, failed: 1, running: 2 } });
    await p.start();
    try {
      const t = visible((await c.get('/workers')).text);
      assert.ok(t.includes(`${env.worker.name} `), t);
      assert.match(t, new RegExp(`\\S+ 4242 3 default, mail 5 2 ${nap.id} Mailer#nap 7 1 \\d+ MB`));
      assert.match(t, /\d+ MB \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(\d+ ms\) running/);
    } finally { await p.stop(); await nap.wait({ timeout: 5000 }); }
  });

  it('bad ids, bad filters and unknown pages get a 404/400 page, never a stack trace', async () => {
    for (const [path, status, says] of [['/tasks/abc', 404, "there is no task 'abc'"], ['/tasks/0', 404, "there is no task '0'"], ['/tasks/99999', 404, 'there is no task 99999'],
      ['/tasks/1.5', 404, 'positive whole number'], ['/nope', 404, 'there is no page /nope'], ['/tasks?state=done', 400, "unknown state 'done'"],
      ['/tasks?queue=a%20b', 400, 'is not a queue name'], ['/tasks?page=-1', 400, 'page must be'], ['/assets/x.js', 404, 'no asset'],
      ['/bulk?do=explode', 400, "a bulk action is 'retry' or 'delete'"]] as const) {
      const r = await c.get(path);
      assert.strictEqual(r.status, status, path);
      assert.match(r.headers.get('content-type') ?? '', /text\/html/);
      assert.ok(visible(r.text).includes(says), `${path}: ${visible(r.text)}`);
      assert.doesNotMatch(r.text, /\s+at \S+ \(|\.ts:\d+/, `${path} shows no stack`);
    }
  });

  it('refuses a POST without the CSRF token, with a wrong one, from another origin, and anything but GET/POST (403)', async () => {
    await c.get(`/tasks/${ids.later}`);
    const good = c.token;
    const forged = `${good.split('.')[0]}.AAAA${good.split('.')[1].slice(4)}`;
    // A token of ours, validly signed, but not the one in this browser's cookie.
    const other = new Client(env.url);
    await other.get(`/tasks/${ids.later}`);
    assert.ok(other.token && other.token !== good);
    const cases: [string, Promise<{ status: number; text: string }>, RegExp][] = [
      ['no token', c.post(`/tasks/${ids.later}/cancel`, {}, { token: null }), /CSRF token is missing/],
      ['wrong token', c.post(`/tasks/${ids.later}/cancel`, {}, { token: forged, cookie: `sa_csrf=${forged}` }), /CSRF token is wrong/],
      ['field differs from cookie', c.post(`/tasks/${ids.later}/cancel`, {}, { token: other.token }), /CSRF token is wrong/],
      ['no cookie', c.post(`/tasks/${ids.later}/cancel`, {}, { cookie: 'other=1' }), /CSRF token is missing/],
      ['other origin', c.post(`/tasks/${ids.later}/cancel`, {}, { origin: 'http://evil.example' }), /another origin \(http:\/\/evil\.example/],
      ['no origin', c.post(`/tasks/${ids.later}/cancel`, {}, { origin: null }), /neither an Origin nor a Referer/],
      ['GET an action', c.get(`/tasks/${ids.later}/cancel`), /changes need a POST/],
      ['PUT', fetch(`${env.url}/tasks/${ids.later}/cancel`, { method: 'PUT' }).then(async (r) => ({ status: r.status, text: await r.text() })), /PUT is not allowed/],
    ];
    for (const [what, p, says] of cases) {
      const r = await p;
      assert.strictEqual(r.status, 403, what);
      assert.match(visible(r.text), says, what);
    }
    assert.strictEqual(await state(ids.later), 'scheduled', 'nothing changed');
  });

  it('retries a failed task: it runs again and succeeds', async () => {
    Mailer.healed = true;
    await c.get(`/tasks/${ids.flaky}`);
    const r = await c.post(`/tasks/${ids.flaky}/retry`);
    assert.strictEqual(r.status, 303);
    assert.match(r.location ?? '', new RegExp(`^/tasks/${ids.flaky}\\?msg=`));
    await until(async () => (await state(ids.flaky)) === 'succeeded', 10000, 'the retried task to succeed');
    const page = await c.get(r.location as string);
    assert.match(visible(page.text), new RegExp(`Task ${ids.flaky} queued again\\.`));
    assert.match(visible(page.text), /Result \{ "sent": "bob@example.com", "retried": true \}/);
    // A forged flash message is not shown.
    assert.doesNotMatch(visible((await c.get(`/tasks/${ids.flaky}?msg=You+were+hacked&ok=1&sig=x`)).text), /hacked/);
  });

  it('cancels a scheduled task', async () => {
    const r = await c.post(`/tasks/${ids.later}/cancel`);
    assert.strictEqual(r.status, 303);
    assert.strictEqual(await state(ids.later), 'cancelled');
    assert.match(visible((await c.get(r.location as string)).text), /cancelled\./);
  });

  it('deletes a task from Redis and the SQL history; refuses a running one', async () => {
    await env.settled();
    const r = await c.post(`/tasks/${ids.xss}/delete`);
    assert.strictEqual(r.status, 303);
    assert.strictEqual(await env.queue.task(ids.xss), null);
    assert.strictEqual(await env.queue.AsyncTask!.count({ where: { id: ids.xss } }), 0);
    assert.strictEqual((await c.get(`/tasks/${ids.xss}`)).status, 404);
    assert.strictEqual((await env.queue.redis.zscore(env.queue.internals.keys('default').finished, String(ids.xss))), null);

    const nap = await env.queue.async(Mailer, 'nap', { args: [1500] });
    await until(async () => (await state(nap.id)) === 'running', 5000, 'the nap to run');
    const refused = await c.post(`/tasks/${nap.id}/delete`);
    assert.match(visible((await c.get(refused.location as string)).text), /is running: it cannot be deleted/);
    await nap.wait({ timeout: 5000 });
    assert.strictEqual(nap.state, 'succeeded');

    const later = await env.queue.schedule(Mailer, Date.now() + 60000, 'send', { args: ['x'] });
    await c.post(`/tasks/${later.id}/delete`);
    assert.strictEqual(await env.queue.task(later.id), null);
    assert.strictEqual(await env.queue.redis.zcard(env.queue.internals.keys('default').scheduled), 0);

    // Queued on a queue no worker serves: in order (the list) and out of order (the zset).
    const k = env.queue.internals.keys('idle2');
    const first = await env.queue.async(Mailer, 'send', { args: ['1'], queue: 'idle2' });
    const second = await env.queue.async(Mailer, 'send', { args: ['2'], queue: 'idle2' });
    const early = await env.queue.async(Mailer, 'send', { args: ['3'], queue: 'idle2', scheduledAt: Date.now() - 60000 });
    const entries = async () => [...await env.queue.redis.lrange(`${k.base}fifo:10`, 0, -1), ...await env.queue.redis.zrange(`${k.base}due:10`, 0, -1)].join(' ');
    assert.strictEqual((await env.queue.stats()).idle2.queued, 3);
    for (const t of [first, early]) await c.post(`/tasks/${t.id}/delete`);
    assert.strictEqual((await env.queue.stats()).idle2.queued, 1);
    assert.match(await entries(), new RegExp(`^\\d+:${second.id}$`));
    await c.post(`/tasks/${second.id}/delete`);
    assert.strictEqual(await entries(), '');
    assert.strictEqual((await env.queue.stats()).idle2.queued, 0);
  });

  it('bulk: retry every failed task matching a filter, delete every match, after a confirm page with the count and the cap', async () => {
    const more = await Promise.all([1, 2, 3].map((i) => env.queue.async(Mailer, 'boom', { args: [`bulk ${i}`], queue: 'mail' })));
    await env.settled();
    const confirm = await c.get('/bulk?do=retry&action=boom');
    assert.strictEqual(confirm.status, 200);
    assert.match(visible(confirm.text), /This will retry 4 tasks\. At most 1000 are changed per request/);
    const r = await c.post('/bulk', { do: 'retry', action: 'boom', state: 'failed' });
    assert.strictEqual(r.status, 303);
    assert.match(decodeURIComponent(r.location ?? '').replace(/\+/g, ' '), /4 tasks queued again/);
    for (const t of [ids.failed, ...more.map((m) => m.id)]) {
      await until(async () => (await env.queue.task(t))?.attempts === 2 && (await state(t)) === 'failed', 10000, `task ${t} to run again`);
    }
    await env.settled();
    const del = await c.get('/bulk?do=delete&queue=mail&action=boom&error=bulk');
    assert.match(visible(del.text), /This will delete 3 tasks/);
    await c.post('/bulk', { do: 'delete', queue: 'mail', action: 'boom', error: 'bulk' });
    for (const m of more) assert.strictEqual(await env.queue.task(m.id), null);
    assert.ok(await env.queue.task(ids.failed), 'the one not matching stays');
  });

  it('read-only and authorize("read") show no buttons and refuse changes; authorize false refuses everything', async () => {
    for (const opts of [{ readOnly: true }, { authorize: () => 'read' as const }]) {
      const url = await env.serve(opts);
      const rc = new Client(url);
      const page = await rc.get(`/tasks/${ids.failed}`);
      assert.strictEqual(page.status, 200);
      assert.doesNotMatch(page.text, /<form method="post"/);
      assert.strictEqual((await rc.get('/bulk?do=retry')).status, 403);
      const token = (await c.get('/')) && c.token;
      const r = await rc.post(`/tasks/${ids.failed}/retry`, {}, { token, cookie: c.cookie });
      assert.strictEqual(r.status, 403);
      assert.match(visible(r.text), /read-only/);
    }
    assert.strictEqual(await state(ids.failed), 'failed');
    const closed = await env.serve({ authorize: async () => false as const });
    const r = await fetch(`${closed}/`);
    assert.strictEqual(r.status, 403);
    assert.match(await r.text(), /not allowed to see this dashboard/);
  });

  it('the dashboard indexes migration is safe to run again (both call forms)', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const m = require('../lib/migrations/20261203120000-dashboard-indexes.js') as { up(a: unknown, b?: unknown): Promise<void>; INDEXES: { name: string }[] };
    const qi = env.seq.getQueryInterface();
    await m.up(qi, env.seq.constructor);
    await m.up({ context: qi });
    const names = ((await qi.showIndex('async_tasks')) as { name: string }[]).map((i) => i.name);
    for (const n of [...m.INDEXES.map((i) => i.name), ...(db.dialect === 'mysql' ? ['async_tasks_error_message_ft'] : [])]) assert.ok(names.includes(n), n);
  });

  it('mounted under a path (Express/Connect: req.baseUrl) every link and form has the prefix', async () => {
    const handler = dashboard(env.queue);
    // What app.use('/async', handler) hands a middleware: the mount in baseUrl, the rest in url.
    const server = http.createServer((req, res) => {
      const r = req as http.IncomingMessage & { baseUrl?: string; originalUrl?: string };
      if (!req.url?.startsWith('/async')) { res.statusCode = 418; res.end(); return; }
      r.originalUrl = req.url; r.baseUrl = '/async'; req.url = req.url.slice(6) || '/';
      handler(req, res, () => undefined);
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const mc = new Client(`${url}/async`, url);
      const page = await mc.get(`/tasks/${ids.failed}`);
      assert.match(page.text, /href="\/async\/assets\/dashboard.css"/);
      assert.match(page.text, /action="\/async\/tasks\/\d+\/delete"/);
      assert.match(mc.cookie, /^sa_csrf=/);
      assert.match((await fetch(`${url}/async/tasks/${ids.failed}`)).headers.get('set-cookie') ?? '', /Path=\/async;/);
      const ov = await mc.get('/');
      assert.match(ov.text, /href="\/async\/tasks\?queue=mail&amp;state=failed"/);
    } finally { server.close(); }
    // Connect: no baseUrl, only originalUrl; the mount point itself comes as '/'.
    const connectLike = http.createServer((req, res) => {
      (req as http.IncomingMessage & { originalUrl?: string }).originalUrl = req.url;
      req.url = req.url!.slice(6) || '/';
      handler(req, res);
    });
    await new Promise<void>((ok) => connectLike.listen(0, '127.0.0.1', ok));
    const curl = `http://127.0.0.1:${(connectLike.address() as AddressInfo).port}`;
    try {
      for (const path of ['/async', '/async/', '/async/tasks?state=failed']) {
        const t = await (await fetch(curl + path)).text();
        assert.match(t, /href="\/async\/assets\/dashboard.css"/, path);
      }
    } finally { connectLike.close(); }
  });

  it('without the mirror and metrics: false: counts from Redis, search through the Redis indexes, the chart says metrics come from the mirror', async () => {
    const q = setup({ redis: REDIS_URL, prefix: env.prefix, metrics: false });
    try {
      const h = dashboard(q);
      const server = http.createServer(h);
      await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        const nc = new Client(base);
        const ov = await nc.get('/');
        assert.match(visible(ov.text), /Metrics come from the SQL mirror: this queue does not mirror/);
        assert.match(visible(ov.text), /count the finished tasks still in Redis/);
        const m = await (await fetch(`${base}/api/metrics?range=hour`)).json() as { series: unknown };
        assert.strictEqual(m.series, null);
        const failed = await nc.get('/tasks?state=failed&error=reset');
        assert.match(visible(failed.text), /From the Redis indexes \(a filter looks at the newest 20,000 tasks of each index per queue\)/);
        const listed = [...failed.text.matchAll(/<a href="\/tasks\/(\d+)">\1<\/a>/g)].map((x) => Number(x[1]));
        assert.deepStrictEqual(listed, [ids.failed]);
        assert.match(visible((await nc.get(`/tasks/${ids.failed}`)).text), /This queue does not mirror to SQL/);
      } finally { server.close(); }
    } finally { await q.close(); }
  });
});
