import { percentile } from '../util/stats';

/** Summary statistics of a sample (ms or whatever unit the values have). */
export interface Summary {
  n: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { n: 0, mean: 0, p50: 0, p90: 0, p99: 0, min: 0, max: 0 };
  const s = [...values].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return {
    n: s.length,
    mean: r3(mean),
    p50: r3(percentile(s, 50)),
    p90: r3(percentile(s, 90)),
    p99: r3(percentile(s, 99)),
    min: r3(s[0] as number),
    max: r3(s[s.length - 1] as number),
  };
}

export const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/** Log-spaced histogram (latencies span orders of magnitude): bin edges and counts. */
export function logHistogram(values: readonly number[], bins = 40): { edges: number[]; counts: number[] } {
  const pos = values.filter((v) => v > 0);
  if (pos.length === 0) return { edges: [], counts: [] };
  // A loop, not Math.min(...pos): an in-process level can have 100k+ samples, more arguments than the stack holds.
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of pos) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (hi <= lo) hi = lo * 1.01 + 1e-6;
  lo = lo * 0.999;
  const a = Math.log(lo);
  const step = (Math.log(hi) - a) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => Math.exp(a + i * step));
  const counts = new Array<number>(bins).fill(0);
  for (const v of pos) counts[Math.min(bins - 1, Math.max(0, Math.floor((Math.log(v) - a) / step)))]!++;
  return { edges: edges.map(r3), counts };
}
