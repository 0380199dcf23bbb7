// Small statistics helpers: median and spread over runs, sliding-window peaks.

export function median(xs: number[]): number | null {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

export interface Spread {
  median: number | null;
  min: number | null;
  max: number | null;
  n: number;
  values: number[];
}

export function spread(xs: (number | null | undefined)[]): Spread {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return {
    median: median(v),
    min: v.length ? Math.min(...v) : null,
    max: v.length ? Math.max(...v) : null,
    n: v.length,
    values: v,
  };
}

/** Largest number of timestamps (ms, any order) inside any window of `width` ms. */
export function peakInWindow(timestamps: number[], width: number): number {
  const t = [...timestamps].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < t.length; hi++) {
    while (t[hi]! - t[lo]! >= width) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

/** Human formatting with ~3 significant digits and thousands separators. */
export function fmt(x: number | null | undefined, digits = 3): string {
  if (x == null || !Number.isFinite(x)) return 'n/a';
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a === 0) return '0';
  const d = Math.max(0, digits - 1 - Math.floor(Math.log10(a)));
  return x.toFixed(Math.min(d, 4));
}
