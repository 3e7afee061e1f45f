// What every benchmark case gets from scripts/bench.ts: the run's settings, the Redis it owns,
// and the bookkeeping (a case adds its rows, records one figure per run, and logs progress).
// A case is a module in scripts/bench/cases/ exporting a BenchCase; bench.ts runs them in order.
import type Redis from 'ioredis';
import type { Ctx, LibName } from './libs';

export type Better = 'higher' | 'lower';

export interface CaseResult {
  id: string;
  label: string;
  unit: string;
  better: Better;
  /** Per library, one figure per run. Missing library = not applicable. */
  runs: Partial<Record<LibName, number[]>>;
  note?: string;
  skipped?: string;
}

export interface TargetResult { what: string; wanted: string; got: string; met: boolean | null }

export interface BenchEnv {
  quick: boolean;
  /** Jobs per case. */
  N: number;
  /** Runs per case. */
  R: number;
  /** Depths for the claim case. */
  depths: [number, number];
  /** Idle pickup samples per library and run. */
  samples: number;
  db: number;
  /** redis://host:port/db of the bench's own database. */
  redisUrl: string;
  /** An admin connection to that database. */
  admin: Redis;
  libPath?: string;
  /** A fresh prefix (queue 'bench') for one measurement. */
  ctxFor(extra?: Partial<Ctx>): Ctx;
  /** FLUSHDB ASYNC of the bench's database, waiting until Redis has freed it. */
  flush(): Promise<void>;
  /** Registers a row of the table (in the order added). */
  add(c: CaseResult): CaseResult;
  /** Records one run's figure of `lib` and logs it. */
  record(c: CaseResult, lib: LibName, v: number): void;
  log(line: string): void;
  /** The libraries wanted (--libs), rotated by run so drift on a shared machine hits each alike. */
  order(run: number, libs?: LibName[]): LibName[];
  /** R runs: per run, per library (rotated), flush, then record fn's figure. */
  perLib(c: CaseResult, libs: LibName[], fn: (lib: LibName) => Promise<number>): Promise<void>;
  /** Whole-server Redis CPU seconds (user + sys) so far. */
  redisCpu(): Promise<number>;
}

/** Reads the medians of the run's cases, and adds target rows. */
export interface TargetKit {
  /** Median figure of a case for a library (NaN when not measured). */
  get(id: string, lib: LibName): number;
  /** Ours against a peer in the same case: met when the ratio (oriented "> 1 is better") is ≥ min. */
  vs(what: string, id: string, peer: LibName, min: number): void;
  /** Ours in case a against ours in case b (both "higher is better"): met when a/b ≥ min. */
  rel(what: string, a: string, b: string, min: number, wanted: string): void;
  /**
   * The same for two cases whose runs alternate (A B, B A, …), read run pair by run pair: the median of
   * a[i]/b[i]. Each pair ran back to back, so the machine's speed changing between pairs moves both
   * sides alike, where the ratio of the two medians can take the drift for a cost. `min` null: a
   * figure with no target (met n/a).
   */
  paired(what: string, a: string, b: string, min: number | null, wanted: string): void;
  /** The median of a[i]/b[i] over the run pairs, with its range (NaN when not measured). */
  pairRatio(a: string, b: string): { median: number; min: number; max: number };
  push(t: TargetResult): void;
}

export interface BenchCase {
  /** The ids --cases selects by (prefix match). */
  id: string;
  run(env: BenchEnv): Promise<void>;
  /** Target rows for BENCHMARKS.md, read off the medians. */
  targets?(kit: TargetKit): void;
}
