import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Progress } from '../client/progress';
import { describePayload, type InferMessage } from '../message/message';
import { walkNodes, type GraphSpec, type HopTransport } from '../graph/spec';
import { Supervisor, type Transport } from '../runner/supervisor';
import type { Logger } from '../util/logger';
import type { LevelResult } from './analysis';
import { describeBaseline, InProcessTarget, type BaselineModels } from './inprocess';
import type { BenchInput } from './input';
import type { WatchedProcess } from './procstat';
import { renderHtml } from './report-html';
import type { BenchReport, WarmupCurve, HopRun, TargetCheck } from './report';
import { sweepArms, type Arm } from './interleave';
import { RestTarget, type BenchApi } from './rest-target';
import { ExecutorTarget, type BenchTarget } from './target';
import { PythonTarget } from './python-target';
import { applyOverrides } from '../graph/overrides';

/** Turns per hop transport and level when a run compares several (see interleave.ts). */
const INTERLEAVE_ROUNDS = 3;

/**
 * `infergraph bench`: warm-up, a sweep of concurrency levels against the graph's executor and the in-process
 * baseline (same manifest, same components, one process, no gRPC) at the lowest and highest level. With several
 * hop transports there is one graph each; every graph and the baseline are up at once and take turns at each level
 * (interleave.ts), so the machine's drift hits them alike and the report's ratios compare numbers taken in the same
 * minutes. Writes bench-report.json and bench-report.html.
 */

export interface BenchOptions {
  /** the manifest: starts the graph (unless `address` is given) and gives the critical path and the baseline */
  graph?: GraphSpec;
  graphFile?: string;
  /** an already running executor */
  address?: string;
  transport: Transport;
  /** graph mode: one sweep per hop transport (the graph restarted for each), in this order; default the manifest's */
  hopTransports?: HopTransport[];
  concurrency: number[];
  durationS: number;
  warmupS: number;
  /** the most warm-up per arm, s (see SweepOptions.warmupMaxS); default `warmupS`: no settling */
  warmupMaxS?: number;
  stability: number;
  input: BenchInput;
  outDir: string;
  baseline: boolean;
  /** onnx-model intra-op threads in the baseline; undefined keeps the manifest's values */
  baselineOnnxThreads?: number;
  /** the baseline's models in parallel (default) or one at a time */
  baselineModels?: BaselineModels;
  timeoutMs: number;
  /** ask the executor for the hop timeline at most once per this many ms (0 or absent: every request) */
  timelineIntervalMs?: number;
  logger: Logger;
  progress: boolean;
  command: string;
  /** extra arguments for the graph's processes (e.g. --log-level warn) */
  childArgs?: string[];
  /** Node/V8 flags of the graph's processes (Supervisor default when absent) */
  nodeFlags?: readonly string[];
  /** Prometheus metrics in the graph's processes (default on), to measure what they cost. */
  metrics?: boolean;
  /** The executor's front doors to drive, taking turns on one graph (default grpc). */
  apis?: BenchApi[];
  /** With `address`: the executor's REST URL, for the REST apis. */
  restUrl?: string;
  /** A Python interpreter with onnxruntime, Pillow and numpy: adds bench/python-pipeline.py as an arm. */
  python?: string;
}

export type { BenchReport, HopRun, TargetCheck } from './report';

const BENCH_PROCESS: WatchedProcess = { name: 'bench', role: 'client', pid: process.pid };

function describeAnswer(m: InferMessage | undefined): string | undefined {
  if (!m) return undefined;
  const p = m.payload;
  if (p.kind === 'json') {
    const pred = (p.data as { predictions?: { index?: number; label?: string; score?: number }[] } | null)
      ?.predictions?.[0];
    if (pred && typeof pred.index === 'number')
      return `top-1 ${pred.label ?? `class ${pred.index}`} (index ${pred.index}, score ${pred.score?.toFixed(4)})`;
    return JSON.stringify(p.data).slice(0, 200);
  }
  if (p.kind === 'tensor' && p.tensor.dtype !== 'string') {
    const vals = Array.from(p.tensor.data.slice(0, 6) as ArrayLike<number | bigint>, Number);
    return `${describePayload(p)}: ${vals.join(', ')}${p.tensor.data.length > 6 ? ', …' : ''}`;
  }
  return describePayload(p);
}

