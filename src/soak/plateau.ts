/**
 * Does a memory series level off? The soak (bench/soak.ts) samples each process's RSS over time; a process passes
 * when, over the last third of the run, the Theil-Sen line through its samples (median of the pairwise slopes) rises
 * by less than `limit` (a fraction) of where that line starts. A robust line, not the end points nor least squares:
 * one GC just before the end or one burst at either edge of the window would otherwise decide the verdict.
 */

export interface Point {
  /** seconds since the start of the run */
  t: number;
  /** bytes */
  v: number;
}

export interface Plateau {
  /** samples in the judged window */
  samples: number;
  /** fitted value at the start and at the end of the window, bytes */
  from: number;
  to: number;
  /** (to - from) / from */
  growth: number;
  ok: boolean;
}

export function plateau(series: readonly Point[], limit = 0.05, fraction = 1 / 3): Plateau {
  if (series.length < 3) throw new Error(`plateau: need at least 3 samples, got ${series.length}`);
  const last = (series[series.length - 1] as Point).t;
  const first = (series[0] as Point).t;
  const start = last - (last - first) * fraction;
  const w = series.filter((p) => p.t >= start);
  if (w.length < 3) throw new Error(`plateau: the last third holds ${w.length} samples; sample more often`);
  const n = w.length;
  const slopes: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const a = w[i] as Point;
      const b = w[j] as Point;
      if (b.t !== a.t) slopes.push((b.v - a.v) / (b.t - a.t));
    }
  }
  const slope = median(slopes);
  const level = median(w.map((p) => p.v - slope * p.t));
  const from = level + slope * (w[0] as Point).t;
  const to = level + slope * (w[n - 1] as Point).t;
  const growth = from > 0 ? (to - from) / from : 0;
  return { samples: n, from, to, growth, ok: growth < limit };
}

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}
