// The dashboard in headless Chromium (Debian's chromium package, driven by playwright-core): what
// a user sees and clicks. Keeps screenshots of the overview and a task page in docs/ for README.
import assert from 'assert';
import { mkdtempSync, rmSync, existsSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { chromium, BrowserContext, Page } from 'playwright-core';
import { startEnv, seed, Env, Mailer } from './dashboard-fixture';
import { until } from './helpers';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
// README's screenshots: rewritten in docs/ with UPDATE_SCREENSHOTS=1, else taken into a temporary
// folder (a test run leaves the checkout as it was).
const DOCS = join(__dirname, '..', 'docs');
// As a string: functions passed to page.evaluate would carry the TS loader's helpers with them.
const setVisibility = (v: string) => `Object.defineProperty(document, 'visibilityState', { configurable: true, get: function () { return '${v}'; } });
  document.dispatchEvent(new Event('visibilitychange'));`;

describe('dashboard (browser)', function () {
  this.timeout(90000);
  let env: Env;
  let ids: Awaited<ReturnType<typeof seed>>;
  let profile: string;
  const shots = () => (process.env.UPDATE_SCREENSHOTS ? DOCS : profile);
  let browser: BrowserContext;
  let page: Page;
  const problems: string[] = [];

  before(async function () {
    // Not a silent skip: without the browser this spec fails and says how to get it.
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    env = await startEnv('sa_web', 'webb');
    ids = await seed(env);
    profile = mkdtempSync(join(tmpdir(), 'sa-web-chromium-'));
    browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1280, height: 860 } });
    page = browser.pages()[0] ?? await browser.newPage();
    // A CSP violation or a script error shows up here: the page must have none.
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(e.message));
  });
  after(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await env?.close();
  });
  afterEach(() => { assert.deepStrictEqual(problems.splice(0), [], 'no console errors'); });

  const count = (queue: string, what: string) => page.locator(`tr[data-queue="${queue}"] [data-count="${what}"]`).innerText();

  it('the overview shows the counts and draws the chart', async () => {
    await page.goto(`${env.url}/`);
    assert.strictEqual(await count('mail', 'failed'), '2');
    assert.strictEqual(await count('default', 'succeeded'), '2');
    assert.strictEqual(await count('default', 'scheduled'), '1');
    assert.strictEqual(await page.locator('[data-total="failed"]').innerText(), '2');
    await page.locator('.chart[data-range="hour"] .uplot canvas').waitFor({ timeout: 10000 });
    await page.locator('.chart[data-range="days"] .uplot canvas').waitFor({ timeout: 10000 });
    await page.screenshot({ path: join(shots(), 'dashboard-overview.png'), fullPage: true });
  });

  it('clicking into a failed task shows its backtrace', async () => {
    await page.goto(`${env.url}/`);
    await page.click('a.card.failed');
    await page.waitForURL(/\/tasks\?state=failed$/);
    await page.click(`a[href="/tasks/${ids.failed}"] >> nth=0`);
    await page.waitForURL(new RegExp(`/tasks/${ids.failed}$`));
    const bt = await page.locator('pre.backtrace').first().innerText();
    assert.match(bt, /at Object\.boom \(.*dashboard-fixture\.ts:\d+:\d+\)/);
    assert.match(await page.locator('.error h3').first().innerText(), /SmtpError: connection reset by peer/);
    await page.screenshot({ path: join(shots(), 'dashboard-task.png'), fullPage: true });
  });

  it('Retry makes a failed task run again and succeed', async () => {
    Mailer.healed = true;
    await page.goto(`${env.url}/tasks/${ids.flaky}`);
    assert.strictEqual(await page.locator('#task-state').innerText(), 'failed');
    await page.click('button:has-text("Retry")');
    await page.waitForURL(new RegExp(`/tasks/${ids.flaky}\\?msg=`));
    assert.match(await page.locator('.flash').innerText(), /queued again/);
    await until(async () => {
      await page.reload();
      return (await page.locator('#task-state').innerText()) === 'succeeded';
    }, 10000, 'the page to show the task succeeded');
    assert.match(await page.locator('#task-result').innerText(), /"retried": true/);
  });

  it('a bulk retry of the failed tasks, after the confirm page', async () => {
    Mailer.healed = false;
    await Promise.all([1, 2].map((i) => env.queue.async(Mailer, 'flaky', { args: [`bulk${i}@example.com`], queue: 'mail' })));
    await env.settled();
    Mailer.healed = true;
    await page.goto(`${env.url}/tasks?state=failed&action=flaky`);
    await page.click('a:has-text("Retry all failed matching")');
    assert.match(await page.locator('p.confirm').innerText(), /This will retry 2 tasks\. At most 1000 are changed per request/);
    await page.click('button:has-text("Retry 2 tasks")');
    assert.match(await page.locator('.flash').innerText(), /2 tasks queued again/);
    await env.settled();
    await page.goto(`${env.url}/tasks?state=failed&action=flaky`);
    assert.match(await page.locator('main').innerText(), /No tasks match/);
  });

  it('the live overview picks up a new task, and stops polling while the tab is hidden', async () => {
    await page.goto(`${env.url}/`);
    const before = Number(await count('default', 'scheduled'));
    await env.queue.schedule(Mailer, Date.now() + 3600000, 'send', { args: ['live@example.com'] });
    await page.waitForFunction((n) => document.querySelector('tr[data-queue="default"] [data-count="scheduled"]')?.textContent === String(n), before + 1, { timeout: 10000 });
    assert.strictEqual(await page.locator('[data-total="scheduled"]').innerText(), String(before + 1));
    // A pause (and a resume) shows without a reload too.
    const paused = (want: string) => page.waitForFunction((w) => document.querySelector('tr[data-queue="default"] [data-count="paused"]')?.textContent === w, want, { timeout: 10000 });
    await env.queue.pause('default');
    await paused('paused');
    await env.queue.resume('default');
    await paused('');
    // A hidden tab: no more requests until it is visible again.
    let polls = 0;
    page.on('request', (r) => { if (r.url().endsWith('/api/overview')) polls += 1; });
    await page.evaluate(setVisibility('hidden'));
    await new Promise((r) => setTimeout(r, 300));
    polls = 0;
    await new Promise((r) => setTimeout(r, 5000));
    assert.strictEqual(polls, 0, 'no polling while hidden');
    await page.evaluate(setVisibility('visible'));
    await until(() => polls > 0, 5000, 'polling to resume');
  });
});