class Clock {
  private readonly t0 = performance.now();
  private readonly bar: Progress | undefined;
  private label = '';
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly plannedS: number,
    enabled: boolean,
  ) {
    this.bar = enabled ? new Progress(Math.max(1, Math.round(plannedS * 10)), 'bench') : undefined;
    if (this.bar) this.timer = setInterval(() => this.tick(), 250);
  }

  set(label: string): void {
    this.label = label;
    this.tick();
  }

  tick(): void {
    if (!this.bar) return;
    const total = Math.max(1, Math.round(this.plannedS * 10));
    const done = Math.min(total - 1, Math.round(((performance.now() - this.t0) / 1000) * 10));
    this.bar.update(done, this.label);
  }

  finish(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.bar) this.bar.update(Math.max(1, Math.round(this.plannedS * 10)), 'done');
  }
}

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  if (!o.graph && !o.address)
    throw new Error('bench needs --graph FILE (to start the graph) or --addr HOST:PORT (a running executor)');
  const levels = [...new Set(o.concurrency)].sort((a, b) => a - b);
  if (levels.length === 0 || levels.some((c) => !Number.isInteger(c) || c < 1))
    throw new Error(`--concurrency must be positive integers, got ${o.concurrency.join(',')}`);
  const baselineLevels = [...new Set([Math.min(...levels), Math.max(...levels)])];
  const doBaseline = o.baseline && !!o.graph;
  const doPython = !!o.python && !!o.graph;
  if (o.python && !o.graph) throw new Error('--python needs --graph (the pipeline is built from the manifest)');
  const hopTransports: (HopTransport | undefined)[] = o.address
    ? [undefined]
    : [...new Set(o.hopTransports?.length ? o.hopTransports : [(o.graph as GraphSpec).hopTransport])];
  const apis: BenchApi[] = o.apis?.length ? [...new Set(o.apis)] : ['grpc'];
  if (apis.length > 1 && hopTransports.length > 1)
    throw new Error('--api with several front doors compares them on one graph: give one --hop-transport');
  const rest = apis.some((a) => a !== 'grpc');
  if (rest && o.address && !o.restUrl) throw new Error('--api rest-… with --addr needs --rest-url (the REST URL)');
  // Settling past the least warm-up is counted at half its budget: a graph settles in 30-60 s (docs/performance.md).
  const warmS = o.warmupS + Math.max(0, (o.warmupMaxS ?? o.warmupS) - o.warmupS) / 2;
  const perRun = apis.length * (warmS + levels.length * o.durationS * 1.2) + (o.address ? 0 : 3);
  const planned =
    hopTransports.length * perRun +
    ((doBaseline ? 1 : 0) + (doPython ? 1 : 0)) * (warmS + baselineLevels.length * o.durationS * 1.2);
  const startedAt = new Date().toISOString();
  const clock = new Clock(planned, o.progress);

  const sups: Supervisor[] = [];
  let address = o.address;
  const targets: BenchTarget[] = [];
  let restUrl = o.restUrl;
  let runs: { hopTransport: HopTransport | undefined; api: BenchApi; levels: LevelResult[] }[] = [];
  const armRuns: { hopTransport: HopTransport | undefined; api: BenchApi }[] = [];
  let baseline: BenchReport['baseline'];
  let inproc: InProcessTarget | undefined;
  let python: PythonTarget | undefined;
  let pythonRun: BenchReport['python'];
  let answer: string | undefined;
  let warmups: WarmupCurve[] = [];
  const label = (what: string): void => clock.set(what);
  try {
    // Several hop transports: every graph runs at once (an idle graph costs memory, not CPU) and they take turns.
    const arms: Arm[] = [];
    for (const hopTransport of hopTransports) {
      const tag = hopTransports.length > 1 ? `graph ${hopTransport}` : 'graph';
      let sup: Supervisor | undefined;
      if (!o.address) {
        clock.set(`starting ${tag}`);
        sup = new Supervisor({
          graph: applyOverrides(o.graph as GraphSpec, {
            ...(hopTransport ? { hopTransport } : {}),
            metrics: o.metrics !== false,
          }),
          manifestPath: path.resolve(o.graphFile as string),
          executorAddress: '127.0.0.1:0',
          transport: o.transport,
          logger: o.logger,
          childArgs: o.childArgs ?? ['--log-level', 'warn'],
          ...(o.nodeFlags ? { nodeFlags: o.nodeFlags } : {}),
          ...(rest ? { restAddress: '127.0.0.1:0' } : {}),
        });
        sups.push(sup);
        const info = await sup.start();
        address = info.executorAddress;
        restUrl = info.executorRest;
      }
      const s = sup;
      const procs = (): WatchedProcess[] => [
        BENCH_PROCESS,
        ...(s?.info().processes ?? [])
          .filter((p) => p.pid !== undefined)
          .map((p) => ({ name: p.name, role: p.role, pid: p.pid as number })),
      ];
      for (const api of apis) {
        const target =
          api === 'grpc'
            ? new ExecutorTarget(address as string, o.input.payload, {
                timeoutMs: o.timeoutMs,
                timeline: true,
                timelineIntervalMs: o.timelineIntervalMs ?? 0,
                maxMessageBytes: o.graph?.maxMessageBytes,
              })
            : new RestTarget(restUrl as string, o.graph?.name ?? '', o.input.payload, api, o.timeoutMs);
        targets.push(target);
        const probe = await target.send();
        if (!probe.ok) throw new Error(`${target.label} fails the bench request: ${probe.error}`);
        arms.push({ tag: apis.length > 1 ? `${tag} ${api}` : tag, target, procs });
        armRuns.push({ hopTransport, api });
      }
    }
    // The baseline takes its turns with the graphs (an idle graph or an idle in-process model costs memory, not
    // CPU): measured one after the other, the c=8 ratio moved 0.94-0.97 between runs with the machine's drift.
    const graph = o.graph;
    const note = describeBaseline({ onnxThreads: o.baselineOnnxThreads, models: o.baselineModels });
    if (doBaseline && graph) {
      try {
        clock.set('baseline: loading components');
        inproc = await InProcessTarget.create(graph, o.input.payload, o.timeoutMs, {
          onnxThreads: o.baselineOnnxThreads,
          models: o.baselineModels,
          logger: o.logger,
        });
        arms.push({ tag: 'in-process', target: inproc, procs: () => [BENCH_PROCESS], levels: baselineLevels });
      } catch (err) {
        baseline = { levels: [], note, error: (err as Error).message };
      }
    }
    if (doPython && graph) {
      clock.set('python: loading the pipeline');
      python = await PythonTarget.create(o.python as string, graph, o.input.payload, o.timeoutMs);
      const probe = await python.send();
      if (!probe.ok) throw new Error(`the Python pipeline fails the bench request: ${probe.error}`);
      const pid = python.pid;
      arms.push({
        tag: 'python',
        target: python,
        procs: () => [BENCH_PROCESS, ...(pid ? [{ name: 'python', role: 'baseline', pid }] : [])],
        levels: baselineLevels,
      });
    }
    const rounds = arms.length > 1 ? INTERLEAVE_ROUNDS : 1;
    const sweep = await sweepArms(arms, levels, { ...o, root: o.graph?.graph, rounds, label });
    const swept = sweep.levels;
    warmups = sweep.warmups;
    runs = armRuns.map((x, i) => ({ ...x, levels: swept[i] ?? [] }));
    if (inproc) {
      baseline = {
        levels: swept[armRuns.length] ?? [],
        note,
        ...(o.baselineOnnxThreads !== undefined ? { onnxThreads: o.baselineOnnxThreads } : {}),
        models: o.baselineModels ?? 'parallel',
      };
    }
    if (python) {
      const top = describeAnswer(python.firstReply());
      pythonRun = {
        levels: swept[arms.findIndex((a) => a.tag === 'python')] ?? [],
        versions: python.versions,
        note: `${o.python} bench/python-pipeline.py: PIL + onnxruntime, every model at once, 1 intra-op thread each; ${top}`,
      };
    }
    // The gRPC answers of every hop transport must agree (REST answers are in other forms).
    targets.forEach((t, i) => {
      if (armRuns[i]?.api !== 'grpc' && i > 0) return;
      const got = describeAnswer(t.firstReply());
      if (i === 0) answer = got;
      else if (got !== answer)
        throw new Error(`hop transport ${armRuns[i]?.hopTransport} answers ${got}, the first answered ${answer}`);
    });
    if (inproc && baseline) {
      const same = describeAnswer(inproc.firstReply());
      if (same && same !== answer) baseline.note += `; its answer differs from the graph's: ${same}`;
    }
    await Promise.all(targets.splice(0).map((t) => t.close()));
    clock.set('stopping the graph');
    await Promise.all(sups.splice(0).map((x) => x.stop()));
  } finally {
    clock.finish();
    await inproc?.close();
    await python?.close();
    await Promise.all(targets.map((t) => t.close()));
    await Promise.all(sups.map((x) => x.stop()));
  }

  const report: BenchReport = {
    kind: 'infergraph-bench',
    version: 1,
    startedAt,
    command: o.command,
    machine: {
      cpus: os.availableParallelism(),
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    },
    target: {
      mode: o.address ? 'address' : 'graph',
      address: address as string,
      ...(o.address ? {} : { transport: o.transport }),
      ...(runs[0]?.hopTransport ? { hopTransport: runs[0].hopTransport } : {}),
    },
    input: o.input.description,
    options: {
      concurrency: levels,
      durationS: o.durationS,
      warmupS: o.warmupS,
      warmupMaxS: Math.max(o.warmupS, o.warmupMaxS ?? o.warmupS),
      windowMs: (o.durationS * 1000) / 3,
      stableWindows: 3,
      maxWindows: 6,
      stability: o.stability,
      nodeFlags: [...process.execArgv],
      timelineIntervalMs: o.timelineIntervalMs ?? 0,
    },
    levels: runs[0]?.levels ?? [],
    targets: [],
    files: { json: path.join(o.outDir, 'bench-report.json'), html: path.join(o.outDir, 'bench-report.html') },
  };
  if (answer) report.answer = answer;
  if (warmups.length) report.warmups = warmups;
  if (o.graph) {
    report.graph = {
      name: o.graph.name,
      codec: o.graph.codec,
      nodes: walkNodes(o.graph.graph).map((n) => `${n.name} (${n.type}, ${n.implementation})`),
    };
    if (o.graphFile) report.graph.file = o.graphFile;
  }
  if (baseline) report.baseline = baseline;
  if (pythonRun) report.python = pythonRun;
  report.ratios = ratios(report);
  if (apis.length > 1) report.apiRuns = runs.map((x) => ({ api: x.api, levels: x.levels }));
  else if (runs.length > 1) {
    report.hopRuns = runs.map((x) => {
      const tr = ratios({ ...report, levels: x.levels })?.throughput?.ratio;
      const run: HopRun = { hopTransport: x.hopTransport as HopTransport, levels: x.levels };
      if (tr !== undefined) run.throughputRatio = tr;
      return run;
    });
  }
  report.targets = targetChecks(report);
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(report.files.json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(report.files.html, renderHtml(report));
  return report;
}

