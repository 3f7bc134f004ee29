import type { Command } from 'commander';
import os from 'node:os';
import path from 'node:path';
import { ALL_CODECS, renderHopMarkdown, runHopBench, type HopMode } from '../../bench/hop';
import { defaultImage, graphTakesImage, imageFile, shapedTensor, type BenchInput } from '../../bench/input';
import { renderMarkdown } from '../../bench/report-html';
import { defaultOutDir, runBench } from '../../bench/run';
import { loadManifestFile } from '../../graph/manifest';
import { HOP_TRANSPORTS, type HopCodec, type HopTransport } from '../../graph/spec';
import { reexecWithFlags } from '../../bench/reexec';
import { CHILD_NODE_FLAGS, type Transport } from '../../runner/supervisor';
import { createLogger } from '../../util/logger';
import { loadTensorFile } from './predict';

/** `infergraph bench` (a graph under load, with the in-process baseline) and `infergraph bench hop` (codecs). */

const ints = (flag: string, v: string): number[] => {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`${flag} expects positive integers separated by commas, got '${v}'`);
  return xs;
};
const positive = (flag: string, v: string): number => {
  const x = Number(v);
  if (!(x > 0)) throw new Error(`${flag} expects a positive number of seconds, got '${v}'`);
  return x;
};
const transports = (v: string): Transport[] => {
  const xs = v.split(',').map((s) => s.trim());
  for (const x of xs) if (x !== 'unix' && x !== 'tcp') throw new Error(`--transport must be unix or tcp (or both: unix,tcp), got '${x}'`);
  return xs as Transport[];
};

const hopTransports = (v: string): HopTransport[] => {
  const xs = v.split(',').map((s) => s.trim());
  for (const x of xs) {
    if (!HOP_TRANSPORTS.includes(x as HopTransport)) throw new Error(`--hop-transport must be grpc, frames or both, got '${x}'`);
  }
  return xs as HopTransport[];
};

interface BenchFlags {
  graph?: string;
  addr?: string;
  concurrency: string;
  duration: string;
  warmup: string;
  image?: string;
  tensor?: string;
  tensorShape?: string;
  out?: string;
  transport: string;
  hopTransport?: string;
  baseline: boolean;
  baselineThreads: string;
  stability: string;
  timeout: string;
  progress: boolean;
  logLevel: string;
  nodeFlags?: string;
}

