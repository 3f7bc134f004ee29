import type { Command } from 'commander';
import path from 'node:path';
import { renderHopMarkdown, runHopBench, type HopMode } from '../../bench/hop';
import { defaultImage, graphTakesImage, imageFile, shapedTensor, type BenchInput } from '../../bench/input';
import { renderMarkdown } from '../../bench/report-html';
import { BEST_BASELINE } from '../../bench/inprocess';
import { BENCH_APIS } from '../../bench/rest-target';
import { defaultOutDir, runBench } from '../../bench/run';
import { ensureGraphModels } from '../../modelgen/graph-models';
import { HOP_CODECS, HOP_TRANSPORTS, type GraphSpec } from '../../graph/spec';
import { reexecWithFlags } from '../../bench/reexec';
import { CHILD_NODE_FLAGS, type Transport } from '../../runner/supervisor';
import { createLogger } from '../../util/logger';
import {
  enumFlag,
  enumListFlag,
  intFlag,
  intListFlag,
  logLevelFlag,
  numberFlag,
  numberListFlag,
  usageError,
} from '../flags';
import { loadTensorFile } from './predict';
import { loadSpec } from '../spec-flags';

/** `infergraph bench` (a graph under load, with the in-process baseline) and `infergraph bench hop` (codecs). */

const TRANSPORTS: readonly Transport[] = ['unix', 'tcp'];
const HOP_MODES: readonly HopMode[] = ['echo', 'one-way'];
/** Seconds of measurement (> 0) and of warm-up (>= 0). */
const seconds = (flag: string, v: string): number => numberFlag(flag, v, { above: 0, max: 86_400 });
const warmupSeconds = (v: string): number => numberFlag('--warmup', v, { min: 0, max: 86_400 });

interface BenchFlags {
  graph?: string;
  addr?: string;
  concurrency: string;
  duration: string;
  warmup: string;
  warmupMax: string;
  image?: string;
  tensor?: string;
  tensorShape?: string;
  out?: string;
  transport: string;
  baseline: boolean;
  metrics: boolean;
  hopTransport?: string;
  api: string;
  restUrl?: string;
  baselineThreads: string;
  baselineModels: string;
  python?: string;
  stability: string;
  timeout: string;
  timelineInterval: string;
  progress: boolean;
  logLevel: string;
  nodeFlags?: string;
}

/** --node-flags: '' for none; default the Supervisor's. */
const nodeFlagsOf = (v: string | undefined): readonly string[] =>
  v === undefined ? CHILD_NODE_FLAGS : v.split(/\s+/).filter(Boolean);

/** Same V8 flags in the bench process as in the graph's processes (see reexec.ts); true when a child did the work. */
async function ranInChild(flags: readonly string[]): Promise<boolean> {
  const code = reexecWithFlags(flags);
  if (!code) return false;
  process.exitCode = await code;
  return true;
}

