import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Progress } from '../client/progress';
import { GrpcNodeClient } from '../executor/grpc-node-client';
import { loadManifestFile } from '../graph/manifest';
import type { GraphSpec, HopCodec } from '../graph/spec';
import { emptyMeta, type InferMessage } from '../message/message';
import { hopWire } from '../protocol/hop-codec';
import { Supervisor, type Transport } from '../runner/supervisor';
import { tensorBytes } from '../tensor/tensor';
import type { Logger } from '../util/logger';
import { shapedTensor } from './input';
import { summarize, type Summary } from './stats';
import { CHART_CSS, esc, stackedBars } from './svg';

/**
 * `infergraph bench hop`: the cost of one hop per codec (seed 000's Figure 1, ours). One `identity` node runs in its
 * own process, started by the Supervisor as in a graph; this process calls it the way the executor does
 * (GrpcNodeClient) with a tensor — by default float32 1×3×224×224, the 602,112-byte ImageNet input — one call at a
 * time. Per-hop overhead = round trip − the node's compute (its trailer): both encodings of the request and of the
 * echoed reply, HTTP/2 and both event loops. Codecs take turns in rounds so drift on a shared machine hits all alike.
 */

export const ALL_CODECS: readonly HopCodec[] = ['tftensor', 'flatbuffers', 'tensor', 'ndarray'];

export interface HopBenchOptions {
  shape: number[];
  codecs: HopCodec[];
  transports: Transport[];
  /** measured seconds per codec and transport, spread over `rounds` */
  durationS: number;
  warmupS: number;
  rounds: number;
  logger: Logger;
  progress: boolean;
  outDir?: string;
  command: string;
}

export interface HopResult {
  transport: Transport;
  codec: HopCodec;
  requestBytes: number;
  calls: number;
  roundTrip: Summary;
  compute: Summary;
  overhead: Summary;
  echoOk: boolean;
}

export interface HopReport {
  kind: 'infergraph-bench-hop';
  startedAt: string;
  command: string;
  machine: { cpus: number; cpuModel: string; node: string };
  tensor: string;
  tensorBytes: number;
  results: HopResult[];
}

interface Entry {
  client?: GrpcNodeClient;
  compute: number[];
  rtt: number[];
  echoOk: boolean;
  last?: number;
}

const MANIFEST = `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: hop-bench}
spec:
  maxMessageBytes: 268435456
  graph: {name: echo, type: MODEL, implementation: identity}
`;

function sameTensor(a: InferMessage, b: InferMessage): boolean {
  const pa = a.payload;
  const pb = b.payload;
  if (pa.kind !== 'tensor' || pb.kind !== 'tensor' || pa.tensor.dtype === 'string' || pb.tensor.dtype === 'string') return false;
  if (pa.tensor.shape.join() !== pb.tensor.shape.join()) return false;
  // Seldon's `tensor` and `ndarray` carry doubles: compare values, not bytes.
  const x = pa.tensor.data as ArrayLike<number>;
  const y = pb.tensor.data as ArrayLike<number>;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (Math.fround(x[i] as number) !== Math.fround(y[i] as number)) return false;
  return true;
}

