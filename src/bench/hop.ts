import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Progress } from '../client/progress';
import { FramedNodeClient } from '../executor/framed-node-client';
import { GrpcNodeClient } from '../executor/grpc-node-client';
import { loadManifestFile } from '../graph/manifest';
import type { HopOptions, NodeClient } from '../graph/node-client';
import type { HopCodec, HopTransport, NodeSpec } from '../graph/spec';
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
 * echoed reply, the wire (gRPC's HTTP/2 or frames) and both event loops. Hop transports and codecs take turns in
 * rounds so drift on a shared machine hits all alike.
 */

export interface HopBenchOptions {
  shape: number[];
  codecs: HopCodec[];
  modes: HopMode[];
  transports: Transport[];
  /** gRPC and/or frames between this process and the node, compared in the same rounds */
  hopTransports: HopTransport[];
  /** idle ms before each measured call: 0 measures the hot path; tens of ms, what a graph node idle between requests pays */
  gapsMs: number[];
  /** measured seconds per codec and transport, spread over `rounds` */
  durationS: number;
  warmupS: number;
  rounds: number;
  logger: Logger;
  progress: boolean;
  outDir?: string;
  command: string;
  nodeFlags?: readonly string[];
}

export interface HopResult {
  transport: Transport;
  hop: HopTransport;
  mode: HopMode;
  codec: HopCodec;
  /** idle time before each measured call */
  gapMs: number;
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
  /** V8 flags of the node process and of this client */
  nodeFlags: string[];
  tensor: string;
  tensorBytes: number;
  results: HopResult[];
}

interface Entry {
  client: NodeClient;
  compute: number[];
  rtt: number[];
  checked: boolean;
  last?: number;
}

export type HopMode = 'echo' | 'one-way';

/**
 * Two nodes: `echo` (identity) answers with the tensor it got, like a transformer; `sink` (a router that always
 * answers "no route", a [1,1] tensor) takes the tensor and answers almost nothing, like a model taking an image.
 */
const MANIFEST = `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: hop-bench}
spec:
  maxMessageBytes: 268435456
  graph:
    name: sink
    type: ROUTER
    implementation: fixed-router
    parameters: {route: -2}
    children: [{name: echo, type: MODEL, implementation: identity}]
`;

function sameTensor(a: InferMessage, b: InferMessage): boolean {
  const pa = a.payload;
  const pb = b.payload;
  if (pa.kind !== 'tensor' || pb.kind !== 'tensor' || pa.tensor.dtype === 'string' || pb.tensor.dtype === 'string')
    return false;
  if (pa.tensor.shape.join() !== pb.tensor.shape.join()) return false;
  // Seldon's `tensor` and `ndarray` carry doubles: compare values, not bytes.
  const x = pa.tensor.data as ArrayLike<number>;
  const y = pb.tensor.data as ArrayLike<number>;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (Math.fround(x[i] as number) !== Math.fround(y[i] as number)) return false;
  return true;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runHopBench(o: HopBenchOptions): Promise<HopReport> {
  const input = shapedTensor(o.shape);
  const msg: InferMessage = { meta: emptyMeta('hop-bench'), payload: input.payload };
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'infergraph-hop-'));
  const file = path.join(tmp, 'hop.yaml');
  writeFileSync(file, MANIFEST);
  const base = loadManifestFile(file);
  const cases = o.hopTransports.flatMap((hop) =>
    o.modes.flatMap((mode) => o.codecs.map((codec) => ({ hop, mode, codec, key: `${hop} ${mode} ${codec}` }))),
  );
  const planned = o.transports.length * (o.warmupS + o.durationS * cases.length * o.gapsMs.length + 1);
  const bar = o.progress ? new Progress(Math.max(1, Math.round(planned)), 'bench hop') : undefined;
  const t0 = performance.now();
  const tick = (label: string): void =>
    bar?.update(Math.min(Math.round(planned) - 1, Math.round((performance.now() - t0) / 1000)), label);
  const results: HopResult[] = [];
  try {
    for (const transport of o.transports) {
      // Nodes listen for frames too when asked to; they serve gRPC either way.
      const sup = new Supervisor({
        graph: { ...base, hopTransport: o.hopTransports.includes('frames') ? 'frames' : 'grpc' },
        manifestPath: file,
        executorAddress: '127.0.0.1:0',
        transport,
        logger: o.logger,
        childArgs: ['--log-level', 'warn'],
        ...(o.nodeFlags ? { nodeFlags: o.nodeFlags } : {}),
      });
      const info = await sup.start();
      const sink = base.graph;
      const echo = base.graph.children[0] as NodeSpec;
      const addresses = Object.fromEntries(info.processes.map((p) => [p.name, p.address]));
      const framesAddresses = Object.fromEntries(
        info.processes.filter((p) => p.framesAddress).map((p) => [p.name, p.framesAddress as string]),
      );
      const clients = new Map<string, GrpcNodeClient | FramedNodeClient>();
      for (const codec of o.codecs) {
        for (const hop of o.hopTransports) {
          const g = { ...base, codec };
          clients.set(
            `${hop} ${codec}`,
            hop === 'frames' ? new FramedNodeClient(g, framesAddresses) : new GrpcNodeClient(g, addresses),
          );
        }
      }
      try {
        for (const gap of o.gapsMs) {
          const entries = new Map<string, Entry>(
            cases.map((c) => [
              c.key,
              { client: clients.get(`${c.hop} ${c.codec}`) as NodeClient, compute: [], rtt: [], checked: false },
            ]),
          );
          const call = async (key: string, mode: HopMode, record: boolean): Promise<void> => {
            const e = entries.get(key) as Entry;
            const hop: HopOptions = { deadline: Date.now() + 60_000, signal: new AbortController().signal };
            const s = performance.now();
            const { message: reply, computeUs: last } =
              mode === 'echo'
                ? await e.client.call(echo, 'predict', msg, hop)
                : await e.client.call(sink, 'route', msg, hop);
            const rtt = performance.now() - s;
            if (!e.checked) {
              const ok =
                mode === 'echo'
                  ? sameTensor(msg, reply)
                  : reply.payload.kind === 'tensor' && reply.payload.tensor.data.length === 1;
              if (!ok) throw new Error(`${key}: unexpected reply (${reply.payload.kind})`);
              e.checked = true;
            }
            if (record) {
              e.rtt.push(rtt);
              e.compute.push((last ?? 0) / 1000);
            }
          };
          const forMs = async (key: string, mode: HopMode, ms: number, record: boolean): Promise<void> => {
            const until = performance.now() + ms;
            do {
              if (record && gap > 0) await sleep(gap);
              await call(key, mode, record);
            } while (performance.now() < until);
          };
          if (gap === o.gapsMs[0]) {
            for (const c of cases) {
              tick(`${transport} warm-up ${c.key}`);
              await forMs(c.key, c.mode, (o.warmupS * 1000) / cases.length, false);
            }
          }
          for (let r = 0; r < o.rounds; r++) {
            for (const c of cases) {
              tick(`${transport} gap ${gap} ms round ${r + 1}/${o.rounds} ${c.key}`);
              await forMs(c.key, c.mode, (o.durationS * 1000) / o.rounds, true);
            }
          }
          for (const c of cases) {
            const e = entries.get(c.key) as Entry;
            const wire = hopWire(c.codec, c.mode === 'echo' ? 'predict' : 'route');
            results.push({
              transport,
              hop: c.hop,
              mode: c.mode,
              codec: c.codec,
              gapMs: gap,
              requestBytes: wire.serialize(wire.encode(msg)).byteLength,
              calls: e.rtt.length,
              roundTrip: summarize(e.rtt),
              compute: summarize(e.compute),
              overhead: summarize(e.rtt.map((x, i) => x - (e.compute[i] as number))),
              echoOk: e.checked,
            });
          }
        }
      } finally {
        clients.forEach((c) => c.close());
        await sup.stop();
      }
    }
  } finally {
    bar?.update(Math.max(1, Math.round(planned)), 'done');
    rmSync(tmp, { recursive: true, force: true });
  }
  const t =
    input.payload.kind === 'tensor' && input.payload.tensor.dtype !== 'string'
      ? tensorBytes(input.payload.tensor).byteLength
      : 0;
  const report: HopReport = {
    kind: 'infergraph-bench-hop',
    startedAt: new Date().toISOString(),
    command: o.command,
    machine: { cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version },
    nodeFlags: [...(o.nodeFlags ?? process.execArgv)],
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
    `Tensor: ${r.tensor}, one call at a time. echo: the tensor goes to the node and comes back; one-way: it goes to the node, a [1,1] answer comes back.`,
    '',
    '| socket | hop transport | mode | codec | gap ms | request bytes | calls | round trip p50 ms | mean ms | p99 ms | overhead p50 ms | overhead mean ms | overhead p99 ms |',
    '|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.results.map(
      (x) =>
        `| ${x.transport} | ${x.hop} | ${x.mode} | ${x.codec} | ${x.gapMs} | ${x.requestBytes} | ${x.calls} | ${f2(x.roundTrip.p50)} | ${f2(x.roundTrip.mean)} | ${f2(x.roundTrip.p99)} | ${f2(x.overhead.p50)} | ${f2(x.overhead.mean)} | ${f2(x.overhead.p99)} |`,
    ),
  ];
  return lines.join('\n');
}

