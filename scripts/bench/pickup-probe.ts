// Probe (not part of npm run bench): where an idle pickup's time goes, per library, through the
// bench's adapters (producer and idle worker in one process, enqueues spaced 5-10 ms as in the
// bench's idle-pickup case). Each sample is a timeline from t0 (before the enqueue call): the
// producer's socket write (entered, returned), the first data read on each socket, the handler's
// start. For ours, also the enqueue's own steps (the compiled lib's exports, wrapped). Prints the
// p50 of each step's gap from the one before, and a few whole timelines.
// Each library is warmed up first, as in the bench (libs.ts warmUp; --cold skips it).
//   npx tsx scripts/bench/pickup-probe.ts [--libs ours,bee] [--samples 200] [--cold] [--redis redis://127.0.0.1:6391/4]
// Reading it: "write returned" can include Redis running the script on this core (a loopback write
// wakes Redis, which may run at once); the gap to the worker's data is Redis's side (its script,
// and for Bee-Queue the worker's second round trip); data to handler is the worker's side.
// (The wrappers cost about 1 µs each, so ours reads a little slower than it runs.)
import net from 'net';
import { resolve } from 'path';
import minimist from 'minimist';
import { buildOurs, ADAPTERS, LibName, Ctx, warmUp } from './libs';
import { percentile } from './stats';

const argv = minimist(process.argv.slice(2), { string: ['redis', 'libs', 'lib'], boolean: ['cold'] });
if (!argv.lib) buildOurs();
const url = argv.redis ?? 'redis://127.0.0.1:6391/4';
const libs = String(argv.libs ?? 'ours,bee').split(',') as LibName[];
const SAMPLES = Number(argv.samples ?? 200);
const WARM = 5;

type Mark = [string, number];
let marks: Mark[] = [];
let armed = false;
const mark = (name: string) => { if (armed) marks.push([name, performance.now()]); };

/** Wraps exported functions of our compiled lib (its modules call each other through the exports object). */
function wrapOurs(libDir: string): void {
  const wrap = (mod: string, names: string[]) => {
    const m = require(resolve(libDir, mod));
    for (const name of names) {
      const f = m[name];
      if (typeof f !== 'function') throw new Error(`pickup-probe: ${mod}.${name} is not a function in ${libDir}`);
      Object.defineProperty(m, name, { value(this: unknown, ...a: unknown[]) { mark(`>${name}`); const r = f.apply(this, a); mark(`<${name}`); return r; }, writable: true, configurable: true, enumerable: true });
    }
  };
  wrap('enqueue/target', ['describeObject']);
  wrap('enqueue/options', ['buildSpec']);
  wrap('codec', ['encodeArgs']);
  wrap('enqueue/blob', ['enqueueArgs']);
  wrap('scripts', ['runScriptNow']);
  wrap('resp', ['encodedCommand']);
  const proto = require(resolve(libDir, 'enqueue/enqueuer')).Enqueuer.prototype;
  for (const n of ['submit', 'flush', 'storeQueue']) {
    const f = proto[n];
    proto[n] = function (this: unknown, ...a: unknown[]) { mark(`>Enqueuer.${n}`); return f.apply(this, a); };
  }
}

// Socket writes and reads, for every library (the first write after t0 is the producer's).
const write = net.Socket.prototype.write;
(net.Socket.prototype as unknown as { write: unknown }).write = function (this: net.Socket, ...a: unknown[]) {
  const first = armed && !marks.some(([n]) => n === 'write');
  if (first) mark('write');
  const r = (write as (...x: unknown[]) => boolean).apply(this, a);
  if (first) mark('write returned');
  return r;
};
const ids = new WeakMap<net.Socket, number>();
let nextId = 0;
const emit = net.Socket.prototype.emit;
(net.Socket.prototype as unknown as { emit: unknown }).emit = function (this: net.Socket, ev: string, ...a: unknown[]) {
  if (ev === 'data' && armed) {
    if (!ids.has(this)) ids.set(this, ++nextId);
    mark(`data (socket ${ids.get(this)})`);
  }
  return (emit as (...x: unknown[]) => boolean).call(this, ev, ...a);
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const p50 = (a: number[]) => percentile(a, 50);

async function probe(lib: LibName): Promise<void> {
  const ctx: Ctx = { redisUrl: url, prefix: `pp${process.pid}${lib}`, queue: 'bench', libPath: argv.lib };
  if (!argv.cold) await warmUp(lib, { ...ctx, queue: 'warm' });
  let hit: (() => void) | null = null;
  const cons = await ADAPTERS[lib].consumer(ctx, 1, () => { mark('handler'); armed = false; hit?.(); }, () => undefined);
  const prod = await ADAPTERS[lib].producer(ctx);
  cons.start();
  await sleep(500);
  const gaps = new Map<string, number[]>();
  const totals: number[] = [];
  const shown: string[] = [];
  for (let i = 0; i < SAMPLES + WARM; i++) {
    await sleep(5 + Math.random() * 5);
    const seen = new Promise<void>((r) => { hit = r; });
    marks = [];
    const t0 = performance.now();
    armed = true;
    await prod.addOne({ at: t0 });
    await seen;
    armed = false;
    if (i < WARM) continue;
    let prev = t0;
    // Data events are named by order of arrival (socket ids differ between libraries' connections).
    let nth = 0;
    for (const [n, t] of marks) {
      const k = n.startsWith('data') ? `data #${++nth}` : n;
      (gaps.get(k) ?? gaps.set(k, []).get(k)!).push(t - prev);
      prev = t;
    }
    const end = marks.find(([n]) => n === 'handler');
    if (end) totals.push(end[1] - t0);
    if (i % Math.ceil(SAMPLES / 3) === 0) shown.push(marks.map(([n, t]) => `${n} @${((t - t0) * 1000).toFixed(0)}`).join(', '));
  }
  await prod.close();
  await cons.close();
  console.log(`\n${lib}: t0 to handler p50 ${(p50(totals) * 1000).toFixed(0)} µs over ${totals.length} samples; each step's gap from the one before (p50, µs):`);
  for (const [k, v] of gaps) console.log(`  ${k.padEnd(26)} ${(p50(v) * 1000).toFixed(1).padStart(7)}   (${v.length} samples)`);
  console.log('  timelines (µs from t0):');
  for (const s of shown) console.log(`    ${s}`);
}

(async () => {
  if (libs.includes('ours')) wrapOurs(argv.lib ? resolve(String(argv.lib)) : resolve(__dirname, '..', '..', 'dist', 'lib'));
  for (const lib of libs) await probe(lib);
  process.exit(0);
})();
