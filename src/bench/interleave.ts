import type { NodeSpec } from '../graph/spec';
import { analyseLevel, type LevelResult } from './analysis';
import { runLevel, warm, type LevelRun } from './load';
import { ProcWatch, type ProcUsage, type WatchedProcess } from './procstat';
import type { WarmupCurve } from './report';
import type { BenchTarget } from './target';

/**
 * The concurrency sweep over one or more arms (the same graph behind different hop transports, all running at
 * once). With several arms each level is measured in rounds, the arms taking turns (in a rotating order), and each
 * arm's turns are pooled: on a shared machine whose speed drifts by tens of percent within minutes, drift then hits
 * every arm alike and the ratios between them stay meaningful. One arm and one round is the plain sweep.
 */

export interface Arm {
  tag: string;
  target: BenchTarget;
  procs: () => WatchedProcess[];
  /** the levels this arm runs (default: all); its results are in the order of the sweep's levels */
  levels?: number[];
}

export interface SweepOptions {
  durationS: number;
  /** the least warm-up per arm, s: half at the lowest level, half at the highest */
  warmupS: number;
  /**
   * the most warm-up per arm, s: past `warmupS` the arm goes on warming at its highest level, in windows of
   * SETTLE_WINDOW_MS, while its processes' CPU per request still falls by more than SETTLE_TOLERANCE (JIT tiers up
   * per call, so a graph's processes take hundreds of requests to reach their steady cost). At most `warmupS`:
   * no settling.
   */
  warmupMaxS?: number;
  /** settling window, ms (default SETTLE_WINDOW_MS) */
  settleWindowMs?: number;
  stability: number;
  root?: NodeSpec;
  /** turns per arm and level (1 for a single arm) */
  rounds: number;
  label: (what: string) => void;
}

export const SETTLE_WINDOW_MS = 10_000;
export const SETTLE_TOLERANCE = 0.03;

export interface Sweep {
  /** per arm, its levels */
  levels: LevelResult[][];
  /** per arm */
  warmups: WarmupCurve[];
}

/**
 * Warms `arm` at `concurrency` in windows of `windowMs` until a window's CPU per request is no longer
 * SETTLE_TOLERANCE below the best before it, or `budgetMs` is spent.
 */
