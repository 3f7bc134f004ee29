import type { NodeMethod } from '../graph/node-client';
import type { NodeSpec } from '../graph/spec';
import type { Timeline, TimelineHop } from '../telemetry/timeline';
import type { LevelRun, WindowStat } from './load';
import type { ProcUsage } from './procstat';
import { logHistogram, mean, summarize, type Summary } from './stats';

/**
 * From raw samples to what the report shows. The central number is the graph overhead of a request: its end-to-end
 * latency minus the compute on its critical path, i.e. what one-process-per-node, gRPC, encoding and the walk add to
 * the work that had to happen anyway. The critical path follows the walk: a node's own hop, then the slowest of its
 * children (they run in parallel), then its aggregate and transformOutput hops. Compute is what each node reports
 * for its component (the infergraph-compute-us trailer); a node that reports none counts its whole hop as compute.
 */

export interface HopStat {
  node: string;
  method: NodeMethod;
  n: number;
  duration: Summary;
  /** mean node-reported compute, ms */
  computeMean: number;
  /** mean of (hop duration − compute), ms */
  transportMean: number;
}

export interface LevelResult {
  concurrency: number;
  requests: number;
  errors: number;
  errorExamples: string[];
  stable: boolean;
  seconds: number;
  windows: WindowStat[];
  throughput: number;
  latency: Summary;
  histogram: { edges: number[]; counts: number[] };
  /** e2e − critical-path compute */
  overhead?: Summary;
  criticalCompute?: Summary;
  /** e2e − the executor's walk: the client's hop to the executor and back, both encodings included */
  external?: Summary;
  hops: HopStat[];
  processes: ProcUsage[];
  /** percentiles 1..99 of the e2e latency, for the CDF chart */
  cdf: number[];
}

const key = (node: string, method: string): string => `${node}\u0000${method}`;
const computeOf = (h: TimelineHop): number => h.compute_ms ?? h.duration_ms;

/** Critical-path compute of one request, following the graph's tree. */
export function criticalComputeByGraph(root: NodeSpec, t: Timeline): number {
  const byKey = new Map<string, TimelineHop>();
  for (const h of t.hops) byKey.set(key(h.node, h.method), h);
  const hop = (n: NodeSpec, m: NodeMethod): number => {
    const h = byKey.get(key(n.name, m));
    return h ? computeOf(h) : 0;
  };
  const walk = (n: NodeSpec): number =>
    hop(n, 'predict') +
    hop(n, 'transformInput') +
    hop(n, 'route') +
    Math.max(0, ...n.children.map(walk)) +
    hop(n, 'aggregate') +
    hop(n, 'transformOutput');
  return walk(root);
}

/**
 * Without the manifest (bench --addr alone): hops whose intervals overlap ran in parallel; the critical path takes the
 * largest compute of each group of overlapping hops.
 */
export function criticalComputeByTime(t: Timeline): number {
  const hops = [...t.hops].sort((a, b) => a.start_ms - b.start_ms);
  let total = 0;
  let groupEnd = -Infinity;
  let groupMax = 0;
  for (const h of hops) {
    if (h.start_ms >= groupEnd) {
      total += groupMax;
      groupMax = 0;
    }
    groupMax = Math.max(groupMax, computeOf(h));
    groupEnd = Math.max(groupEnd, h.start_ms + h.duration_ms);
  }
  return total + groupMax;
}

export function analyseLevel(run: LevelRun, root: NodeSpec | undefined, processes: ProcUsage[]): LevelResult {
  const lat = run.samples.map((s) => s.ms);
  const withTl = run.samples.filter((s) => s.timeline);
  const crit = withTl.map((s) =>
    root ? criticalComputeByGraph(root, s.timeline as Timeline) : criticalComputeByTime(s.timeline as Timeline),
  );
  const overhead = withTl.map((s, i) => s.ms - (crit[i] as number));
  const external = withTl.map((s) => s.ms - (s.timeline as Timeline).total_ms);

  const groups = new Map<string, TimelineHop[]>();
  for (const s of withTl) {
    for (const h of (s.timeline as Timeline).hops) {
      const k = key(h.node, h.method);
      const g = groups.get(k);
      if (g) g.push(h);
      else groups.set(k, [h]);
    }
  }
  // Hops in walk order (first start of each), not alphabetical.
  const hops: HopStat[] = [...groups.values()]
    .map((g) => ({ g, start: mean(g.map((h) => h.start_ms)) }))
    .sort((a, b) => a.start - b.start)
    .map(({ g }) => {
      const h0 = g[0] as TimelineHop;
      return {
        node: h0.node,
        method: h0.method,
        n: g.length,
        duration: summarize(g.map((h) => h.duration_ms)),
        computeMean: round3(mean(g.map(computeOf))),
        transportMean: round3(mean(g.map((h) => h.duration_ms - computeOf(h)))),
      };
    });

  const sorted = [...lat].sort((a, b) => a - b);
  const cdf = sorted.length
    ? Array.from({ length: 99 }, (_, i) =>
        round3(sorted[Math.min(sorted.length - 1, Math.ceil(((i + 1) / 100) * sorted.length) - 1)] as number),
      )
    : [];
  const out: LevelResult = {
    concurrency: run.concurrency,
    requests: run.samples.length,
    errors: run.errors,
    errorExamples: run.errorExamples,
    stable: run.stable,
    seconds: round3(run.seconds),
    windows: run.windows.map((w) => ({ ...w, throughput: round3(w.throughput), p50: round3(w.p50) })),
    throughput: round3(run.seconds > 0 ? run.samples.length / run.seconds : 0),
    latency: summarize(lat),
    histogram: logHistogram(lat),
    hops,
    processes,
    cdf,
  };
  if (withTl.length) {
    out.overhead = summarize(overhead);
    out.criticalCompute = summarize(crit);
    out.external = summarize(external);
  }
  return out;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
