// `npm run bench` — sequelize-async against BullMQ 6.7 and Bee-Queue 2.0, in the same run, on the
// same Redis database (flushed between cases), same payload, same N, no-op jobs, results dropped.
//
//   npm run bench                    full run (N = 20,000, 5 runs per case; --runs R to change), writes BENCHMARKS.md
//   npm run bench -- --quick         short version (N = 1,500, 500 at concurrency 1, claim depth 50k), prints the table
//   options: --n N  --runs R  --db 9  --redis redis://127.0.0.1:6379  --lib /tmp/libcopy (our lib
//            from elsewhere, to try engine changes)  --cases a,b (by id or prefix)  --libs ours,bee
//            --out FILE  --no-write  --json FILE
// Ours runs as it ships: the command first builds dist/lib (`npm run build`) and every case loads
// that, as BullMQ and Bee-Queue run their compiled JavaScript (--lib loads that copy as it is).
//
// The cases are modules in scripts/bench/cases/ (their order: cases/index.ts); this file runs them,
// renders the table and the targets, and writes BENCHMARKS.md. It uses its own Redis database
// (default 9) and FLUSHDBs only that one: other work on the same server lives in other databases.
import { existsSync, readFileSync, writeFileSync } from 'fs';
import { cpus, loadavg } from 'os';
import { resolve } from 'path';
import Redis from 'ioredis';
import minimist from 'minimist';
import { LIBS, LABEL, LibName, Ctx, closeSequelizes, buildOurs } from './bench/libs';
import { median, fmt, ratio } from './bench/stats';
import type { BenchEnv, CaseResult, TargetResult, TargetKit } from './bench/env';
import { CASES } from './bench/cases';
import { closeChild } from './bench/cases/process';

export type { CaseResult, TargetResult };

export interface BenchOptions {
  quick?: boolean;
  /** Jobs per case. */
  n?: number;
  runs?: number;
  /** Depths for the claim case (default 1,000 and 1,000,000; quick: 1,000 and 50,000). */
  depths?: [number, number];
  /** Idle pickup samples per library and run. */
  samples?: number;
  db?: number;
  redis?: string;
  libPath?: string;
  /** Only these case ids (default all). */
  cases?: string[];
  /** Only these libraries (default all three; profiling aid). */
  libs?: LibName[];
  log?: (line: string) => void;
}

