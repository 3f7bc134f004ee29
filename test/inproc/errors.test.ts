import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Code, InferError } from '../../src/errors';
import { emptyMeta, type InferMessage } from '../../src/message/message';
import { executorPredictWire } from '../../src/protocol/hop-codec';
import { values, vec } from '../helpers/fake-client';
import { PROBE, startInProcGraph, type InProcGraph } from '../helpers/inproc-graph';
import { probeRecords } from '../helpers/probe-component';

/**
 * Failure behaviour through real node servers and the real executor in this process: a node's status reaches the
 * client with the node and method, deadlines and sibling cancellation reach the nodes, message limits hold, and
 * metadata is collected through the executor. The probe component records what arrived at the node.
 */

const MANIFEST = `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: inproc-errors}
spec:
  deadlineMs: 3000
  maxMessageBytes: 65536
  graph:
    name: pick
    type: ROUTER
    implementation: fixed-router
    parameters: {route: 0}
    children:
      - name: both
        type: COMBINER
        implementation: sum-combiner
        children:
          - {name: slow, type: MODEL, implementation: ${PROBE}, parameters: {ms: 2000}}
          - name: broken
            type: MODEL
            implementation: fail
            parameters: {code: 9, message: model is not warmed up, delayMs: 20}
      - {name: sleepy, type: MODEL, implementation: ${PROBE}, parameters: {ms: 1500}}
      - {name: small, type: MODEL, implementation: identity, runtime: {maxMessageBytes: 4096}}
      - name: pre
        type: TRANSFORMER
        implementation: scale
        parameters: {factor: 2}
        children: [{name: after-pre, type: MODEL, implementation: identity}]
`;

const routed = (route: number, xs: number[]): InferMessage => ({
  meta: { ...emptyMeta(), tags: { route } },
  payload: vec(...xs),
});

async function rejects(p: Promise<unknown>): Promise<InferError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof InferError, `expected an InferError, got ${String(err)}`);
    return err;
  }
  return assert.fail('expected the request to fail');
}

