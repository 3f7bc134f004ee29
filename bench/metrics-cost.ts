/**
 * What metrics cost per hop, measured where the machine's noise cannot hide it: ONE process, a grpc-js client calling
 * a grpc-js echo server (16 bytes, with the node's compute trailer) over a unix socket, with and without what a hop
 * carries in a graph (the executor's side: Seldon's client histogram, transport/compute split, in-flight, around the
 * NodeClient; the node's side: request/compute histograms, in-flight, around the handler).
 * Plain and metered calls alternate in batches, so drift (other processes) hits both alike; the median batch wins.
 *
 *   node dist/bench/metrics-cost.js [batches] [calls-per-batch]
 */
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HopReply, NodeClient } from '../src/graph/node-client';
import { emptyMeta, type InferMessage } from '../src/message/message';
import { executorHopMetrics, nodeServerMetrics } from '../src/telemetry/graph-metrics';
import { executorRequestMetrics } from '../src/telemetry/request-metrics';
import { createMetrics } from '../src/telemetry/metrics';
import { COMPUTE_TRAILER } from '../src/rpc/trailers';
import { graph, node } from '../test/helpers/spec';
import { bytesUnaryMethod, passBytes as pass } from '../src/rpc/bytes-method';

const method = bytesUnaryMethod('/seldon.protos.Model/Predict');

type ServiceMeter = (
  definition: grpc.ServiceDefinition,
  impl: grpc.UntypedServiceImplementation,
) => grpc.UntypedServiceImplementation;

/** The executor's request metrics as its data plane records them, around a handler. */
function requestMeter(m: Awaited<ReturnType<typeof createMetrics>>, g: ReturnType<typeof graph>): ServiceMeter {
  const requests = executorRequestMetrics(m, g);
  return (_def, impl) => {
    const h = impl.Predict as grpc.handleUnaryCall<unknown, unknown>;
    const Predict: grpc.handleUnaryCall<unknown, unknown> = (call, cb) => {
      const end = requests.start({ service: '/seldon.protos.Seldon/Predict' });
      h(call, (err, value, trailer, flags) => {
        end(err ? (err.code ?? grpc.status.UNKNOWN) : grpc.status.OK);
        cb(err, value, trailer, flags);
      });
    };
    return { Predict };
  };
}

async function echo(address: string, meter?: ServiceMeter): Promise<grpc.Server> {
  const server = new grpc.Server();
  const add = (d: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation): void =>
    server.addService(d, meter ? meter(d, impl) : impl);
  add(
    { Predict: method },
    {
      Predict: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        const trailer = new grpc.Metadata();
        trailer.set(COMPUTE_TRAILER, '12');
        cb(null, call.request, trailer);
      },
    },
  );
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
  );
  return server;
}