function ratios(r: BenchReport): BenchReport['ratios'] {
  const bl = r.baseline?.levels ?? [];
  if (!bl.length || !r.levels.length) return undefined;
  const out: NonNullable<BenchReport['ratios']> = {};
  const cMin = Math.min(...bl.map((l) => l.concurrency));
  const cMax = Math.max(...bl.map((l) => l.concurrency));
  const g1 = r.levels.find((l) => l.concurrency === cMin);
  const b1 = bl.find((l) => l.concurrency === cMin);
  if (g1 && b1 && b1.latency.mean > 0) {
    out.latency = {
      concurrency: cMin,
      graphMeanMs: g1.latency.mean,
      inProcessMeanMs: b1.latency.mean,
      graphP50Ms: g1.latency.p50,
      inProcessP50Ms: b1.latency.p50,
      ratio: round3(g1.latency.mean / b1.latency.mean),
    };
  }
  const g8 = r.levels.find((l) => l.concurrency === cMax);
  const b8 = bl.find((l) => l.concurrency === cMax);
  if (g8 && b8 && b8.throughput > 0)
    out.throughput = {
      concurrency: cMax,
      graph: g8.throughput,
      inProcess: b8.throughput,
      ratio: round3(g8.throughput / b8.throughput),
    };
  return out;
}

