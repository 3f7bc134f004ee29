import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SeldonClient } from '../../src/client/seldon-client';
import { Code, InferError } from '../../src/errors';
import type { Payload } from '../../src/message/message';
import { serviceClientCtor } from '../../src/protocol/seldon/proto-loader';
import { toWire } from '../../src/protocol/seldon/seldon-message';
import { TIMELINE_HEADER, TIMELINE_TAG } from '../../src/telemetry/timeline';
import { parseTimeline } from '../../src/telemetry/waterfall';
import { fromNumbers } from '../../src/tensor/tensor';
import { HOP_TRANSPORTS, type HopTransport } from '../../src/graph/spec';
import { REPO, upGraph, type RunningGraph } from '../helpers/graph-process';
import { v2Client } from '../helpers/v2-client';
import {
  startJaegerAgent,
  startJaegerCollector,
  startOtlpGrpcReceiver,
  startOtlpHttpReceiver,
  type ReceivedSpan,
  type SpanReceiver,
} from '../helpers/span-receivers';

/**
 * Tracing across the 5-node test ensemble running as real processes (infergraph up), each exporter checked by a
 * receiver that decodes its real wire format. Per request: one trace, spans from all six processes, every node's
 * server span a child of the executor's client span for that hop, ctx.work() spans inside their node's span, and
 * errors marked on the failing node's spans and the executor's.
 */

const ENSEMBLE = path.join(REPO, 'graphs/test-ensemble.yaml');
const EXECUTOR = 'test-ensemble-executor';
/** node → [node type, implementation, the Seldon service/method the executor calls, the name of its ctx.work()] */
const NODES: Record<string, [string, string, string, string]> = {
  top1: ['OUTPUT_TRANSFORMER', 'scale', 'OutputTransformer/TransformOutput', 'scale'],
  preprocess: ['TRANSFORMER', 'scale', 'Transformer/TransformInput', 'scale'],
  ensemble: ['COMBINER', 'sum-combiner', 'Combiner/Aggregate', 'combine'],
  'model-a': ['MODEL', 'scale', 'Model/Predict', 'scale'],
  'model-b': ['MODEL', 'scale', 'Model/Predict', 'scale'],
};
/** executor server span + per node: the executor's client span, the node's server span, its work span */
const SPANS_PER_REQUEST = 1 + 3 * Object.keys(NODES).length;
/** Spans of different processes are compared on clocks that are not the same one. */
const CLOCK_SLACK_US = 5000;

const vec = (xs: number[]): Payload => ({ kind: 'tensor', tensor: fromNumbers('float32', [1, xs.length], xs) });
const newTraceId = (): string => randomBytes(16).toString('hex');
const newSpanId = (): string => randomBytes(8).toString('hex');

function traceIdOf(tags: Record<string, unknown>): string {
  const id = tags.trace_id;
  assert.equal(typeof id, 'string', `reply has no trace_id tag: ${JSON.stringify(tags)}`);
  assert.match(id as string, /^[0-9a-f]{32}$/);
  return id as string;
}

const inTrace = (spans: ReceivedSpan[], traceId: string): ReceivedSpan[] => spans.filter((s) => s.traceId === traceId);
const complete =
  (traceId: string, n = SPANS_PER_REQUEST) =>
  (spans: ReceivedSpan[]) =>
    inTrace(spans, traceId).length >= n;

function only(spans: ReceivedSpan[], what: string, pred: (s: ReceivedSpan) => boolean): ReceivedSpan {
  const found = spans.filter(pred);
  assert.equal(
    found.length,
    1,
    `expected exactly one ${what}, found ${found.length}: ${found.map((s) => `${s.service}:${s.name}`).join(', ')}`,
  );
  return found[0] as ReceivedSpan;
}

function within(inner: ReceivedSpan, outer: ReceivedSpan, slackUs: number, what: string): void {
  assert.ok(
    inner.startUs >= outer.startUs - slackUs && inner.endUs <= outer.endUs + slackUs,
    `${what}: [${inner.startUs}, ${inner.endUs}] not within [${outer.startUs}, ${outer.endUs}]`,
  );
}

