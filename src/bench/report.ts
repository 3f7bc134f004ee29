import type { HopTransport } from '../graph/spec';
import type { Transport } from '../runner/supervisor';
import type { LevelResult } from './analysis';

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
    windowMs: number;
    stableWindows: number;
    maxWindows: number;
    stability: number;
    nodeFlags: string[];
    /** the timeline was asked for at most once per this many ms (0: every request); absent in older reports */
    timelineIntervalMs?: number;
  };
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