async function main(): Promise<void> {
  const batches = Number(process.argv[2] ?? 30);
  const perBatch = Number(process.argv[3] ?? 400);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-metrics-cost-'));
  const metrics = await createMetrics();
  const g = graph(node('m', 'MODEL'));
  const plainServer = await echo(`unix:${path.join(dir, 'plain.sock')}`);
  const meteredServer = await echo(
    `unix:${path.join(dir, 'metered.sock')}`,
    nodeServerMetrics(metrics, g.graph).service,
  );
  const executorServer = await echo(`unix:${path.join(dir, 'exec.sock')}`, requestMeter(metrics, g));
  const payload = Buffer.alloc(16);
  const msg: InferMessage = { meta: emptyMeta(), payload: { kind: 'bin', data: payload } };
  // A NodeClient as GrpcNodeClient is one: it settles on 'status', with the trailer's compute time.
  const nodeClient = (address: string): NodeClient & { close(): void } => {
    const c = new grpc.Client(address, grpc.credentials.createInsecure());
    return {
      call: () =>
        new Promise<HopReply>((resolve, reject) => {
          let failed: Error | null = null;
          const call = c.makeUnaryRequest(method.path, pass, pass, payload, (e) => (failed = e));
          call.on('status', (st: grpc.StatusObject) => {
            if (failed) reject(failed);
            else resolve({ message: msg, computeUs: Number(st.metadata.get(COMPUTE_TRAILER)[0]) });
          });
        }),
      metadata: () => Promise.reject(new Error('no metadata in this bench')),
      close: () => c.close(),
    };
  };
  const plain = nodeClient(`unix:${path.join(dir, 'plain.sock')}`);
  const meteredInner = nodeClient(`unix:${path.join(dir, 'metered.sock')}`);
  const metered = executorHopMetrics(metrics, g)(meteredInner);
  const executor = nodeClient(`unix:${path.join(dir, 'exec.sock')}`);
  const signal = new AbortController().signal;
  const call = (c: NodeClient): Promise<unknown> =>
    c.call(g.graph, 'predict', msg, { deadline: Date.now() + 10_000, signal });
  // CPU time of this process per call (client and server both live here): unlike wall time, it does not grow when
  // other processes take the cores, which on a shared machine is most of the noise.
  const batch = async (c: NodeClient): Promise<[wall: number, cpu: number]> => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let i = 0; i < perBatch; i++) await call(c);
    const cpu = process.cpuUsage(c0);
    return [((performance.now() - t0) * 1000) / perBatch, (cpu.user + cpu.system) / perBatch];
  };
  await wrappersAlone(await createMetrics(), g);
  for (const c of [plain, metered, executor]) for (let i = 0; i < 3000; i++) await call(c); // JIT warm-up
  const res: Record<'plain' | 'hop' | 'executor' | 'again', [number, number][]> = {
    plain: [],
    hop: [],
    executor: [],
    again: [],
  };
  // The order rotates per batch; `again` is the plain call measured twice (A/A), the noise floor of the comparison.
  const kinds = [
    ['plain', plain],
    ['hop', metered],
    ['executor', executor],
    ['again', plain],
  ] as const;
  for (let b = 0; b < batches; b++) {
    for (let k = 0; k < kinds.length; k++) {
      const [name, c] = kinds[(b + k) % kinds.length] as (typeof kinds)[number];
      res[name].push(await batch(c));
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const col = (k: keyof typeof res, i: 0 | 1): number => median(res[k].map((x) => x[i]));
  const line = (label: string, k: keyof typeof res): string =>
    `${label.padEnd(46)}${col(k, 0).toFixed(1).padStart(8)}${col(k, 1).toFixed(1).padStart(10)}` +
    (k === 'plain' ? '' : `${(col(k, 1) - col('plain', 1)).toFixed(1).padStart(12)}`);
  console.log(`${batches} batches x ${perBatch} calls, alternating; medians of the batch means, µs per call`);
  console.log(`${''.padEnd(46)}${'wall'.padStart(8)}${'CPU'.padStart(10)}${'CPU added'.padStart(12)}`);
  console.log(line('plain call', 'plain'));
  console.log(line('plain call again (A/A: the noise floor)', 'again'));
  console.log(line('hop: metered NodeClient + metered node handler', 'hop'));
  console.log(line("call to a handler metered as the executor's", 'executor'));
  for (const c of [plain, meteredInner, executor]) c.close();
  for (const s of [plainServer, meteredServer, executorServer]) s.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
}

/** The wrappers' own CPU per call around a NodeClient and a handler that do nothing: no gRPC noise at all. */
async function wrappersAlone(
  metrics: Awaited<ReturnType<typeof createMetrics>>,
  g: ReturnType<typeof graph>,
): Promise<void> {
  const msg: InferMessage = { meta: emptyMeta(), payload: { kind: 'none' } };
  const md = new grpc.Metadata();
  md.set(COMPUTE_TRAILER, '12');
  const bare: NodeClient = {
    call: () => Promise.resolve({ message: msg, computeUs: 12 }),
    metadata: () => Promise.reject(new Error('no metadata in this bench')),
  };
  const wrapped = executorHopMetrics(metrics, g)(bare);
  const signal = new AbortController().signal;
  const opts = { deadline: 0, signal };
  const cpuPerCall = async (fn: () => unknown, n = 200_000): Promise<number> => {
    for (let i = 0; i < 20_000; i++) await fn();
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) await fn();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / n;
  };
  const handler = (_c: unknown, cb: grpc.sendUnaryData<unknown>): void => cb(null, msg, md);
  const metered = nodeServerMetrics(metrics, g.graph).service({ Predict: method }, { Predict: handler });
  const meteredHandler = metered.Predict;
  const noop = (): void => undefined;
  const rows: [string, () => unknown, () => unknown][] = [
    [
      'executor: NodeClient call (Seldon client histogram, split, in-flight)',
      () => bare.call(g.graph, 'predict', msg, opts),
      () => wrapped.call(g.graph, 'predict', msg, opts),
    ],
    [
      'node: unary handler (request + compute histograms, in-flight)',
      () => handler({}, noop),
      () => meteredHandler({}, noop),
    ],
  ];
  console.log('wrappers alone, CPU µs per call:            bare   metered   added');
  for (const [label, a, b] of rows) {
    const x = await cpuPerCall(a);
    const y = await cpuPerCall(b);
    console.log(
      `${label.padEnd(70)}${x.toFixed(2).padStart(6)}${y.toFixed(2).padStart(10)}${(y - x).toFixed(2).padStart(8)}`,
    );
  }
}

void main();