export async function runHopBench(o: HopBenchOptions): Promise<HopReport> {
  const input = shapedTensor(o.shape);
  const msg: InferMessage = { meta: emptyMeta('hop-bench'), payload: input.payload };
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'infergraph-hop-'));
  const file = path.join(tmp, 'hop.yaml');
  writeFileSync(file, MANIFEST);
  const base = loadManifestFile(file);
  const planned = o.transports.length * (o.warmupS + o.durationS * o.codecs.length + 1);
  const bar = o.progress ? new Progress(Math.max(1, Math.round(planned)), 'bench hop') : undefined;
  const t0 = performance.now();
  const tick = (label: string): void => bar?.update(Math.min(Math.round(planned) - 1, Math.round((performance.now() - t0) / 1000)), label);
  const results: HopResult[] = [];
  try {
    for (const transport of o.transports) {
      const sup = new Supervisor({ graph: base, manifestPath: file, executorAddress: '127.0.0.1:0', transport, logger: o.logger, childArgs: ['--log-level', 'warn'] });
      const info = await sup.start();
      const node = base.graph;
      const address = info.processes.find((p) => p.name === node.name)?.address as string;
      try {
        const clients = new Map<HopCodec, Entry>();
        for (const codec of o.codecs) {
          const graph: GraphSpec = { ...base, codec };
          const entry: Entry = { compute: [], rtt: [], echoOk: false };
          // The observer hears the node's compute trailer of each call; calls are sequential, so `last` is ours.
          entry.client = new GrpcNodeClient(graph, { [node.name]: address }, (_n, _m, _ms, computeUs) => (entry.last = computeUs));
          clients.set(codec, entry);
        }
        const call = async (codec: HopCodec, record: boolean): Promise<void> => {
          const c = clients.get(codec) as Required<Pick<Entry, 'client'>> & Entry;
          c.last = undefined;
          const s = performance.now();
          const reply = await c.client.call(node, 'predict', msg, { deadline: Date.now() + 60_000, signal: new AbortController().signal });
          const rtt = performance.now() - s;
          if (!c.echoOk) {
            c.echoOk = sameTensor(msg, reply);
            if (!c.echoOk) throw new Error(`${codec}: the echoed tensor differs from the one sent`);
          }
          if (record) {
            c.rtt.push(rtt);
            c.compute.push((c.last ?? 0) / 1000);
          }
        };
        const forMs = async (codec: HopCodec, ms: number, record: boolean): Promise<void> => {
          const until = performance.now() + ms;
          do await call(codec, record);
          while (performance.now() < until);
        };
        for (const codec of o.codecs) {
          tick(`${transport} warm-up ${codec}`);
          await forMs(codec, (o.warmupS * 1000) / o.codecs.length, false);
        }
        for (let r = 0; r < o.rounds; r++) {
          for (const codec of o.codecs) {
            tick(`${transport} round ${r + 1}/${o.rounds} ${codec}`);
            await forMs(codec, (o.durationS * 1000) / o.rounds, true);
          }
        }
        for (const codec of o.codecs) {
          const c = clients.get(codec) as Entry;
          const wire = hopWire(codec, 'predict');
          results.push({
            transport,
            codec,
            requestBytes: wire.serialize(wire.encode(msg)).byteLength,
            calls: c.rtt.length,
            roundTrip: summarize(c.rtt),
            compute: summarize(c.compute),
            overhead: summarize(c.rtt.map((x, i) => x - (c.compute[i] as number))),
            echoOk: c.echoOk,
          });
          c.client?.close();
        }
      } finally {
        await sup.stop();
      }
    }
  } finally {
    bar?.update(Math.max(1, Math.round(planned)), 'done');
    rmSync(tmp, { recursive: true, force: true });
  }
  const t = input.payload.kind === 'tensor' && input.payload.tensor.dtype !== 'string' ? tensorBytes(input.payload.tensor).byteLength : 0;
  const report: HopReport = {
    kind: 'infergraph-bench-hop',
    startedAt: new Date().toISOString(),
    command: o.command,
    machine: { cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version },
    tensor: input.description,
    tensorBytes: t,
    results,
  };
  if (o.outDir) {
    mkdirSync(o.outDir, { recursive: true });
    writeFileSync(path.join(o.outDir, 'hop-report.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(path.join(o.outDir, 'hop-report.html'), renderHopHtml(report));
  }
  return report;
}

const f2 = (x: number): string => x.toFixed(3);

export function renderHopMarkdown(r: HopReport): string {
  const lines = [
    `Tensor: ${r.tensor}, one call at a time through an identity node (request and echoed reply both carry it).`,
    '',
    '| transport | codec | request bytes | calls | round trip p50 ms | mean ms | p99 ms | node compute p50 ms | overhead p50 ms | overhead mean ms | overhead p99 ms |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.results.map(
      (x) =>
        `| ${x.transport} | ${x.codec} | ${x.requestBytes} | ${x.calls} | ${f2(x.roundTrip.p50)} | ${f2(x.roundTrip.mean)} | ${f2(x.roundTrip.p99)} | ${f2(x.compute.p50)} | ${f2(x.overhead.p50)} | ${f2(x.overhead.mean)} | ${f2(x.overhead.p99)} |`,
    ),
  ];
  return lines.join('\n');
}

function renderHopHtml(r: HopReport): string {
  const rows = r.results.map((x) => ({
    label: `${x.transport} ${x.codec}`,
    segments: [
      { name: 'overhead (p50)', value: x.overhead.p50 },
      { name: 'node compute (p50)', value: x.compute.p50 },
    ],
    note: `${x.roundTrip.p50.toFixed(2)} ms`,
  }));
  const md = renderHopMarkdown(r)
    .split('\n')
    .filter((l) => l.startsWith('|') && !l.startsWith('|---'))
    .map((l, i) => `<tr>${l.split('|').slice(1, -1).map((c) => (i ? `<td>${esc(c.trim())}</td>` : `<th>${esc(c.trim())}</th>`)).join('')}</tr>`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>infergraph bench hop</title><style>
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1100px; padding: 0 16px; }
table { border-collapse: collapse; font-size: 13px; } th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: right; } th { background: #f4f4f4; }
${CHART_CSS}</style></head><body>
<h1>Per-hop cost by codec</h1><p>${esc(r.startedAt)} · ${r.machine.cpus} × ${esc(r.machine.cpuModel)} · Node ${esc(r.machine.node)}</p><pre>${esc(r.command)}</pre>
<p>${esc(r.tensor)} through one identity node, one call at a time.</p>
${stackedBars({ title: 'Round trip (p50): overhead and node compute', unit: 'ms', rows, width: 860 })}
<table>${md}</table></body></html>
`;
}