/** The whole span tree of one successful ensemble request; returns the executor's server span. */
function checkEnsembleTrace(
  all: ReceivedSpan[],
  traceId: string,
  g: RunningGraph,
  transport: HopTransport = 'frames',
  rootName = 'seldon.protos.Seldon/Predict',
): ReceivedSpan {
  const spans = inTrace(all, traceId);
  assert.equal(
    spans.length,
    SPANS_PER_REQUEST,
    `spans of ${traceId}: ${spans.map((s) => `${s.service}:${s.name}`).join(', ')}`,
  );
  assert.deepEqual(new Set(spans.map((s) => s.service)), new Set([EXECUTOR, ...Object.keys(NODES)]));
  const root = only(spans, 'executor server span', (s) => s.service === EXECUTOR && s.kind === 'server');
  assert.equal(root.name, rootName);
  assert.equal(root.status.code, 'UNSET');
  assert.equal(root.resource['infergraph.node.type'], 'EXECUTOR');
  assert.equal(root.resource['process.pid'], g.procs.get(EXECUTOR)?.pid);
  for (const [node, [type, impl, method, work]] of Object.entries(NODES)) {
    const hop = only(
      spans,
      `client span for ${node}`,
      (s) => s.service === EXECUTOR && s.kind === 'client' && s.attributes['infergraph.node'] === node,
    );
    assert.equal(hop.name, `hop ${node} ${method}`);
    assert.equal(hop.parentSpanId, root.spanId, `hop ${node} is not a child of the executor's server span`);
    assert.equal(hop.attributes['rpc.method'], method.split('/')[1]);
    const system = transport === 'frames' ? 'infergraph-frames' : 'grpc';
    assert.equal(hop.attributes['rpc.system'], system, `hop ${node} went over the wrong transport`);
    assert.equal(hop.attributes['rpc.grpc.status_code'], 0);
    assert.equal(hop.attributes['infergraph.request.dtype'], 'float32');
    assert.equal(String(hop.attributes['infergraph.request.shape']), '1,4');
    // 4 float32 per message; the combiner gets one from each model.
    assert.equal(hop.attributes['infergraph.request.payload_bytes'], node === 'ensemble' ? 32 : 16);
    assert.equal(hop.attributes['infergraph.response.payload_bytes'], 16);
    assert.equal(typeof hop.attributes['infergraph.node.compute_us'], 'number');
    within(hop, root, 0, `hop ${node} inside the executor span`);

    const server = only(spans, `server span of ${node}`, (s) => s.service === node && s.kind === 'server');
    assert.equal(server.parentSpanId, hop.spanId, `${node}'s server span is not a child of the executor's hop span`);
    assert.equal(server.name, `seldon.protos.${method}`);
    assert.equal(server.attributes['rpc.system'], system);
    within(server, hop, CLOCK_SLACK_US, `${node}'s server span inside its hop`);
    assert.equal(server.resource['infergraph.graph'], 'test-ensemble');
    assert.equal(server.resource['infergraph.node.type'], type);
    assert.equal(server.resource['infergraph.node.implementation'], impl);
    assert.equal(server.resource['process.pid'], g.procs.get(node)?.pid, `${node}'s spans come from another process`);

    const compute = only(spans, `work span of ${node}`, (s) => s.service === node && s.kind === 'internal');
    assert.equal(compute.name, work);
    assert.equal(compute.parentSpanId, server.spanId, `${node}'s compute span is not inside its server span`);
    within(compute, server, 0, `${node}'s compute span inside its server span`);
  }
  return root;
}