/** --node-flags: '' for none; default the Supervisor's. */
const nodeFlagsOf = (v: string | undefined): readonly string[] => (v === undefined ? CHILD_NODE_FLAGS : v.split(/\s+/).filter(Boolean));

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
    .description('load-test a graph: warm-up, concurrency sweep, per-hop breakdown, graph overhead, CPU/RSS, in-process baseline; JSON + HTML report')
    .option('-g, --graph <file>', 'graph manifest: the bench starts the graph (unless --addr) and uses the manifest for the critical path and the baseline')
    .option('--addr <host:port>', 'a running executor instead of starting the graph')
    .option('-c, --concurrency <list>', 'concurrency levels (requests in flight)', '1,2,4,8')
    .option('-d, --duration <seconds>', 'measurement time per level (3 windows; up to 2x more until stable)', '6')
    .option('-w, --warmup <seconds>', 'warm-up before the sweep (half at the lowest, half at the highest concurrency)', '8')
    .option('--image <file>', 'image sent as binData (default: the first ../shared/imagenet/dev image, else a generated JPEG)')
    .option('--tensor <file>', 'tensor sent instead (.npy or JSON), for graphs that do not start with jpeg-input')
    .option('--tensor-shape <dims>', 'send a generated float32 tensor of this shape (default for graphs without jpeg-input: 1,4)')
    .option('-o, --out <dir>', 'report folder (default bench-out/<timestamp>)')
    .option('-t, --transport <kind>', 'node hops over unix sockets or loopback tcp (graph started by the bench)', 'unix')
    .option(
      '--hop-transport <list>',
      'grpc, frames, or both (grpc,frames: a graph each, all up at once, taking turns per level); default spec.hopTransport',
    )
    .option('--no-baseline', 'skip the in-process baseline')
    .option('--baseline-threads <n|manifest>', "onnx-model intraOpThreads in the in-process baseline ('manifest' keeps the manifest's)", String(os.availableParallelism()))
    .option('--stability <fraction>', 'windows must agree within this fraction on throughput and p50', '0.1')
    .option('--timeout <ms>', 'deadline per request', '30000')
    .option('--no-progress', 'no progress bar')
    .option('--log-level <level>', 'log level of the graph processes and the bench', 'warn')
    .option('--node-flags <flags>', `Node/V8 flags of every graph process and of the bench ('' for none; default '${CHILD_NODE_FLAGS.join(' ')}')`)
    .enablePositionalOptions()
    .action(async (o: BenchFlags) => {
      const nodeFlags = nodeFlagsOf(o.nodeFlags);
      if (await ranInChild(nodeFlags)) return;
      if (!o.graph && !o.addr) throw new Error('give --graph FILE (the bench starts the graph) or --addr HOST:PORT (a running executor)');
      if (o.image && o.tensor) throw new Error('give at most one of --image and --tensor');
      const graph = o.graph ? loadManifestFile(o.graph) : undefined;
      let input: BenchInput;
      if (o.image) input = imageFile(o.image);
      else if (o.tensor) {
        const tensor = loadTensorFile(o.tensor);
        input = { payload: { kind: 'tensor', tensor }, description: `tensor ${o.tensor} ${tensor.dtype} [${tensor.shape.join(',')}]` };
      } else if (o.tensorShape) input = shapedTensor(ints('--tensor-shape', o.tensorShape));
      else if (!graph || graphTakesImage(graph)) input = await defaultImage();
      else input = shapedTensor([1, 4]);
      const threads = o.baselineThreads === 'manifest' ? undefined : ints('--baseline-threads', o.baselineThreads)[0];
      const [transport] = transports(o.transport);
      const outDir = path.resolve(o.out ?? defaultOutDir());
      const report = await runBench({
        ...(graph ? { graph, graphFile: path.resolve(o.graph as string) } : {}),
        ...(o.addr ? { address: o.addr } : {}),
        transport: transport as Transport,
        ...(o.hopTransport ? { hopTransports: hopTransports(o.hopTransport) } : {}),
        concurrency: ints('--concurrency', o.concurrency),
        durationS: positive('--duration', o.duration),
        warmupS: Number(o.warmup) >= 0 ? Number(o.warmup) : positive('--warmup', o.warmup),
        stability: positive('--stability', o.stability),
        input,
        outDir,
        baseline: o.baseline,
        ...(threads !== undefined ? { baselineOnnxThreads: threads } : {}),
        timeoutMs: Number(o.timeout),
        logger: createLogger('infergraph-bench', o.logLevel),
        progress: o.progress,
        command: `infergraph ${process.argv.slice(2).join(' ')}`,
        childArgs: ['--log-level', o.logLevel],
        nodeFlags,
      });
      console.log(renderMarkdown(report));
      console.log(`\nreport: ${report.files.html}\n        ${report.files.json}`);
    });

  bench
    .command('hop')
    .description(
      'per-hop overhead of each hop transport and codec: a tensor through one identity node process, round trip minus node compute',
    )
    .option('--codecs <list>', `codecs to compare (${ALL_CODECS.join(', ')})`, ALL_CODECS.join(','))
    .option('--shape <dims>', 'float32 tensor shape', '1,3,224,224')
    .option('--modes <list>', "echo (tensor there and back, like a transformer), one-way (tensor there, [1,1] back, like a model)", 'echo,one-way')
    .option('--gaps <ms list>', 'idle ms before each measured call, e.g. 0,50 (0: hot path; 50: a node idle between requests, as in a graph at concurrency 1)', '0')
    .option('-t, --transport <list>', 'unix, tcp or both (unix,tcp)', 'unix,tcp')
    .option('--hop-transport <list>', 'grpc, frames or both, compared in the same rounds', 'grpc,frames')
    .option('-d, --duration <seconds>', 'measured seconds per codec and transport', '6')
    .option('-w, --warmup <seconds>', 'warm-up seconds per transport (shared by the codecs)', '6')
    .option('--rounds <n>', 'codecs take turns this many times', '3')
    .option('-o, --out <dir>', 'also write hop-report.json and hop-report.html here')
    .option('--no-progress', 'no progress bar')
    .option('--node-flags <flags>', `Node/V8 flags of the node process and of the bench ('' for none; default '${CHILD_NODE_FLAGS.join(' ')}')`)
    .action(async (o: { codecs: string; modes: string; gaps: string; shape: string; transport: string; hopTransport: string; duration: string; warmup: string; rounds: string; out?: string; progress: boolean; nodeFlags?: string }) => {
      const nodeFlags = nodeFlagsOf(o.nodeFlags);
      if (await ranInChild(nodeFlags)) return;
      const codecs = o.codecs.split(',').map((s) => s.trim()) as HopCodec[];
      for (const c of codecs) if (!ALL_CODECS.includes(c)) throw new Error(`--codecs: unknown codec '${c}' (known: ${ALL_CODECS.join(', ')})`);
      const modes = o.modes.split(',').map((s) => s.trim()) as HopMode[];
      for (const m of modes) if (m !== 'echo' && m !== 'one-way') throw new Error(`--modes: unknown mode '${m}' (echo, one-way)`);
      const report = await runHopBench({
        shape: ints('--shape', o.shape),
        codecs,
        modes,
        gapsMs: o.gaps.split(',').map((g) => {
          const x = Number(g);
          if (!(x >= 0)) throw new Error(`--gaps expects milliseconds >= 0, got '${g}'`);
          return x;
        }),
        transports: transports(o.transport),
        hopTransports: hopTransports(o.hopTransport),
        durationS: positive('--duration', o.duration),
        warmupS: Number(o.warmup) >= 0 ? Number(o.warmup) : positive('--warmup', o.warmup),
        rounds: ints('--rounds', o.rounds)[0] as number,
        logger: createLogger('infergraph-bench-hop', 'warn'),
        progress: o.progress,
        ...(o.out ? { outDir: path.resolve(o.out) } : {}),
        command: `infergraph ${process.argv.slice(2).join(' ')}`,
        nodeFlags,
      });
      console.log(renderHopMarkdown(report));
      if (o.out) console.log(`\nreport: ${path.resolve(o.out, 'hop-report.html')}`);
    });
}
