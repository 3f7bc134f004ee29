import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { after, before, describe, it } from 'node:test';
import { emptyMeta, type InferMessage } from '../../src/message/message';
import { TIMELINE_HEADER, TIMELINE_TAG } from '../../src/telemetry/timeline';
import { parseTimeline } from '../../src/telemetry/waterfall';
import { values, vec } from '../helpers/fake-client';
import { startInProcGraph, type InProcGraph } from '../helpers/inproc-graph';
import { assertTestEnsembleMeta } from '../helpers/ensemble-meta';

/**
 * Every topology of the walk through real node servers and the real executor in this process, over loopback gRPC:
 * what test/unit/executor.test.ts proves against a fake client, here with the wire, the node runtime and the
 * status mapping in the loop.
 */

const manifest = (graph: string, spec = ''): string => `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: inproc}
spec:
${spec}  graph:
${graph.replace(/^/gm, '    ')}
`;

// top1 (OUTPUT_TRANSFORMER 8x+1) → preprocess (TRANSFORMER 2x) → ensemble (mean) → [model-a 3·, model-b 5·]
const ENSEMBLE = `name: top1
type: OUTPUT_TRANSFORMER
implementation: scale
parameters: {factor: 1, offset: 1}
children:
  - name: preprocess
    type: TRANSFORMER
    implementation: scale
    parameters: {factor: 2}
    children:
      - name: ensemble
        type: COMBINER
        implementation: sum-combiner
        parameters: {mode: mean}
        children:
          - {name: model-a, type: MODEL, implementation: scale, parameters: {factor: 3}}
          - {name: model-b, type: MODEL, implementation: scale, parameters: {factor: 5}}`;

const ROUTER = `name: pick
type: ROUTER
implementation: fixed-router
parameters: {route: 1}
children:
  - {name: first, type: MODEL, implementation: scale, parameters: {factor: 10}}
  - {name: second, type: MODEL, implementation: scale, parameters: {factor: 100}}`;

const routed = (route: number, xs: number[]): InferMessage => ({
  meta: { ...emptyMeta(), tags: { route } },
  payload: vec(...xs),
});

for (const codec of ['tftensor', 'flatbuffers'] as const) {
  describe(`in-process graph over gRPC (${codec}): transformer, combiner, output transformer`, () => {
    let g: InProcGraph;
    before(async () => {
      g = await startInProcGraph(manifest(ENSEMBLE, `  codec: ${codec}\n`));
    });
    after(() => g?.close());

    it('walks the ensemble: 8x + 1', async () => {
      const reply = await g.client.predict(vec(1, 2));
      assert.deepEqual(values(reply), [9, 17]);
    });

    it('merges meta from every node, combiner included', async () => {
      const reply = await g.client.predict({ meta: emptyMeta('puid-1'), payload: vec(1) });
      assert.equal(reply.meta.puid, 'puid-1');
      assertTestEnsembleMeta(reply.meta);
    });

    it('a request that asks for its timeline gets every hop with the node compute time', async () => {
      const md = new grpc.Metadata();
      md.set(TIMELINE_HEADER, '1');
      const reply = await g.client.predict(vec(1), { metadata: md });
      const timeline = parseTimeline(reply.meta.tags[TIMELINE_TAG]);
      assert.ok(timeline, 'no timeline');
      assert.deepEqual(timeline.hops.map((h) => `${h.node}.${h.method}`).sort(), [
        'ensemble.aggregate',
        'model-a.predict',
        'model-b.predict',
        'preprocess.transformInput',
        'top1.transformOutput',
      ]);
      for (const h of timeline.hops)
        assert.ok(h.compute_ms !== undefined && h.compute_ms <= h.duration_ms, JSON.stringify(h));
    });
  });
}

describe('in-process graph over gRPC: router', () => {
  let g: InProcGraph;
  before(async () => {
    g = await startInProcGraph(manifest(ROUTER));
  });
  after(() => g?.close());

  it("routes to the router's child N, and a request tag overrides the route", async () => {
    const viaParam = await g.client.predict(vec(1));
    assert.deepEqual(values(viaParam), [100]);
    assert.deepEqual(viaParam.meta.routing, { pick: 1 });
    assert.deepEqual(Object.keys(viaParam.meta.requestPath).sort(), ['pick', 'second']);
    assert.deepEqual(values(await g.client.predict(routed(0, [1]))), [10]);
  });

  it('-1 sends to all children (the answer is the first one), -2 to none (the answer is the input)', async () => {
    const all = await g.client.predict(routed(-1, [2]));
    assert.deepEqual(values(all), [20]);
    assert.deepEqual(Object.keys(all.meta.requestPath).sort(), ['first', 'pick', 'second']);
    const none = await g.client.predict(routed(-2, [2]));
    assert.deepEqual(values(none), [2]);
    assert.deepEqual(Object.keys(none.meta.requestPath), ['pick']);
  });
});