/** A request the preprocess node rejects: its work span, its server span and the executor's two spans say so. */
function checkErrorTrace(all: ReceivedSpan[], traceId: string): void {
  const spans = inTrace(all, traceId);
  const services = new Set(spans.map((s) => s.service));
  assert.deepEqual(services, new Set([EXECUTOR, 'preprocess']), 'the walk stops at the failing node');
  const message = /INVALID_ARGUMENT: .*scale needs a numeric tensor, got strData/;
  const root = only(spans, 'executor server span', (s) => s.service === EXECUTOR && s.kind === 'server');
  const hop = only(spans, 'hop to preprocess', (s) => s.service === EXECUTOR && s.kind === 'client');
  const server = only(spans, 'preprocess server span', (s) => s.service === 'preprocess' && s.kind === 'server');
  const compute = only(spans, 'preprocess work span', (s) => s.service === 'preprocess' && s.kind === 'internal');
  assert.equal(hop.parentSpanId, root.spanId);
  assert.equal(server.parentSpanId, hop.spanId);
  assert.equal(compute.parentSpanId, server.spanId);
  for (const s of [root, hop, server, compute]) {
    assert.equal(s.status.code, 'ERROR', `${s.service}:${s.name} is not marked as an error`);
    assert.match(s.status.message ?? '', message, `${s.service}:${s.name}`);
    assert.equal(s.attributes['rpc.grpc.status_code'], Code.INVALID_ARGUMENT, `${s.service}:${s.name}`);
  }
}

async function failingRequest(client: SeldonClient, traceparent?: string): Promise<void> {
  const metadata = new grpc.Metadata();
  if (traceparent) metadata.set('traceparent', traceparent);
  const err = await client.predict({ kind: 'str', data: 'not a tensor' }, { metadata }).then(
    () => assert.fail('expected INVALID_ARGUMENT'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof InferError && err.code === Code.INVALID_ARGUMENT, String(err));
}

/** Predict through a bare grpc-js client, to see the response headers and trailers. */
function rawPredict(
  address: string,
  payload: Payload,
  metadata = new grpc.Metadata(),
): Promise<{ headers: grpc.Metadata; trailers: grpc.Metadata; error?: grpc.ServiceError }> {
  const Ctor = serviceClientCtor('Seldon');
  const c = new Ctor(address, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    let headers = new grpc.Metadata();
    let error: grpc.ServiceError | undefined;
    const call = (
      c as unknown as {
        predict: (r: object, md: grpc.Metadata, cb: (e: grpc.ServiceError | null) => void) => grpc.ClientUnaryCall;
      }
    ).predict(
      toWire({ meta: { puid: '', tags: {}, routing: {}, requestPath: {}, metrics: [] }, payload }, 'tftensor'),
      metadata,
      (e) => (error = e ?? undefined),
    );
    call.on('metadata', (md: grpc.Metadata) => (headers = md));
    call.on('status', (s: grpc.StatusObject) => {
      c.close();
      resolve({ headers, trailers: s.metadata, ...(error ? { error } : {}) });
    });
  });
}

// Spans leave each process every 50 ms here instead of every second, to keep the test fast.
const FAST_EXPORT = { OTEL_BSP_SCHEDULE_DELAY: '50' };