/**
 * The targets of issue 12 (hop transport) for this machine, evaluated on this run's first hop transport; with both
 * transports in the run, also frames against gRPC at the lowest concurrency.
 */
function targetChecks(r: BenchReport): TargetCheck[] {
  const c1 = r.levels.find((l) => l.concurrency === 1);
  const ov = c1?.overhead;
  const t = r.ratios?.throughput;
  const check = (
    name: string,
    target: string,
    value: number | undefined,
    ok: (v: number) => boolean,
    note?: string,
  ): TargetCheck => ({
    name,
    target,
    value: value === undefined ? null : value,
    met: value === undefined ? null : ok(value),
    ...(note ? { note } : {}),
  });
  const out = [
    check('graph overhead, c=1, mean (ms)', '<= 3 (then 1.5)', ov?.mean, (v) => v <= 3),
    check('graph overhead, c=1, p99 (ms)', '<= 8 (then 4)', ov?.p99, (v) => v <= 8),
    check(`throughput graph / in-process, c=${t?.concurrency ?? 8}`, '>= 0.95', t?.ratio, (v) => v >= 0.95),
  ];
  out.push(...singleProcessChecks(r, check));
  const frames = r.hopRuns?.find((x) => x.hopTransport === 'frames');
  const grpc = r.hopRuns?.find((x) => x.hopTransport === 'grpc');
  const lo = Math.min(...r.levels.map((l) => l.concurrency));
  const f1 = frames?.levels.find((l) => l.concurrency === lo);
  const g1 = grpc?.levels.find((l) => l.concurrency === lo);
  if (f1 && g1 && g1.latency.mean > 0) {
    const ratio = round3(f1.latency.mean / g1.latency.mean);
    const note = 'for graphs whose compute is small; big-compute graphs gain the overhead only';
    out.push(check(`end-to-end mean, c=${lo}, frames / gRPC`, '<= 0.4 (tiny tensors)', ratio, (v) => v <= 0.4, note));
  }
  // REST against gRPC, one graph, turns taken: the REST path's cost over gRPC's at each end of the sweep.
  const api = (name: string): LevelResult[] | undefined => r.apiRuns?.find((x) => x.api === name)?.levels;
  const g = api('grpc');
  const hi = Math.max(...r.levels.map((l) => l.concurrency));
  for (const [name, c] of [
    ['rest-binary', lo],
    ['rest-binary', hi],
    ['rest-json', lo],
    ['rest-json', hi],
  ] as const) {
    const a = api(name)?.find((l) => l.concurrency === c);
    const b = g?.find((l) => l.concurrency === c);
    if (!a || !b) continue;
    const extra = round3(a.latency.mean - b.latency.mean);
    const target = name === 'rest-binary' && c === 1 ? '<= 1.5' : 'reported';
    out.push(check(`${name} - gRPC, c=${c}, mean (ms)`, target, extra, (v) => target === 'reported' || v <= 1.5));
  }
  const jb = api('rest-json')?.find((l) => l.concurrency === lo);
  const bb = api('rest-binary')?.find((l) => l.concurrency === lo);
  if (jb && bb && bb.latency.mean > 0)
    out.push(
      check(
        `rest-json (base64) / rest-binary, c=${lo}, mean`,
        'reported',
        round3(jb.latency.mean / bb.latency.mean),
        () => true,
      ),
    );
  return out;
}