export interface BenchReport {
  machine: string;
  command: string;
  n: number;
  runs: number;
  cases: CaseResult[];
  targets: TargetResult[];
  table: string;
  targetTable: string;
  startedAt: string;
  seconds: number;
  load: { before: number[]; after: number[] };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runBench(o: BenchOptions = {}): Promise<BenchReport> {
  const quick = !!o.quick;
  const N = o.n ?? (quick ? 1500 : 20000);
  const R = o.runs ?? (quick ? 3 : 5);
  const db = o.db ?? 9;
  const base = (o.redis ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379').replace(/\/\d*$/, '');
  const redisUrl = `${base}/${db}`;
  const log = o.log ?? ((l: string) => console.log(l));
  const started = Date.now();
  const loadBefore = loadavg();

  const admin = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const info = await admin.info('server');
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
  let libVersion = '';
  try { libVersion = ` @ ${require('child_process').execSync('git log -1 --format=%h -- lib', { cwd: resolve(__dirname, '..'), stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()}`; } catch { /* not a git checkout */ }
  const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), Node ${process.version}, Redis ${redisVersion}; sequelize-async${o.libPath ? ` from ${o.libPath}` : `${libVersion} (compiled: dist/lib)`}`;

  let seq = 0;
  const results: CaseResult[] = [];
  let lastAt = Date.now();
  const env: BenchEnv = {
    quick, N, R, db, redisUrl, admin, libPath: o.libPath, log,
    depths: o.depths ?? (quick ? [1000, 50_000] : [1000, 1_000_000]),
    samples: o.samples ?? (quick ? 25 : 500),
    ctxFor: (extra: Partial<Ctx> = {}): Ctx => ({ redisUrl, prefix: `sab${process.pid}x${++seq}`, queue: 'bench', libPath: o.libPath, ...extra }),
    async flush() {
      await admin.call('FLUSHDB', 'ASYNC');
      for (let i = 0; i < 600; i++) {
        const m = /lazyfree_pending_objects:(\d+)/.exec(await admin.info('memory'));
        if (!m || m[1] === '0') break;
        await sleep(50);
      }
    },
    add(c) {
      log(`- ${c.id} (previous case took ${((Date.now() - lastAt) / 1000).toFixed(1)} s)`);
      lastAt = Date.now();
      results.push(c);
      return c;
    },
    record(c, lib, v) {
      (c.runs[lib] ??= []).push(v);
      log(`  ${c.id.padEnd(18)} ${lib.padEnd(7)} ${fmt(v, c.unit === 'jobs/s' ? '' : ` ${c.unit}`)}`);
    },
    order(r, all = LIBS) {
      const libs = all.filter((l) => !o.libs || o.libs.includes(l));
      return libs.map((_, i) => libs[(i + r) % libs.length]);
    },
    async perLib(c, libs, fn) {
      for (let r = 0; r < R; r++) {
        for (const lib of env.order(r, libs)) {
          await env.flush();
          env.record(c, lib, await fn(lib));
        }
      }
    },
    async redisCpu() {
      const i = await admin.info('cpu');
      return Number(/used_cpu_user:([\d.]+)/.exec(i)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(i)![1]);
    },
  };

  const chosen = CASES.filter((c) => !o.cases || o.cases.some((w) => c.id === w || c.id.startsWith(w)));
  try {
    for (const c of chosen) await c.run(env);
  } finally {
    closeChild();
    await env.flush();
    await admin.quit();
    await closeSequelizes();
  }

  const seconds = (Date.now() - started) / 1000;
  const targets = evaluate(results);
  return {
    machine, n: N, runs: R, cases: results, targets,
    // The options that shape the figures, as given (not --out/--no-write/--json).
    command: `npm run bench${(() => { const a = [quick && '--quick', o.n && `--n ${o.n}`, o.runs && `--runs ${o.runs}`, o.cases && `--cases ${o.cases.join(',')}`].filter(Boolean); return a.length ? ` -- ${a.join(' ')}` : ''; })()}`,
    table: renderTable(results), targetTable: renderTargets(targets),
    startedAt: new Date(started).toISOString(), seconds, load: { before: loadBefore, after: loadavg() },
  };
}

// ------------------------------------------------------------ rendering

function cell(c: CaseResult, lib: LibName): string {
  const xs = c.runs[lib];
  if (!xs || xs.length === 0) return c.skipped && lib === 'ours' ? 'skipped' : '–';
  const u = c.unit === 'jobs/s' || c.unit === 'rows/s' ? '' : ` ${c.unit}`;
  const m = fmt(median(xs), u);
  if (xs.length < 2) return m;
  return `${m} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;
}

/** Ratio of ours to a peer, oriented so that > 1 means ours is better. */
function better(c: CaseResult, peer: LibName): string {
  const a = median(c.runs.ours ?? []), b = median(c.runs[peer] ?? []);
  return c.better === 'higher' ? ratio(a, b) : ratio(b, a);
}

export function renderTable(cases: CaseResult[]): string {
  const lines = [
    `| case (unit) | ${LIBS.map((l) => LABEL[l]).join(' | ')} | ours vs BullMQ | ours vs Bee-Queue |`,
    `|---|${LIBS.map(() => '---:').join('|')}|---:|---:|`,
  ];
  for (const c of cases) {
    const unit = c.unit;
    lines.push(`| ${c.label} (${unit}) | ${LIBS.map((l) => cell(c, l)).join(' | ')} | ${better(c, 'bullmq')} | ${better(c, 'bee')} |`);
  }
  const notes = cases.filter((c) => c.skipped || c.note).map((c) => `- ${c.label}: ${c.skipped ? `skipped — ${c.skipped}` : c.note}`);
  return lines.join('\n') + '\n\nEach cell: median (min–max) over the runs. Ratios compare medians and are > 1× when ours is better (faster, lower latency, fewer bytes).'
    + (notes.length ? '\n' + notes.join('\n') : '');
}

type RunRatios = { median: number; min: number; max: number };

/** xs[i] / ys[i] run by run (runs taken back to back): their median and range; NaN when none. */
function runRatios(xs: number[], ys: number[]): RunRatios {
  const rs = xs.slice(0, ys.length).map((x, i) => x / ys[i]);
  return { median: median(rs), min: Math.min(...rs), max: Math.max(...rs) };
}

function evaluate(cases: CaseResult[]): TargetResult[] {
  const out: TargetResult[] = [];
  const get = (id: string, lib: LibName) => median(cases.find((c) => c.id === id)?.runs[lib] ?? []);
  const row = (what: string, wanted: string, r: number, min: number) =>
    out.push({ what, wanted, got: Number.isFinite(r) ? `${r.toFixed(2)}×` : 'not measured', met: Number.isFinite(r) ? r >= min : null });
  /** A target read run by run: the median of the runs' ratios, with their range. */
  const byRun = (what: string, wanted: string, r: RunRatios, min: number | null, of: 'rounds' | 'pairs') => {
    const ok = Number.isFinite(r.median);
    out.push({ what, wanted, got: ok ? `${r.median.toFixed(2)}× (${of} ${r.min.toFixed(2)}–${r.max.toFixed(2)})` : 'not measured', met: ok && min !== null ? r.median >= min : null });
  };
  const kit: TargetKit = {
    get,
    vs(what, id, peer, min) {
      // Read round by round: each round runs every library back to back (order rotated), so the
      // machine's speed changing between rounds does not pass for a difference between libraries.
      const c = cases.find((x) => x.id === id);
      const lower = c?.better === 'lower';
      const xs = c?.runs.ours ?? [], ys = c?.runs[peer] ?? [];
      const r = xs.length === ys.length ? lower ? runRatios(ys, xs) : runRatios(xs, ys) : runRatios([], []);
      byRun(what, `≥ ${min}× ${LABEL[peer]}${lower ? ' (lower is better)' : ''}`, r, min, 'rounds');
    },
    rel: (what, a, b, min, wanted) => row(what, wanted, get(a, 'ours') / get(b, 'ours'), min),
    pairRatio: (a, b) => runRatios(cases.find((c) => c.id === a)?.runs.ours ?? [], cases.find((c) => c.id === b)?.runs.ours ?? []),
    paired: (what, a, b, min, wanted) => byRun(what, wanted, kit.pairRatio(a, b), min, 'pairs'),
    push: (t) => out.push(t),
  };
  // Only the cases that ran give targets.
  for (const c of CASES) if (c.targets && cases.some((r) => r.id.startsWith(c.id) || c.id.startsWith(r.id))) c.targets(kit);
  return out;
}

export function renderTargets(ts: TargetResult[]): string {
  return ['| target | wanted | measured | |', '|---|---|---|---|',
    ...ts.map((t) => `| ${t.what} | ${t.wanted} | ${t.got} | ${t.met === null ? 'n/a' : t.met ? 'met' : '**missed**'} |`)].join('\n');
}

const NOTES_MARK = '<!-- notes below are kept when the benchmark rewrites this file -->';

export function renderMarkdown(r: BenchReport, previous?: string): string {
  const kept = previous && previous.includes(NOTES_MARK) ? previous.slice(previous.indexOf(NOTES_MARK) + NOTES_MARK.length) : '\n';
  return `# Benchmarks

sequelize-async against BullMQ 6.7 and Bee-Queue 2.0, measured in the same run on the same Redis
database (flushed between cases), no-op jobs, same payload, N = ${r.n.toLocaleString('en')} jobs per case,
${r.runs} runs per case (library order rotated between runs), results discarded by every library.

- Machine: ${r.machine}
- Command: \`${r.command}\`
- Run: ${r.startedAt}, ${r.seconds.toFixed(0)} s; load average before ${r.load.before.map((x) => x.toFixed(2)).join(' ')}, after ${r.load.after.map((x) => x.toFixed(2)).join(' ')}

${r.table}

## Targets

${r.targetTable}

Targets are read run by run, not from the medians of the table above: a ratio with "(rounds …)" is the
median over the rounds of ours against the peer in the same round (each round runs every library back to
back, order rotated; in the idle pickup's, the libraries take turns sample by sample), one with "(pairs …)" compares two cases whose runs alternate (A B, B A, …): the
median of each pair's ratio. Both give their range. The machine's speed changing between rounds or pairs
moves both sides alike, where the ratio of two medians (the table's columns) can take that drift for a
difference.

${NOTES_MARK}${kept}`;
}

// ------------------------------------------------------------ CLI

if (require.main === module) {
  const argv = minimist(process.argv.slice(2), { boolean: ['quick', 'write'], string: ['lib', 'libs', 'cases', 'out', 'redis', 'json'], default: { write: true } });
  const opts: BenchOptions = {
    quick: argv.quick, n: argv.n, runs: argv.runs, db: argv.db, redis: argv.redis, libPath: argv.lib,
    samples: argv.samples, libs: argv.libs ? String(argv.libs).split(',') as LibName[] : undefined, cases: argv.cases ? String(argv.cases).split(',') : undefined,
  };
  if (argv.depths) opts.depths = String(argv.depths).split(',').map(Number) as [number, number];
  if (!argv.lib) buildOurs();
  runBench(opts).then((r) => {
    console.log(`\n${r.machine}\n\n${r.table}\n\n${r.targetTable}\n\n(${r.seconds.toFixed(0)} s)`);
    if (argv.json !== undefined) writeFileSync(argv.json || 'bench.json', JSON.stringify(r, null, 2));
    // Every case at full N on the default Redis (more runs allowed: the command line records them).
    const full = !argv.quick && !argv.n && !argv.cases && !argv.lib && !argv.libs && !argv.depths && !argv.redis;
    const out = argv.out ?? (full && argv.write ? 'BENCHMARKS.md' : undefined);
    if (out) {
      const path = resolve(out);
      writeFileSync(path, renderMarkdown(r, existsSync(path) ? readFileSync(path, 'utf8') : undefined));
      console.log(`wrote ${out}`);
    }
    process.exit(0);
  }, (e) => { console.error(e); process.exit(1); });
}
