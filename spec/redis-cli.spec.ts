// README's redis-cli recipe, run through the real redis-cli against a queue in database 5: each command must show
// what it says, with no blank lines.
import { strict as assert } from 'assert';
import { readFileSync } from 'fs';
import { join } from 'path';
import { execFileSync } from 'child_process';
import { setup, Queue, Task } from '../lib';
import Redis from 'ioredis';
import { REDIS_URL, uniquePrefix, dropPrefix, until } from './helpers';

// A database other than 0, as an app's REDIS_URL may name: a command without -u "$REDIS_URL" reads db 0 and shows nothing.
const url = new URL(REDIS_URL);
url.pathname = '/5';
const DB5_URL = url.toString();

/** README's recipe: the lines before the first comment set things up, then each comment names the command after it. */
function recipe(): { prelude: string[]; steps: { label: string; command: string }[] } {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const block = /<!-- redis-cli recipe[^>]*-->\s*```sh\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'README has the redis-cli recipe block');
  const lines = block[1].trim().split('\n');
  const first = lines.findIndex((l) => l.startsWith('# '));
  const prelude = lines.slice(0, first);
  assert.ok(prelude.includes("Q='{async:default}'"), "the recipe sets Q='{async:default}'");
  const steps: { label: string; command: string }[] = [];
  for (let i = first; i < lines.length; i += 2) {
    assert.match(lines[i], /^# /, `recipe line ${i + 1} should be a comment`);
    steps.push({ label: lines[i].slice(2), command: lines[i + 1] });
  }
  const calls = block[1].match(/redis-cli\b[^|;)]*/g) ?? [];
  assert.deepEqual(calls.filter((c) => !c.startsWith('redis-cli -u "$REDIS_URL" ')), [], 'every redis-cli call of the recipe names the Redis with -u "$REDIS_URL"');
  return { prelude, steps };
}

/** Runs one command of the recipe as a user would (REDIS_URL set, the real redis-cli); its lines, none blank. */
function run(prelude: string[], command: string, tag: string): string[] {
  const script = [...prelude.map((l) => l.replace("Q='{async:default}'", `Q='${tag}'`)), command].join('\n');
  const out = execFileSync('bash', ['-c', script], { env: { ...process.env, REDIS_URL: DB5_URL }, encoding: 'utf8' });
  const lines = out.replace(/\n$/, '').split('\n');
  assert.ok(!lines.includes(''), `\`${command}\` printed a blank line:\n${JSON.stringify(out)}`);
  return lines;
}

describe("README's redis-cli recipe", function () {
  this.timeout(20000);
  let queue: Queue;
  let prefix: string;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => { release = r; });
  const Work = { hold: () => gate, quick: () => 'ok', later: () => 1 };

  before(() => {
    prefix = uniquePrefix('cli');
    queue = setup({ redis: DB5_URL, prefix });
    queue.register('Work', Work);
  });

  after(async () => {
    release();
    await queue.close();
    const r = new Redis(DB5_URL);
    await dropPrefix(r, prefix);
    r.disconnect();
  });

  it('lists queued, scheduled, running and finished tasks and reads one', async () => {
    const tag = `{${prefix}:default}`;
    const { prelude, steps } = recipe();
    const find = (word: string) => {
      const s = steps.find((x) => x.label.includes(word));
      assert.ok(s, `recipe has a command for ${word}`);
      return s.command;
    };
    // One finished and one running task, worked by a worker that then stops taking more.
    const done = await queue.async(Work, 'quick');
    const running = await queue.async(Work, 'hold');
    const w = queue.worker();
    await w.start();
    await done.wait({ timeout: 5000 });
    await until(async () => (await running.reload()).state === 'running', 5000, 'the task to run');
    // Queued in a known order: priority 30, then two at 10 (earlier time first), then priority -5.
    const t0 = Date.now() - 5000;
    const q: Task[] = [
      await queue.async(Work, 'quick', { priority: 10, scheduledAt: t0 + 2 }),
      await queue.async(Work, 'quick', { priority: -5, scheduledAt: t0 }),
      await queue.async(Work, 'quick', { priority: 30, scheduledAt: t0 + 3 }),
      await queue.async(Work, 'quick', { priority: 10, scheduledAt: t0 + 1 }),
    ];
    const later = await queue.schedule(Work, Date.now() + 3600e3, 'later');

    assert.deepEqual(run(prelude, find('queued tasks in the order'), tag), [q[2].id, q[3].id, q[0].id, q[1].id].map(String));
    assert.deepEqual(run(prelude, find('scheduled'), tag), [String(later.id), String(later.scheduledAt.getTime())]);
    const runningOut = run(prelude, find('running'), tag);
    assert.equal(runningOut[0], String(running.id));
    assert.ok(Number(runningOut[1]) > Date.now(), 'the lease deadline is in the future');
    assert.deepEqual(run(prelude, find('finished'), tag), [String(done.id)]);
    const one = run(prelude, find('one task').replace(':t:17', `:t:${done.id}`), tag);
    const fields = new Map<string, string>();
    for (let i = 0; i < one.length; i += 2) fields.set(one[i], one[i + 1]);
    assert.equal(fields.get('type'), 'Work');
    assert.equal(fields.get('action'), 'quick');
    assert.equal(fields.get('state'), 'succeeded');
    assert.equal(fields.get('success'), '1');
    assert.equal(fields.get('priority'), '10');
    assert.equal(fields.get('attempts'), '1');
    assert.ok(fields.has('result'));
    assert.deepEqual(run(prelude, find('per priority'), tag), ['priority 30: 1', 'priority 10: 2', 'priority -5: 1']);
    release();
    await running.wait({ timeout: 5000 });
  });
});
