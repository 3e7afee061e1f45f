// `web`, `recurring` and `unlock`: the dashboard served by the CLI, recurring schedules, unique locks.
import { strict as assert } from 'assert';
import { Harness, Jobs } from './cli-harness';
import { until } from './helpers';

describe('command line: web', function () {
  this.timeout(30000);
  const h = new Harness();
  beforeEach(() => h.setUp('web'));
  afterEach(() => h.tearDown());

  it('serves the dashboard on loopback, with the queue\'s tasks, and stops on SIGTERM', async () => {
    const t = await h.queue.async(Jobs, 'add', { args: [1, 2] });
    const p = h.spawn(['web', '--port=0']);
    const line = await until(() => /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(p.stdout), 15000, 'the dashboard URL');
    const url = (line as RegExpExecArray)[1];
    const overview = await fetch(url);
    assert.equal(overview.status, 200);
    assert.match(await overview.text(), /default/);
    const task = await fetch(`${url}tasks/${t.id}`);
    assert.equal(task.status, 200);
    assert.match(await task.text(), /Jobs#add/);
    p.child.kill('SIGTERM');
    const r = await p.exited;
    assert.equal(r.code, 0, r.stderr);
  });

  it('--read-only is said at start, and a bad --port is refused', async () => {
    const p = h.spawn(['web', '--port=0', '--read-only']);
    await until(() => /\(read-only\)/.test(p.stdout), 15000, 'the read-only start line');
    p.child.kill('SIGTERM');
    await p.exited;
    const bad = await h.cli(['web', '--port=70000']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--port must be a whole number from 0 to 65535/);
  });
});

describe('command line: recurring and unlock', function () {
  this.timeout(30000);
  const h = new Harness();
  beforeEach(() => h.setUp('rec'));
  afterEach(() => h.tearDown());

  it('recurring lists a schedule with its next tick, and --remove removes it', async () => {
    await h.queue.every(Jobs, '0 9 * * MON', 'add', { args: [1, 2], tz: 'Europe/Berlin', name: 'weekly-add' });
    let r = await h.cli(['recurring']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /weekly-add +default +0 9 \* \* MON +Europe\/Berlin +Jobs#add +\d{4}-\d\d-\d\dT0[78]:00:00\.000Z/);
    r = await h.cli(['recurring', '--remove=weekly-add']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /removed the recurring schedule 'weekly-add'/);
    assert.deepEqual(await h.queue.recurring(), []);
    r = await h.cli(['recurring', '--remove=weekly-add']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no recurring schedule named 'weekly-add'/);
  });

  it('unlock frees a unique lock by hand (a second enqueue then stores a new task); inspect shows the key', async () => {
    const first = await h.queue.async(Jobs, 'add', { args: [1, 1], unique: 'sync-42' });
    assert.equal((await h.queue.async(Jobs, 'add', { args: [1, 1], unique: 'sync-42' })).id, first.id);
    let r = await h.cli(['inspect', String(first.id)]);
    assert.match(r.stdout, /unique +sync-42/);
    r = await h.cli(['unlock', 'sync-42']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`freed the unique lock 'sync-42' \\(held by task ${first.id}\\)`));
    const second = await h.queue.async(Jobs, 'add', { args: [1, 1], unique: 'sync-42' });
    assert.notEqual(second.id, first.id);
    r = await h.cli(['unlock', 'nope']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no unique lock 'nope' in queue default/);
  });
});