/** The span tree must be the same whichever hop transport the executor uses. */
for (const hop of HOP_TRANSPORTS) {
  describe(`tracing over OTLP/gRPC (infergraph up --trace-exporter otlp-grpc, hops over ${hop})`, () => {
    let receiver: SpanReceiver;
    let g: RunningGraph;
    let client: SeldonClient;
    before(async () => {
      receiver = await startOtlpGrpcReceiver();
      const args = ['--trace-exporter', 'otlp-grpc', '--trace-endpoint', receiver.endpoint, '--hop-transport', hop];
      g = await upGraph(ENSEMBLE, args, FAST_EXPORT);
      client = new SeldonClient(g.address);
    });
    after(async () => {
      client?.close();
      await g?.stop();
      await receiver?.close();
    });

    it('gives each request one complete, correctly parented trace with spans from all six processes', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push(traceIdOf((await client.predict(vec([1, 2, 3, 4]))).meta.tags));
      assert.equal(new Set(ids).size, 3, 'requests share a trace');
      for (const id of ids) await receiver.waitFor(complete(id), 15_000, `trace ${id}`);
      for (const id of ids) {
        const root = checkEnsembleTrace(receiver.spans, id, g, hop);
        assert.equal(root.parentSpanId, undefined, 'the executor started this trace');
      }
    });

    it("continues the client's W3C traceparent and Jaeger uber-trace-id", async () => {
      const [w3cTrace, w3cParent] = [newTraceId(), newSpanId()];
      const md = new grpc.Metadata();
      md.set('traceparent', `00-${w3cTrace}-${w3cParent}-01`);
      assert.equal(traceIdOf((await client.predict(vec([1, 2, 3, 4]), { metadata: md })).meta.tags), w3cTrace);

      const [uberTrace, uberParent] = [newTraceId(), newSpanId()];
      const md2 = new grpc.Metadata();
      md2.set('uber-trace-id', `${uberTrace}:${uberParent}:0:1`);
      assert.equal(traceIdOf((await client.predict(vec([1, 2, 3, 4]), { metadata: md2 })).meta.tags), uberTrace);

      await receiver.waitFor((s) => complete(w3cTrace)(s) && complete(uberTrace)(s));
      assert.equal(checkEnsembleTrace(receiver.spans, w3cTrace, g, hop).parentSpanId, w3cParent);
      assert.equal(checkEnsembleTrace(receiver.spans, uberTrace, g, hop).parentSpanId, uberParent);
    });

    it("follows the caller's decision not to sample, in every process", async () => {
      const unsampled = newTraceId();
      const md = new grpc.Metadata();
      md.set('traceparent', `00-${unsampled}-${newSpanId()}-00`);
      assert.equal(traceIdOf((await client.predict(vec([1]), { metadata: md })).meta.tags), unsampled);
      // A sampled request after it: once all of its spans are in, the unsampled one's would be too.
      const sampled = traceIdOf((await client.predict(vec([1, 2, 3, 4]))).meta.tags);
      await receiver.waitFor(complete(sampled));
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(inTrace(receiver.spans, unsampled), []);
    });

    it("marks an error on the failing node's spans and on the executor's", async () => {
      const traceId = newTraceId();
      await failingRequest(client, `00-${traceId}-${newSpanId()}-01`);
      await receiver.waitFor(complete(traceId, 4), 15_000, 'the error trace');
      await new Promise((r) => setTimeout(r, 100));
      checkErrorTrace(receiver.spans, traceId);
    });

    it('a V2 ModelInfer continues the traceparent through every process and answers with trace_id', async () => {
      const [traceId, parent] = [newTraceId(), newSpanId()];
      const md = new grpc.Metadata();
      md.set('traceparent', `00-${traceId}-${parent}-01`);
      const v2 = v2Client(g.address);
      try {
        const res = await v2.call<{ parameters: Record<string, { string_param?: string }> }>(
          'ModelInfer',
          {
            model_name: 'test-ensemble',
            inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [1, 2, 3, 4] } }],
          },
          10_000,
          md,
        );
        assert.equal(res.parameters.trace_id?.string_param, traceId);
      } finally {
        v2.close();
      }
      await receiver.waitFor(complete(traceId), 15_000, `V2 trace ${traceId}`);
      assert.deepEqual(
        inTrace(receiver.spans, traceId)
          .filter((s) => s.parentSpanId === parent)
          .map((s) => s.name),
        ['inference.GRPCInferenceService/ModelInfer'],
      );
    });

    it('a REST inference continues the traceparent: one server span, the hops inside it, x-trace-id', async () => {
      const line = g.stdout.find((l) => /^rest \S+ at http:\/\/\S+$/.test(l));
      assert.ok(line, 'no REST URL printed');
      const url = line.split(' ').pop() as string;
      const [traceId, parent] = [newTraceId(), newSpanId()];
      // V2's FP32 (Seldon's JSON forms are float64): the spans' tensor attributes are the gRPC requests' ones.
      const res = await fetch(`${url}/v2/models/test-ensemble/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${parent}-01` },
        body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(res.headers.get('x-trace-id'), traceId);
      await receiver.waitFor(complete(traceId), 15_000, `REST trace ${traceId}`);
      const root = checkEnsembleTrace(receiver.spans, traceId, g, hop, 'POST /v2/models/:model/infer');
      assert.equal(root.parentSpanId, parent);
      assert.equal(root.attributes['http.response.status_code'], 200);
      assert.equal(root.attributes['http.route'], '/v2/models/:model/infer');
      // Seldon's door too; a refused request (bad JSON) still gets its span and trace id, and a 4xx is the client's
      // error, not the server's (OpenTelemetry's HTTP conventions).
      const bad = await fetch(`${url}/api/v1.0/predictions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{not json',
      });
      assert.equal(bad.status, 400);
      const badId = bad.headers.get('x-trace-id') ?? '';
      assert.match(badId, /^[0-9a-f]{32}$/);
      await receiver.waitFor((spans) => inTrace(spans, badId).length === 1, 15_000, 'the refused request');
      const [span] = inTrace(receiver.spans, badId);
      assert.equal(span?.attributes['http.response.status_code'], 400);
      assert.equal(span?.status.code, 'UNSET');
    });

    it('returns the trace id in the x-trace-id header, and in the trailer of an error', async () => {
      const ok = await rawPredict(g.address, vec([1]));
      assert.equal(ok.error, undefined);
      assert.match(String(ok.headers.get('x-trace-id')[0]), /^[0-9a-f]{32}$/);
      const failed = await rawPredict(g.address, { kind: 'str', data: 'x' });
      assert.equal(failed.error?.code, grpc.status.INVALID_ARGUMENT);
      const id = failed.trailers.get('x-trace-id')[0] ?? failed.headers.get('x-trace-id')[0];
      assert.match(String(id), /^[0-9a-f]{32}$/);
    });

    it('returns the per-hop timeline when asked (predict --trace), alongside the trace id', async () => {
      const md = new grpc.Metadata();
      md.set(TIMELINE_HEADER, '1');
      const reply = await client.predict(vec([1, 2, 3, 4]), { metadata: md });
      traceIdOf(reply.meta.tags);
      const t = parseTimeline(reply.meta.tags[TIMELINE_TAG]);
      assert.ok(t, 'no timeline in the reply');
      assert.deepEqual(t.hops.map((h) => h.node).sort(), Object.keys(NODES).sort());
      for (const h of t.hops)
        assert.ok(
          h.compute_ms !== undefined && h.transport_ms !== undefined && h.compute_ms <= h.duration_ms,
          JSON.stringify(h),
        );
    });
  });
}

describe('tracing over OTLP/HTTP protobuf, configured by spec.tracing in the manifest', () => {
  let receiver: SpanReceiver & { errors: string[] };
  let g: RunningGraph;
  let client: SeldonClient;
  let dir: string;
  before(async () => {
    receiver = await startOtlpHttpReceiver();
    dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-tracing-'));
    const base = receiver.endpoint.replace(/\/v1\/traces$/, '');
    const manifest = readFileSync(ENSEMBLE, 'utf8').replace(
      /^spec:\n/m,
      `spec:\n  tracing:\n    exporter: otlp-http\n    endpoint: ${base}\n    sampleRatio: 1\n`,
    );
    writeFileSync(path.join(dir, 'traced.yaml'), manifest);
    g = await upGraph(path.join(dir, 'traced.yaml'), [], FAST_EXPORT);
    client = new SeldonClient(g.address);
  });
  after(async () => {
    client?.close();
    await g?.stop();
    await receiver?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('delivers complete traces of ensemble requests and of an error', async () => {
    const id = traceIdOf((await client.predict(vec([1, 2, 3, 4]))).meta.tags);
    const errorTrace = newTraceId();
    await failingRequest(client, `00-${errorTrace}-${newSpanId()}-01`);
    await receiver.waitFor((s) => complete(id)(s) && complete(errorTrace, 4)(s));
    await new Promise((r) => setTimeout(r, 100));
    checkEnsembleTrace(receiver.spans, id, g);
    checkErrorTrace(receiver.spans, errorTrace);
    assert.deepEqual(receiver.errors, []);
  });
});

describe('tracing to Jaeger (thrift) with @opentelemetry/exporter-jaeger', () => {
  it('collector over HTTP: spans still buffered when the graph stops are flushed, none lost', async () => {
    const receiver = await startJaegerCollector();
    // A one-minute export delay: every span below reaches the collector only through the flush at shutdown.
    const g = await upGraph(ENSEMBLE, ['--trace-exporter', 'jaeger', '--trace-endpoint', receiver.endpoint], {
      OTEL_BSP_SCHEDULE_DELAY: '60000',
    });
    const client = new SeldonClient(g.address);
    let ids: string[] = [];
    const errorTrace = newTraceId();
    try {
      ids = [
        traceIdOf((await client.predict(vec([1, 2, 3, 4]))).meta.tags),
        traceIdOf((await client.predict(vec([5, 6, 7, 8]))).meta.tags),
      ];
      await failingRequest(client, `00-${errorTrace}-${newSpanId()}-01`);
      assert.equal(receiver.spans.length, 0, 'spans were exported before shutdown: the flush is not what is tested');
    } finally {
      client.close();
      await g.stop();
    }
    try {
      await receiver.waitFor(
        (s) => ids.every((id) => complete(id)(s)) && complete(errorTrace, 4)(s),
        5000,
        'flushed spans',
      );
      for (const id of ids) checkEnsembleTrace(receiver.spans, id, g);
      checkErrorTrace(receiver.spans, errorTrace);
      assert.deepEqual(receiver.errors, []);
      // Process tags carry the resource: which graph, which kind of node.
      const model = receiver.spans.find((s) => s.service === 'model-a');
      assert.equal(model?.resource['infergraph.graph'], 'test-ensemble');
      assert.equal(model?.resource['infergraph.node.type'], 'MODEL');
    } finally {
      await receiver.close();
    }
  });

  it('agent over UDP', async () => {
    const receiver = await startJaegerAgent();
    const g = await upGraph(
      ENSEMBLE,
      ['--trace-exporter', 'jaeger', '--trace-endpoint', receiver.endpoint],
      FAST_EXPORT,
    );
    const client = new SeldonClient(g.address);
    try {
      const id = traceIdOf((await client.predict(vec([1, 2, 3, 4]))).meta.tags);
      await receiver.waitFor(complete(id));
      checkEnsembleTrace(receiver.spans, id, g);
      assert.deepEqual(receiver.errors, []);
    } finally {
      client.close();
      await g.stop();
      await receiver.close();
    }
  });
});

describe('tracing off (no spec.tracing, no OTEL_* variables)', () => {
  it('returns no trace id, and the hop timeline still works', async () => {
    const g = await upGraph(ENSEMBLE, [], { OTEL_TRACES_EXPORTER: '' });
    const client = new SeldonClient(g.address);
    try {
      const plain = await client.predict(vec([1, 2, 3, 4]));
      assert.equal(plain.meta.tags.trace_id, undefined);
      assert.equal(plain.meta.tags[TIMELINE_TAG], undefined, 'a timeline nobody asked for');
      const md = new grpc.Metadata();
      md.set(TIMELINE_HEADER, '1');
      const t = parseTimeline((await client.predict(vec([1, 2, 3, 4]), { metadata: md })).meta.tags[TIMELINE_TAG]);
      assert.ok(t);
      assert.equal(t.hops.length, 5);
      // Seldon order: preprocess, then both models in parallel, the combiner, top1 last.
      assert.equal(t.hops[0]?.node, 'preprocess');
      assert.equal(t.hops[4]?.node, 'top1');
      const ens = t.hops.find((h) => h.node === 'ensemble');
      for (const m of t.hops.filter((h) => h.node.startsWith('model-')))
        assert.ok(m.start_ms + m.duration_ms <= (ens?.start_ms ?? 0) + 0.01);
      const raw = await rawPredict(g.address, vec([1]));
      assert.equal(raw.headers.get('x-trace-id').length, 0);
    } finally {
      client.close();
      await g.stop();
    }
  });
});
