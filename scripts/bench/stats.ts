// Small statistics and formatting helpers for the benchmark.

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1];
}

/** 12345 -> "12.3k", 1.234 -> "1.23". */
export function fmt(x: number, unit = ''): string {
  if (!Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  let s: string;
  if (a >= 1e6) s = `${(x / 1e6).toFixed(2)}M`;
  else if (a >= 1e4) s = `${(x / 1e3).toFixed(1)}k`;
  else if (a >= 1e3) s = `${(x / 1e3).toFixed(2)}k`;
  else if (a >= 100) s = x.toFixed(0);
  else if (a >= 10) s = x.toFixed(1);
  else s = x.toFixed(2);
  return s + unit;
}

export function ratio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '–';
  return `${(a / b).toFixed(2)}×`;
}