function renderHopHtml(r: HopReport): string {
  const rows = r.results.map((x) => ({
    label: `${x.transport} ${x.hop} ${x.mode} ${x.codec}${x.gapMs ? ` gap ${x.gapMs}` : ''}`,
    segments: [
      { name: 'overhead (p50)', value: x.overhead.p50 },
      { name: 'node compute (p50)', value: x.compute.p50 },
    ],
    note: `${x.roundTrip.p50.toFixed(2)} ms`,
  }));
  const md = renderHopMarkdown(r)
    .split('\n')
    .filter((l) => l.startsWith('|') && !l.startsWith('|---'))
    .map(
      (l, i) =>
        `<tr>${l
          .split('|')
          .slice(1, -1)
          .map((c) => (i ? `<td>${esc(c.trim())}</td>` : `<th>${esc(c.trim())}</th>`))
          .join('')}</tr>`,
    )
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>infergraph bench hop</title><style>
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1100px; padding: 0 16px; }
table { border-collapse: collapse; font-size: 13px; } th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: right; } th { background: #f4f4f4; }
${CHART_CSS}</style></head><body>
<h1>Per-hop cost by hop transport and codec</h1><p>${esc(r.startedAt)} · ${r.machine.cpus} × ${esc(r.machine.cpuModel)} · Node ${esc(r.machine.node)}</p><pre>${esc(r.command)}</pre>
<p>${esc(r.tensor)} through one identity node, one call at a time.</p>
${stackedBars({ title: 'Round trip (p50): overhead and node compute', unit: 'ms', rows, width: 860 })}
<table>${md}</table></body></html>
`;
}