/** Waits until the probe records of `node` show the call ended (aborted or finished), or fails after `ms`. */
async function probeEnded(node: string, ms = 3000): Promise<{ aborted: boolean; deadline: number | undefined }> {
  const until = Date.now() + ms;
  for (;;) {
    const rec = probeRecords().find((r) => r.node === node);
    if (rec?.finished) return rec;
    if (Date.now() > until) return assert.fail(`probe ${node}: ${rec ? 'still running' : 'never called'}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('in-process graph over gRPC: errors, deadlines, limits, metadata', () => {
  let g: InProcGraph;
  before(async () => {
    g = await startInProcGraph(MANIFEST, { clientMaxMessageBytes: 4 * 1024 * 1024 });
  });
  after(() => g?.close());
  beforeEach(() => probeRecords().splice(0));

  it("a node's INVALID_ARGUMENT reaches the client with its message, node and method", async () => {
    const err = await rejects(
      g.client.predict({ meta: { ...emptyMeta(), tags: { route: 3 } }, payload: { kind: 'str', data: 'hello' } }),
    );
    assert.equal(err.code, Code.INVALID_ARGUMENT);
    assert.match(
      err.message,
      /node 'pre' \(Transformer\/TransformInput\): pre: scale needs a numeric tensor, got strData/,
    );
    assert.equal(err.node, 'pre');
    assert.equal(err.method, 'transformInput');
    assert.deepEqual(values(await g.client.predict(routed(3, [4]))), [8], 'still serving');
  });

  it("a component's error from its own bundled copy of the package keeps its status code", async () => {
    const err = await rejects(
      g.client.predict({ meta: { ...emptyMeta(), tags: { route: 1, foreign: true } }, payload: vec(1) }),
    );
    assert.equal(err.code, Code.RESOURCE_EXHAUSTED, err.message);
    assert.match(err.message, /node 'sleepy' \(Model\/Predict\): sleepy: queue full \(bundled copy\)/);
    assert.deepEqual([err.node, err.method], ['sleepy', 'predict']);
  });

  it("a failing node's own status comes back and its slow sibling is cancelled at the node", async () => {
    const t0 = performance.now();
    const err = await rejects(g.client.predict(routed(0, [1])));
    assert.equal(err.code, Code.FAILED_PRECONDITION);
    assert.match(err.message, /node 'broken' \(Model\/Predict\): broken: model is not warmed up/);
    assert.deepEqual([err.node, err.method], ['broken', 'predict']);
    assert.ok(performance.now() - t0 < 1500, 'the walk waited for the slow sibling');
    const slow = await probeEnded('slow');
    assert.equal(slow.aborted, true, 'the sibling was not cancelled at its node');
  });

  it("the client's deadline reaches the node, which is aborted when it passes", async () => {
    const t0 = Date.now();
    const err = await rejects(g.client.predict(routed(1, [1]), { timeoutMs: 300 }));
    assert.equal(err.code, Code.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - t0 < 1200);
    const rec = await probeEnded('sleepy');
    assert.equal(rec.aborted, true);
    assert.ok(
      rec.deadline !== undefined && Math.abs(rec.deadline - (t0 + 300)) < 250,
      `node saw deadline ${rec.deadline} for ${t0 + 300}`,
    );
  });

  it("the graph's default deadline (spec.deadlineMs) reaches the node when the client sends none", async () => {
    const wire = executorPredictWire();
    const raw = new grpc.Client(g.address, grpc.credentials.createInsecure());
    try {
      const t0 = Date.now();
      const reply = await new Promise<unknown>((resolve, reject) =>
        raw.makeUnaryRequest(
          wire.path,
          wire.serialize,
          wire.deserialize,
          wire.encode(routed(1, [5])),
          new grpc.Metadata(),
          {},
          (err, r) => (err ? reject(err) : resolve(r)),
        ),
      );
      assert.deepEqual(values(wire.decode(reply)), [5]);
      const rec = await probeEnded('sleepy');
      assert.equal(rec.aborted, false);
      assert.ok(
        rec.deadline !== undefined && Math.abs(rec.deadline - (t0 + 3000)) < 250,
        `node saw deadline ${rec.deadline} for ${t0 + 3000}`,
      );
    } finally {
      raw.close();
    }
  });

  it("a client's longer deadline passes through to the node", async () => {
    const t0 = Date.now();
    assert.deepEqual(values(await g.client.predict(routed(1, [5]), { timeoutMs: 60_000 })), [5]);
    const rec = await probeEnded('sleepy');
    assert.ok(rec.deadline !== undefined && rec.deadline > t0 + 50_000, String(rec.deadline));
  });

  it('message limits: executor and node answer RESOURCE_EXHAUSTED naming the limit, and keep serving', async () => {
    const overGraph = await rejects(
      g.client.predict(
        routed(
          2,
          Array.from({ length: 20_000 }, (_, i) => i),
        ),
      ),
    );
    assert.equal(overGraph.code, Code.RESOURCE_EXHAUSTED);
    assert.match(overGraph.message, /65536/);
    // Over the node's 4096 plus the hop envelope (src/protocol/hop-envelope.ts, ~17 KB here), under the graph's 64 KiB.
    const overNode = await rejects(
      g.client.predict(
        routed(
          2,
          Array.from({ length: 8000 }, (_, i) => i),
        ),
      ),
    );
    assert.equal(overNode.code, Code.RESOURCE_EXHAUSTED);
    assert.match(overNode.message, /node 'small'.*(runtime.maxMessageBytes 4096 |over the message limit of \d+)/);
    assert.deepEqual([overNode.node, overNode.method], ['small', 'predict']);
    assert.deepEqual(values(await g.client.predict(routed(2, [3]))), [3]);
  });

  it('GraphMetadata lists the models and transformers with what each node reports', async () => {
    const md = await g.client.graphMetadata();
    assert.equal(md.name, 'inproc-errors');
    assert.deepEqual(Object.keys(md.models ?? {}).sort(), ['after-pre', 'broken', 'pre', 'sleepy', 'slow', 'small']);
    const slow = md.models?.slow;
    assert.equal(slow?.platform, 'probe');
    assert.deepEqual(slow?.versions, ['7']);
    assert.deepEqual(slow?.inputs, [{ messagetype: 'tensor', name: 'x', datatype: 'FP32', shape: [-1, 4] }]);
    assert.deepEqual(md.inputs, [{ messagetype: 'binData' }]);
  });

  it('GraphMetadata is best effort: a node that is gone is listed by its implementation', async () => {
    // A graph of its own, so stopping a node does not disturb the tests above.
    const h = await startInProcGraph(`apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: gone}
spec:
  graph:
    name: pre
    type: TRANSFORMER
    implementation: ${PROBE}
    children: [{name: m, type: MODEL, implementation: identity}]
`);
    try {
      await h.nodes.get('pre')?.close();
      const t0 = performance.now();
      const md = await h.client.graphMetadata();
      assert.ok(performance.now() - t0 < 2500, 'waited longer than the metadata deadline');
      const pre = md.models?.pre;
      // Empty repeated fields do not travel in proto3: absent means none.
      assert.deepEqual([pre?.name, pre?.platform, pre?.inputs ?? [], pre?.outputs ?? []], ['pre', PROBE, [], []]);
      assert.equal(md.models?.m?.name, 'm');
    } finally {
      await h.close();
    }
  });
});