/**
 * Issue 23's targets: the graph against the best single process of the run (the Node in-process arm and, with
 * --python, the Python pipeline), at the lowest level (mean latency) and the highest (throughput).
 */
function singleProcessChecks(
  r: BenchReport,
  check: (name: string, target: string, value: number | undefined, ok: (v: number) => boolean) => TargetCheck,
): TargetCheck[] {
  const arms = [
    { name: 'in-process', levels: r.baseline?.levels ?? [] },
    { name: 'python', levels: r.python?.levels ?? [] },
  ].filter((a) => a.levels.length);
  if (!arms.length || !r.levels.length) return [];
  const out: TargetCheck[] = [];
  const lo = Math.min(...arms.flatMap((a) => a.levels.map((l) => l.concurrency)));
  const hi = Math.max(...arms.flatMap((a) => a.levels.map((l) => l.concurrency)));
  const at = (levels: LevelResult[], c: number): LevelResult | undefined => levels.find((l) => l.concurrency === c);
  for (const a of arms) {
    const g1 = at(r.levels, lo);
    const a1 = at(a.levels, lo);
    if (g1 && a1 && a1.latency.mean > 0)
      out.push(
        check(
          `c=${lo} mean, graph / ${a.name}`,
          '<= 1.05',
          round3(g1.latency.mean / a1.latency.mean),
          (v) => v <= 1.05,
        ),
      );
    const g8 = at(r.levels, hi);
    const a8 = at(a.levels, hi);
    if (g8 && a8 && a8.throughput > 0)
      out.push(
        check(`c=${hi} req/s, graph / ${a.name}`, '>= 1.0', round3(g8.throughput / a8.throughput), (v) => v >= 1.0),
      );
  }
  return out;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export const defaultOutDir = (): string =>
  path.join(process.cwd(), 'bench-out', new Date().toISOString().replace(/[:.]/g, '-'));
