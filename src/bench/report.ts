import type { HopTransport } from '../graph/spec';
import type { Transport } from '../runner/supervisor';
import type { LevelResult } from './analysis';

/**
 * How an arm's warm-up went (src/bench/interleave.ts): its CPU per request window by window after the least
 * warm-up, until it settled.
 */
export interface WarmupCurve {
  arm: string;
  /** warm-up in all, s */
  seconds: number;
  /** the CPU per request stopped falling before `warmupMaxS` (false also when there was no settling) */
  settled: boolean;
  /** the settling windows at the highest level: CPU of all the arm's processes (the bench's included) per request */
  windows: { seconds: number; requests: number; cpuMsPerRequest: number }[];
}

/** What `infergraph bench` writes (bench-report.json) and renders (report-html.ts); both import it from here. */

export interface TargetCheck {
  name: string;
  target: string;
  value: number | null;
  met: boolean | null;
  note?: string;
}

export interface HopRun {
  hopTransport: HopTransport;
  levels: LevelResult[];
  /** throughput / in-process at the highest concurrency */
  throughputRatio?: number;
}

export interface BenchReport {
  kind: 'infergraph-bench';
  version: 1;
  startedAt: string;
  command: string;
  machine: { cpus: number; cpuModel: string; node: string; platform: string; loadavg: number[] };
  graph?: { name: string; file?: string; codec: string; nodes: string[] };
  target: { mode: 'graph' | 'address'; address: string; transport?: Transport; hopTransport?: HopTransport };
  /** with several hop transports: each one's sweep (`levels` is the first's) */
  hopRuns?: HopRun[];
  /** with several front doors (--api): each one's sweep on the one graph (`levels` is the first's) */
  apiRuns?: { api: string; levels: LevelResult[] }[];
  input: string;
  answer?: string;
  options: {
    concurrency: number[];
    durationS: number;
    warmupS: number;
    /** absent in older reports (no settling) */
    warmupMaxS?: number;
    windowMs: number;
    stableWindows: number;
    maxWindows: number;
    stability: number;
    nodeFlags: string[];
    /** the timeline was asked for at most once per this many ms (0: every request); absent in older reports */
    timelineIntervalMs?: number;
  };
  /** each arm's warm-up, with its CPU per request while it settled; absent in older reports */
  warmups?: WarmupCurve[];
  levels: LevelResult[];
  baseline?: {
    onnxThreads?: number;
    models?: 'parallel' | 'serial';
    levels: LevelResult[];
    note: string;
    error?: string;
  };
  /** the single-process Python pipeline (--python), at the baseline's levels */
  python?: { levels: LevelResult[]; versions: string; note: string };
  ratios?: {
    latency?: {
      concurrency: number;
      graphMeanMs: number;
      inProcessMeanMs: number;
      graphP50Ms: number;
      inProcessP50Ms: number;
      ratio: number;
    };
    throughput?: { concurrency: number; graph: number; inProcess: number; ratio: number };
  };
  targets: TargetCheck[];
  files: { json: string; html: string };
}
