// Keeps `npm run bench` working: runs the quick benchmark at a tiny N on a Redis database of its
// own and checks that it produces a table with every case and every library. No timing
// assertions: figures on a shared CI machine mean nothing at this size.
import { strict as assert } from 'assert';
import { runBench, renderMarkdown } from '../scripts/bench';

describe('benchmark (npm run bench, tiny N)', function () {
  this.timeout(120000); // about 45 s on an idle 2-core machine

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
    // The peer cases for the new capabilities: each library they cover, finite figures; Bee-Queue has no rate limiter.
    const covered: [string[], readonly ('ours' | 'bullmq' | 'bee')[]][] = [
      [['peer-limiter-rate', 'peer-limiter-worst', 'peer-limiter-handler'], ['ours', 'bullmq']],
      [['unique-plain', 'unique-enqueue'], ['ours']],
      [['peer-dedup-distinct', 'peer-dedup-dups'], ['ours', 'bullmq', 'bee']],
    ];
    for (const [ids, libs] of covered) {
      for (const id of ids) {
        const c = byId.get(id);
        assert.ok(c, `case ${id} missing`);
        for (const lib of libs) {
          assert.equal(c.runs[lib]?.length, 3, `${id} ${lib}: 3 runs`);
          for (const v of c.runs[lib]!) assert.ok(Number.isFinite(v) && v > 0, `${id} ${lib}: ${v}`);
        }
        assert.equal(c.runs.bee === undefined, !libs.includes('bee'), `${id}: Bee-Queue ${libs.includes('bee') ? 'measured' : 'left out'}`);
      }
    }
    // A sliding log never lets more than max start in a window, whatever the machine's noise.
    for (const v of byId.get('peer-limiter-worst')!.runs.ours!) assert.ok(v <= 100, `ours' worst window ${v}% of max`);
    for (const id of ['claim-depth-small', 'claim-depth-big', 'claim-depth-control']) assert.equal(byId.get(id)?.runs.ours?.length, 3, id);
    // The mirror case runs where MySQL is reachable; otherwise it says why it was skipped.
    for (const id of ['mirror-off', 'mirror-on', 'mirror-rows']) {
      const c = byId.get(id);
      assert.ok(c, `case ${id} missing`);
      if (c.skipped) assert.ok(c.skipped.length > 0);
      else assert.equal(c.runs.ours?.length, 3, id);
    }
    // The scheduler against BullMQ's (Bee-Queue has none), the scheduler's cost, replicas: 1 against 0.
    const finite = (id: string, libs: ('ours' | 'bullmq' | 'bee')[]) => {
      const c = byId.get(id);
      assert.ok(c, `case ${id} missing`);
      assert.equal(c.skipped, undefined, `${id} skipped: ${c.skipped}`);
      for (const lib of libs) {
        assert.equal(c.runs[lib]?.length, 3, `${id} ${lib}: 3 runs`);
        for (const v of c.runs[lib]!) assert.ok(Number.isFinite(v) && v >= 0, `${id} ${lib}: ${v}`);
      }
      return c;
    };
    for (const id of ['peer-scheduler-ticks', 'peer-scheduler-p50', 'peer-scheduler-p99']) assert.equal(finite(id, ['ours', 'bullmq']).runs.bee, undefined, id);
    for (const v of [...byId.get('peer-scheduler-ticks')!.runs.ours!, ...byId.get('peer-scheduler-ticks')!.runs.bullmq!]) assert.ok(v > 0, `ticks/s ${v}`);
    for (const id of ['sched-off', 'sched-on', 'replicas-0-process', 'replicas-1-process', 'replicas-0-enqueue', 'replicas-1-enqueue']) finite(id, ['ours']);
    // The dashboard case (needs MySQL too): finite server times for every page, its note, its targets.
    const dash = r.cases.filter((c) => c.id.startsWith('dashboard-'));
    assert.equal(dash.length, 22, 'dashboard: p50 and p99 of 11 pages');
    for (const c of dash) {
      assert.equal(c.skipped, undefined, `${c.id} skipped: ${c.skipped}`);
      assert.equal(c.runs.ours?.length, 3, c.id);
      for (const v of c.runs.ours!) assert.ok(Number.isFinite(v) && v > 0, `${c.id}: ${v}`);
    }
    {
      assert.match(dash[0].note ?? '', /p50 at 120 → 1,200: overview [\d.]+ → [\d.]+ ms/);
      const ts = r.targets.filter((t) => t.what.startsWith('dashboard p50 at 1,200 tasks'));
      assert.equal(ts.length, 11, 'a target per page');
      for (const t of ts) assert.match(t.got, /^[\d.]+ ms$/, t.what);
    }
    for (const label of ['sequelize-async', 'BullMQ 6.7', 'Bee-Queue 2.0', 'ours vs BullMQ', 'ours vs Bee-Queue']) assert.ok(r.table.includes(label), label);
    for (const c of r.cases) assert.ok(r.table.includes(c.label), c.label);
    const targets = r.targets.map((t) => t.what);
    for (const t of ['process c=1', 'process c=50', 'enqueue bulk', 'enqueue one by one', 'mirror on vs off', 'idle pickup p99', 'Redis bytes per queued job',
      'rate limit: share of the limit reached', 'rate limit: most starts in any window (ours, worst run)', 'unique enqueue vs plain enqueue', 'deduplicated enqueue, keys distinct',
      'enqueue one by one, scheduler with 100 schedules vs none', 'process c=50, replicas: 1 vs 0', 'enqueue one by one, replicas: 1 vs 0']) {
      assert.ok(targets.includes(t), `target ${t}`);
    }
    const md = renderMarkdown(r);
    assert.match(md, /Machine: \d+ cores .*Node v\d+.*Redis \d/);
    assert.ok(md.includes('npm run bench'));
  });
});
