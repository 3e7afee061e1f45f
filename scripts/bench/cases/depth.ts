// Claims at depth: c=50 throughput with 1,000 and 1,000,000 waiting (16 priorities, +10%
// scheduled), and the control: 1,000 waiting beside as many tasks in another queue, which tells
// the queue's depth from the server's size.
import { ADAPTERS, ourSpecs, fillOurs, drainHoldingDepth, storeSpecs, waitForRehash } from '../libs';
import { median } from '../stats';
import type { BenchCase, CaseResult } from '../env';

// Where MEMORY STATS cannot tell whether Redis still rehashes, wait this long after filling.
const SETTLE_MS = 20000;

type Depthed = CaseResult & { depth?: number; redisUs?: number[] };
/** The depths of the last run, for the targets' wording. */
let ran: [number, number] = [1000, 1_000_000];

export const depthCase: BenchCase = {
  id: 'claim-depth',
  async run(env) {
    const [small, big] = ran = env.depths;
    const M = Math.min(env.N, 20000);
    const lo: Depthed = env.add({ id: 'claim-depth-small', label: `claim throughput, ${small.toLocaleString('en')} waiting (ours, c=50)`, unit: 'jobs/s', better: 'higher', runs: {},
      note: '16 priorities, +10% scheduled an hour ahead; finished jobs are replaced in batches of 500 so the depth holds; each case starts once Redis has finished rehashing its keyspace (MEMORY STATS; see BENCHMARKS notes)' });
    const hi: Depthed = env.add({ id: 'claim-depth-big', label: `claim throughput, ${big.toLocaleString('en')} waiting (ours, c=50)`, unit: 'jobs/s', better: 'higher', runs: {} });
    const ctl: Depthed = env.add({ id: 'claim-depth-control', label: `claim throughput, ${small.toLocaleString('en')} waiting, ${Math.round(big * 1.1).toLocaleString('en')} more tasks in another queue (ours, c=50)`, unit: 'jobs/s', better: 'higher', runs: {} });
    Object.assign(lo, { depth: small });
    Object.assign(hi, { depth: big });
    Object.assign(ctl, { depth: small });
    for (const [c, depth, elsewhere] of [[lo, small, 0], [hi, big, 0], [ctl, small, big]] as const) {
      await env.flush();
      const ctx = env.ctxFor();
      const p = await ADAPTERS.ours.producer(ctx);
      const t0 = performance.now();
      if (elsewhere > 0) {
        const other = { ...ctx, queue: 'other' };
        const po = await ADAPTERS.ours.producer(other);
        await fillOurs(other, po.q, elsewhere);
        await po.close();
      }
      await fillOurs(ctx, p.q, depth);
      env.log(`  claim-depth        filled ${depth.toLocaleString('en')} (+10% scheduled${elsewhere ? `, +${Math.round(elsewhere * 1.1).toLocaleString('en')} in another queue` : ''}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      // Past each power of two of keys Redis doubles its keyspace table and rehashes it
      // incrementally (~40 s for 1.1M keys here); meanwhile every key lookup costs more. That
      // transient is Redis's, not the queue's: measure the steady state after it.
      const waited = await waitForRehash(env.admin, env.db, SETTLE_MS);
      if (waited > 1000) env.log(`  claim-depth        waited ${(waited / 1000).toFixed(0)} s for Redis to finish rehashing its keyspace`);
      for (let r = 0; r < env.R; r++) {
        let cpu0 = 0, cpuUs = 0;
        const ms = await drainHoldingDepth('ours', ctx, 50, M, (k) => storeSpecs(p.q, ourSpecs(ctx, k, { priorities: true })), {
          started: async () => { cpu0 = await env.redisCpu(); },
          // Redis CPU per task (top-ups included): what the depth costs the server itself.
          ended: async () => { cpuUs = ((await env.redisCpu()) - cpu0) * 1e6 / M; },
        });
        (c.redisUs ??= []).push(cpuUs);
        env.record(c, 'ours', M / (ms / 1000));
      }
      await p.close();
    }
    const us = (c: Depthed) => median(c.redisUs ?? []).toFixed(0);
    lo.note += `; Redis CPU per task (whole server, top-ups included): ${us(lo)} µs at ${small.toLocaleString('en')}, ${us(hi)} µs at ${big.toLocaleString('en')}, ${us(ctl)} µs at ${small.toLocaleString('en')} beside ${Math.round(big * 1.1).toLocaleString('en')} others`;
    const m = (c: CaseResult) => median(c.runs.ours ?? []);
    if (m(ctl) > 0) ctl.note = `the control for the depth: the ${big.toLocaleString('en')}-deep case runs at ${(m(hi) / m(ctl)).toFixed(2)}× this one, in a Redis of the same size (see BENCHMARKS notes)`;
  },
  targets(k) {
    const [small, big] = ran.map((n) => n.toLocaleString('en'));
    k.rel(`claim at ${big} vs ${small} waiting`, 'claim-depth-big', 'claim-depth-small', 0.9, '≥ 0.9×');
    k.rel(`claim at ${big} waiting vs the control (${small} waiting, as many tasks in Redis)`, 'claim-depth-big', 'claim-depth-control', 0.9, '≥ 0.9×');
  },
};