export async function settle(
  arm: Pick<Arm, 'target' | 'procs'>,
  concurrency: number,
  budgetMs: number,
  windowMs = SETTLE_WINDOW_MS,
): Promise<Omit<WarmupCurve, 'arm'>> {
  const windows: WarmupCurve['windows'] = [];
  let spent = 0;
  let best = Infinity;
  while (spent < budgetMs) {
    const watch = new ProcWatch(arm.procs);
    watch.start();
    const t0 = performance.now();
    const w = await warm(arm.target, concurrency, Math.min(windowMs, budgetMs - spent));
    const seconds = (performance.now() - t0) / 1000;
    const usage = watch.stop();
    spent += seconds * 1000;
    const ok = w.requests - w.failed;
    if (ok <= 0 || usage.length === 0) break; // nothing to measure (no /proc, or every call failed): stop here
    const cpuMs = (usage.reduce((a, u) => a + u.cpuPercent, 0) * seconds * 10) / ok;
    windows.push({ seconds: round2(seconds), requests: ok, cpuMsPerRequest: round2(cpuMs) });
    if (cpuMs > best * (1 - SETTLE_TOLERANCE)) return { seconds: spent / 1000, settled: true, windows };
    best = Math.min(best, cpuMs);
  }
  return { seconds: spent / 1000, settled: false, windows };
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

export async function sweepArms(arms: Arm[], levels: number[], o: SweepOptions): Promise<Sweep> {
  const max = Math.max(...levels);
  const min = Math.min(...levels);
  // Warm-up at both ends of the sweep: JIT tiers for the one-request-at-a-time path and the busy path, channels,
  // onnxruntime's first-run allocations. Measured on this machine: grpc-js calls get 2-3x cheaper after ~10k calls.
  // The least warm-up can leave a graph's processes at twice their steady CPU per request (docs/performance.md,
  // "JIT warm-up"): past it, each arm settles at its highest level.
  const warmMs = o.warmupS * 1000;
  const settleMs = Math.max(0, ((o.warmupMaxS ?? o.warmupS) - o.warmupS) * 1000);
  const warmups: WarmupCurve[] = [];
  for (const arm of arms) {
    o.label(`${arm.tag} warm-up`);
    const own = arm.levels ?? levels;
    const high = Math.max(...own, min);
    const w1 = await warm(arm.target, Math.min(...own, max), warmMs / 2);
    const w2 = await warm(arm.target, high, warmMs / 2);
    const errors = [...w1.errors, ...w2.errors];
    if (w1.requests + w2.requests > 0 && w1.failed + w2.failed === w1.requests + w2.requests) {
      throw new Error(`${arm.target.label}: every warm-up request failed: ${errors[0]}`);
    }
    o.label(`${arm.tag} warm-up: settling`);
    const s =
      settleMs > 0 ? await settle(arm, high, settleMs, o.settleWindowMs) : { seconds: 0, settled: false, windows: [] };
    warmups.push({ arm: arm.tag, ...s, seconds: round2(o.warmupS + s.seconds) });
  }
  const out: LevelResult[][] = arms.map(() => []);
  for (const c of levels) {
    const parts: { run: LevelRun; usage: ProcUsage[] }[][] = arms.map(() => []);
    for (let r = 0; r < o.rounds; r++) {
      for (let k = 0; k < arms.length; k++) {
        const i = (k + r) % arms.length;
        const arm = arms[i] as Arm;
        if (arm.levels && !arm.levels.includes(c)) continue;
        const watch = new ProcWatch(arm.procs);
        watch.start();
        const windowMs = (o.durationS * 1000) / 3 / o.rounds;
        const run = await runLevel(
          arm.target,
          { concurrency: c, windowMs, stableWindows: 3, maxWindows: 6, stability: o.stability },
          (p) =>
            o.label(
              `${arm.tag} c=${c}${o.rounds > 1 ? ` round ${r + 1}/${o.rounds}` : ''} ${p.lastThroughput.toFixed(1)} req/s p50 ${p.lastP50.toFixed(2)} ms`,
            ),
        );
        parts[i]?.push({ run, usage: watch.stop() });
      }
    }
    parts.forEach((p, i) => {
      if (p.length) out[i]?.push(analyseLevel(pool(p.map((x) => x.run)), o.root, poolUsage(p)));
    });
  }
  return { levels: out, warmups };
}

/** One arm's turns at one level as one run. */
function pool(runs: LevelRun[]): LevelRun {
  if (runs.length === 1) return runs[0] as LevelRun;
  return {
    concurrency: (runs[0] as LevelRun).concurrency,
    samples: runs.flatMap((r) => r.samples),
    windows: runs.flatMap((r) => r.windows),
    counted: runs.reduce((a, r) => a + r.counted, 0),
    stable: runs.every((r) => r.stable),
    seconds: runs.reduce((a, r) => a + r.seconds, 0),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    errorExamples: runs.flatMap((r) => r.errorExamples).slice(0, 3),
  };
}

/** CPU % over the arm's own turns, weighted by their length; memory as at the last turn. */
function poolUsage(parts: { run: LevelRun; usage: ProcUsage[] }[]): ProcUsage[] {
  if (parts.length === 1) return (parts[0] as { usage: ProcUsage[] }).usage;
  const last = (parts[parts.length - 1] as { usage: ProcUsage[] }).usage;
  return last.map((u) => {
    let cpu = 0;
    let secs = 0;
    for (const p of parts) {
      const x = p.usage.find((v) => v.pid === u.pid);
      if (!x) continue;
      cpu += x.cpuPercent * p.run.seconds;
      secs += p.run.seconds;
    }
    return { ...u, cpuPercent: secs > 0 ? Math.round((cpu / secs) * 10) / 10 : u.cpuPercent };
  });
}
