// Claims at depth: c=50 throughput with 1,000 and 1,000,000 waiting (16 priorities, +10%
// scheduled), and the control: 1,000 waiting beside as many tasks in another queue (the deep one,
// runs taking turns with it), which tells the queue's depth from the server's size.
import { ADAPTERS, ourSpecs, fillOurs, drainHoldingDepth, storeSpecs, waitForRehash, Ctx, OurQueue } from '../libs';
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
    const run = async (c: Depthed | null, ctx: Ctx, q: OurQueue) => {
      let cpu0 = 0, cpuUs = 0;
      // (c null: an untimed quarter run first, so no queue's first timed run pays for a cold start.)
      const ms = await drainHoldingDepth('ours', ctx, 50, c ? M : M / 4, (k) => storeSpecs(q, ourSpecs(ctx, k, { priorities: true })), {
        started: async () => { cpu0 = await env.redisCpu(); },
        // Redis CPU per task (top-ups included): what the depth costs the server itself.
        ended: async () => { cpuUs = ((await env.redisCpu()) - cpu0) * 1e6 / M; },
      });
      if (!c) return;
      (c.redisUs ??= []).push(cpuUs);
      env.record(c, 'ours', M / (ms / 1000));
    };
    const fill = async (ctx: Ctx, depth: number) => {
      const p = await ADAPTERS.ours.producer(ctx);
      const t0 = performance.now();
      await fillOurs(ctx, p.q, depth);
      env.log(`  claim-depth        filled ${depth.toLocaleString('en')} in queue ${ctx.queue} (+10% scheduled) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return p;
    };
    const settle = async () => {
      // Past each power of two of keys Redis doubles its keyspace table and rehashes it
      // incrementally (~40 s for 1.1M keys here); meanwhile every key lookup costs more. That
      // transient is Redis's, not the queue's: measure the steady state after it.
      const waited = await waitForRehash(env.admin, env.db, SETTLE_MS);
      if (waited > 1000) env.log(`  claim-depth        waited ${(waited / 1000).toFixed(0)} s for Redis to finish rehashing its keyspace`);
    };
    // The shallow queue alone in Redis: half its runs before the deep fill, half after, so the
    // machine's drift over the case (minutes) hits it as it hits the deep runs.
    const shallow = async (runs: number) => {
      await env.flush();
      const ctx = env.ctxFor();
      const p = await fill(ctx, small);
      await settle();
      await run(null, ctx, p.q);
      for (let r = 0; r < runs; r++) await run(lo, ctx, p.q);
      await p.close();
    };
    await shallow(Math.ceil(env.R / 2));
    // The deep queue and the control share one Redis and take turns run by run (A B, B A, …): the
    // deep queue is the control's "another queue", so both see a server of the same size at the
    // same moment, and their ratio is the depth's cost alone.
    await env.flush();
    const deepCtx = env.ctxFor();
    const ctlCtx = { ...deepCtx, queue: 'control' };
    const deep = await fill(deepCtx, big);
    const ctlP = await fill(ctlCtx, small);
    await settle();
    await run(null, deepCtx, deep.q);
    await run(null, ctlCtx, ctlP.q);
    const sides = [[hi, deepCtx, deep.q], [ctl, ctlCtx, ctlP.q]] as const;
    for (let r = 0; r < env.R; r++) {
      for (const [c, ctx, q] of r % 2 ? [sides[1], sides[0]] : sides) await run(c, ctx, q);
    }
    await deep.close();
    await ctlP.close();
    await shallow(Math.floor(env.R / 2));
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
