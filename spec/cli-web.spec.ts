// `web`: the dashboard served by the CLI for the app module's queue, until SIGTERM.
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
