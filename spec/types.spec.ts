// The published typings: a user's app using order.async / Model.async / register() type-checks,
// and misuse does not.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import { join } from 'path';

const root = join(__dirname, '..');
const tsc = (project: string) => spawnSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', join(__dirname, 'fixtures', 'types', project)], { encoding: 'utf8' });

describe('TypeScript typings', function () {
  this.timeout(60000);

  it('type-check an app that uses instance, static and registered async/schedule', () => {
    const r = tsc('tsconfig.json');
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('reject a string priority, a string schedule time and a bad redis option', () => {
    const r = tsc('tsconfig.bad.json');
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /bad\.ts\(7,\d+\): error TS2322/);
    assert.match(r.stdout, /bad\.ts\(8,\d+\): error TS2345/);
    assert.match(r.stdout, /bad\.ts\(9,\d+\): error TS2322/);
  });
});