export function registerBench(program: Command): void {
  // `bench` and `bench hop` share option names (--duration, --out ...): with positional options, those after `hop`
  // are hop's. Commander needs it on every ancestor; the root has no options of its own for it to change.
  program.enablePositionalOptions();
  const bench = program
    .command('bench')
    .description(
      'load-test a graph: warm-up, concurrency sweep, per-hop breakdown, graph overhead, CPU/RSS, in-process baseline; JSON + HTML report',
    )
    .option(
      '-g, --graph <file>',
      'graph manifest: the bench starts the graph (unless --addr) and uses the manifest for the critical path and the baseline',
    )
    .option('--addr <host:port>', 'a running executor instead of starting the graph')
    .option('-c, --concurrency <list>', 'concurrency levels (requests in flight)', '1,2,4,8')
    .option('-d, --duration <seconds>', 'measurement time per level (3 windows; up to 2x more until stable)', '6')
    .option(
      '-w, --warmup <seconds>',
      'least warm-up per arm before the sweep (half at the lowest, half at the highest concurrency)',
      '8',
    )
    .option(
      '--warmup-max <seconds>',
      'most warm-up per arm: past --warmup it goes on at the highest concurrency in 10 s windows until its CPU per request stops falling by 3 % (a value <= --warmup: no settling)',
      '120',
    )
    .option(
      '--image <file>',
      'image sent as binData (default: the first ../shared/imagenet/dev image, else a generated JPEG)',
    )
    .option('--tensor <file>', 'tensor sent instead (.npy or JSON), for graphs that do not start with jpeg-input')
    .option(
      '--tensor-shape <dims>',
      'send a generated float32 tensor of this shape (default for graphs without jpeg-input: 1,4)',
    )
    .option('-o, --out <dir>', 'report folder (default bench-out/<timestamp>)')
    .option(
      '-t, --transport <kind>',
      'node hops over unix sockets or loopback tcp (graph started by the bench)',
      'unix',
    )
    .option('--no-baseline', 'skip the in-process baseline')
    .option(
      '--hop-transport <list>',
      'grpc, frames, or both (grpc,frames: a graph each, all up at once, taking turns per level); default spec.hopTransport',
    )
    .option('--no-metrics', 'graph processes without Prometheus metrics (to measure their cost)')
    .option(
      '--api <list>',
      `front doors to drive (${BENCH_APIS.join(', ')}): several take turns per level on one graph (rest-binary: V2 ` +
        'binary tensor extension; rest-json: Seldon JSON, base64 for a file)',
      'grpc',
    )
    .option('--rest-url <url>', "with --addr: the executor's REST URL (http://host:port), for the rest-… apis")
    .option(
      '--baseline-threads <n|manifest>',
      "onnx-model intraOpThreads in the in-process baseline ('manifest' keeps the manifest's)",
      String(BEST_BASELINE.onnxThreads),
    )
    .option(
      '--python <interpreter>',
      'also run bench/python-pipeline.py (PIL + onnxruntime, one process) as an arm, with this Python (it needs onnxruntime, pillow and numpy)',
    )
    .option(
      '--baseline-models <parallel|serial>',
      "the in-process baseline's models: 'parallel' (the walk's branches at once) or 'serial' (one model at a time)",
      BEST_BASELINE.models,
    )
    .option('--stability <fraction>', 'windows must agree within this fraction on throughput and p50', '0.1')
    .option('--timeout <ms>', 'deadline per request', '30000')
    .option(
      '--timeline-interval <ms>',
      'ask for the per-hop timeline at most once per this many ms (0: every request); the other requests go without it, as clients send them',
      '10',
    )
    .option('--no-progress', 'no progress bar')
    .option('--log-level <level>', 'log level of the graph processes and the bench', 'warn')
    .option(
      '--node-flags <flags>',
      `Node/V8 flags of every graph process and of the bench ('' for none; default '${CHILD_NODE_FLAGS.join(' ')}')`,
    )
    .enablePositionalOptions()
    .action(async (o: BenchFlags) => {
      // Every flag is checked before anything starts (and before the re-exec, so a mistake is reported once).
      if (!o.graph && !o.addr) {
        throw usageError('give --graph FILE (the bench starts the graph) or --addr HOST:PORT (a running executor)');
      }
      if (o.image && o.tensor) throw usageError('give at most one of --image and --tensor');
      const concurrency = intListFlag('--concurrency', o.concurrency, { min: 1, max: 4096 });
      const durationS = seconds('--duration', o.duration);
      const warmupS = warmupSeconds(o.warmup);
      const warmupMaxS = numberFlag('--warmup-max', o.warmupMax, { min: 0, max: 86_400 });
      const stability = numberFlag('--stability', o.stability, { above: 0, max: 1 });
      const timeoutMs = intFlag('--timeout', o.timeout, { min: 1 });
      const timelineIntervalMs = numberFlag('--timeline-interval', o.timelineInterval, { min: 0 });
      const transport = enumFlag('--transport', o.transport, TRANSPORTS);
      const threads =
        o.baselineThreads === 'manifest'
          ? undefined
          : intFlag('--baseline-threads', o.baselineThreads, { min: 0, max: 1024 });
      const baselineModels = enumFlag('--baseline-models', o.baselineModels, ['parallel', 'serial'] as const);
      const tensorShape = o.tensorShape && intListFlag('--tensor-shape', o.tensorShape, { min: 1 });
      const logLevel = logLevelFlag(o.logLevel);
      const hopTransports = o.hopTransport && enumListFlag('--hop-transport', o.hopTransport, HOP_TRANSPORTS);
      const apis = enumListFlag('--api', o.api, BENCH_APIS);
      if (apis.length > 1 && hopTransports && hopTransports.length > 1)
        throw usageError('--api with several front doors compares them on one graph: give one --hop-transport');
      if (o.addr && apis.some((a) => a !== 'grpc') && !o.restUrl)
        throw usageError('--api rest-… with --addr needs --rest-url http://host:port');
      const nodeFlags = nodeFlagsOf(o.nodeFlags);
      if (await ranInChild(nodeFlags)) return;
      // An InferenceGraph or a SeldonDeployment (converted as `up` converts it; the children read the same file).
      let graph = o.graph ? loadSpec(o.graph, {}) : undefined;
      if (o.graph && !o.addr) {
        // bench starts this graph: the example models are made if missing, other missing files named, before spawning.
        await ensureGraphModels(graph as GraphSpec, (line) => console.error(line));
        graph = loadSpec(o.graph, {}, { checkFiles: true });
      }
      let input: BenchInput;
      if (o.image) input = imageFile(o.image);
      else if (o.tensor) {
        const tensor = loadTensorFile(o.tensor);
        input = {
          payload: { kind: 'tensor', tensor },
          description: `tensor ${o.tensor} ${tensor.dtype} [${tensor.shape.join(',')}]`,
        };
      } else if (tensorShape) input = shapedTensor(tensorShape);
      else if (!graph || graphTakesImage(graph)) input = await defaultImage();
      else input = shapedTensor([1, 4]);
      const outDir = path.resolve(o.out ?? defaultOutDir());
      const report = await runBench({
        ...(graph ? { graph, graphFile: path.resolve(o.graph as string) } : {}),
        ...(o.addr ? { address: o.addr } : {}),
        transport,
        ...(hopTransports ? { hopTransports } : {}),
        concurrency,
        durationS,
        warmupS,
        warmupMaxS,
        stability,
        input,
        outDir,
        baseline: o.baseline,
        ...(threads !== undefined ? { baselineOnnxThreads: threads } : {}),
        baselineModels,
        timeoutMs,
        timelineIntervalMs,
        logger: createLogger('infergraph-bench', logLevel),
        progress: o.progress,
        command: `infergraph ${process.argv.slice(2).join(' ')}`,
        childArgs: ['--log-level', logLevel],
        nodeFlags,
        metrics: o.metrics,
        apis,
        ...(o.restUrl ? { restUrl: o.restUrl } : {}),
        ...(o.python ? { python: o.python } : {}),
      });
      console.log(renderMarkdown(report));
      console.log(`\nreport: ${report.files.html}\n        ${report.files.json}`);
    });

  bench
    .command('hop')
    .description(
      'per-hop overhead of each hop transport and codec: a tensor through one identity node process, round trip minus node compute',
    )
    .option('--codecs <list>', `codecs to compare (${HOP_CODECS.join(', ')})`, HOP_CODECS.join(','))
    .option('--shape <dims>', 'float32 tensor shape', '1,3,224,224')
    .option(
      '--modes <list>',
      'echo (tensor there and back, like a transformer), one-way (tensor there, [1,1] back, like a model)',
      'echo,one-way',
    )
    .option(
      '--gaps <ms list>',
      'idle ms before each measured call, e.g. 0,50 (0: hot path; 50: a node idle between requests, as in a graph at concurrency 1)',
      '0',
    )
    .option('-t, --transport <list>', 'unix, tcp or both (unix,tcp)', 'unix,tcp')
    .option('-d, --duration <seconds>', 'measured seconds per codec and transport', '6')
    .option('-w, --warmup <seconds>', 'warm-up seconds per transport (shared by the codecs)', '6')
    .option('--rounds <n>', 'codecs take turns this many times', '3')
    .option('-o, --out <dir>', 'also write hop-report.json and hop-report.html here')
    .option('--no-progress', 'no progress bar')
    .option('--hop-transport <list>', 'grpc, frames or both, compared in the same rounds', 'grpc,frames')
    .option(
      '--node-flags <flags>',
      `Node/V8 flags of the node process and of the bench ('' for none; default '${CHILD_NODE_FLAGS.join(' ')}')`,
    )
    .action(
      async (o: {
        codecs: string;
        modes: string;
        gaps: string;
        shape: string;
        transport: string;
        hopTransport: string;
        duration: string;
        warmup: string;
        rounds: string;
        out?: string;
        progress: boolean;
        nodeFlags?: string;
      }) => {
        const checked = {
          shape: intListFlag('--shape', o.shape, { min: 1 }),
          codecs: enumListFlag('--codecs', o.codecs, HOP_CODECS),
          modes: enumListFlag('--modes', o.modes, HOP_MODES),
          gapsMs: numberListFlag('--gaps', o.gaps, { min: 0, max: 60_000 }),
          transports: enumListFlag('--transport', o.transport, TRANSPORTS),
          hopTransports: enumListFlag('--hop-transport', o.hopTransport, HOP_TRANSPORTS),
          durationS: seconds('--duration', o.duration),
          warmupS: warmupSeconds(o.warmup),
          rounds: intFlag('--rounds', o.rounds, { min: 1, max: 1000 }),
        };
        const nodeFlags = nodeFlagsOf(o.nodeFlags);
        if (await ranInChild(nodeFlags)) return;
        const report = await runHopBench({
          ...checked,
          logger: createLogger('infergraph-bench-hop', 'warn'),
          progress: o.progress,
          ...(o.out ? { outDir: path.resolve(o.out) } : {}),
          command: `infergraph ${process.argv.slice(2).join(' ')}`,
          nodeFlags,
        });
        console.log(renderHopMarkdown(report));
        if (o.out) console.log(`\nreport: ${path.resolve(o.out, 'hop-report.html')}`);
      },
    );
}
