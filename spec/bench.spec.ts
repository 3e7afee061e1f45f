// Keeps `npm run bench` working: runs the quick benchmark at a tiny N on a Redis database of its
// own and checks that it produces a table with every case and every library. No timing
// assertions: figures on a shared CI machine mean nothing at this size.
import { strict as assert } from 'assert';
import { runBench, renderMarkdown } from '../scripts/bench';

describe('benchmark (npm run bench, tiny N)', function () {
  this.timeout(90000);

  it('measures every case for every library and renders the table', async () => {
    const r = await runBench({ quick: true, n: 60, runs: 3, depths: [100, 1000], samples: 5, db: Number(process.env.BENCH_SPEC_DB ?? 10), log: () => undefined });
    const byId = new Map(r.cases.map((c) => [c.id, c]));
    const all3 = ['enqueue-bulk', 'enqueue-one', 'process-c1', 'process-c50', 'process-c1-child', 'process-c50-child',
      'idle-pickup-p50', 'idle-pickup-p99', 'bytes'];
    for (const id of all3) {
      const c = byId.get(id);
      assert.ok(c, `case ${id} missing`);
      for (const lib of ['ours', 'bullmq', 'bee'] as const) {
        assert.equal(c.runs[lib]?.length, 3, `${id} ${lib}: 3 runs`);
        for (const v of c.runs[lib]!) assert.ok(Number.isFinite(v), `${id} ${lib}: ${v}`);
      }
    }
    assert.equal(byId.get('bytes-priority')?.runs.bullmq?.length, 3);
    for (const id of ['claim-depth-small', 'claim-depth-big', 'claim-depth-control']) assert.equal(byId.get(id)?.runs.ours?.length, 3, id);
    // The mirror case runs where MySQL is reachable; otherwise it says why it was skipped.
    for (const id of ['mirror-off', 'mirror-on', 'mirror-rows']) {
      const c = byId.get(id);
      assert.ok(c, `case ${id} missing`);
      if (c.skipped) assert.ok(c.skipped.length > 0);
      else assert.equal(c.runs.ours?.length, 3, id);
    }
    // The dashboard case (needs MySQL too): finite server times for every page, its note, its targets.
    const dash = r.cases.filter((c) => c.id.startsWith('dashboard-'));
    assert.equal(dash.length, 20, 'dashboard: p50 and p99 of 10 pages');
    for (const c of dash) {
      if (c.skipped) { assert.ok(c.skipped.length > 0); continue; }
      assert.equal(c.runs.ours?.length, 3, c.id);
      for (const v of c.runs.ours!) assert.ok(Number.isFinite(v) && v > 0, `${c.id}: ${v}`);
    }
    if (!dash[0].skipped) {
      assert.match(dash[0].note ?? '', /p50 at 120 → 1,200: overview [\d.]+ → [\d.]+ ms/);
      const ts = r.targets.filter((t) => t.what.startsWith('dashboard p50 at 1,200 tasks'));
      assert.equal(ts.length, 10, 'a target per page');
      for (const t of ts) assert.match(t.got, /^[\d.]+ ms$/, t.what);
    }
    for (const label of ['sequelize-async', 'BullMQ 6.7', 'Bee-Queue 2.0', 'ours vs BullMQ', 'ours vs Bee-Queue']) assert.ok(r.table.includes(label), label);
    for (const c of r.cases) assert.ok(r.table.includes(c.label), c.label);
    const targets = r.targets.map((t) => t.what);
    for (const t of ['process c=1', 'process c=50', 'enqueue bulk', 'enqueue one by one', 'mirror on vs off', 'idle pickup p99', 'Redis bytes per queued job']) {
      assert.ok(targets.includes(t), `target ${t}`);
    }
    const md = renderMarkdown(r);
    assert.match(md, /Machine: \d+ cores .*Node v\d+.*Redis \d/);
    assert.ok(md.includes('npm run bench'));
  });
});
