import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Code, InferError } from '../../src/errors';
import { parseManifest } from '../../src/graph/manifest';
import { findNode, type GraphSpec, type NodeSpec } from '../../src/graph/spec';
import { emptyMeta } from '../../src/message/message';
import { ComponentHost } from '../../src/node/component-host';
import { createLogger } from '../../src/util/logger';
import { values, vec } from '../helpers/fake-client';

const MANIFEST = `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: host-test}
spec:
  graph:
    name: router
    type: ROUTER
    implementation: fixed-router
    parameters: {route: 1}
    children:
      - name: double
        type: MODEL
        implementation: scale
        parameters: {factor: 2}
      - name: comb
        type: COMBINER
        implementation: sum-combiner
        children: [{name: one, type: MODEL, implementation: identity}]
`;

const logger = createLogger('host-test', 'silent');
const g: GraphSpec = parseManifest(MANIFEST, '/');
const at = (name: string): NodeSpec => findNode(g, name) as NodeSpec;
const call = () => ({
  meta: { ...emptyMeta('p-1'), tags: { upstream: 'x' } },
  signal: new AbortController().signal,
  deadline: Date.now() + 5000,
});

describe('ComponentHost', () => {
  it('invokes by method, answers with only what the node added to meta, and times the component', async () => {
    const host = await ComponentHost.create(g, at('double'), { logger });
    try {
      const { message, computeUs } = await host.invoke('predict', vec(1, 2), call());
      assert.deepEqual(values(message), [2, 4]);
      assert.equal(message.meta.puid, 'p-1');
      assert.deepEqual(message.meta.tags, {}, "upstream tags are the caller's to merge, not echoed");
      assert.deepEqual(message.meta.metrics, [{ key: 'double_calls', type: 'COUNTER', value: 1 }]);
      assert.ok(Number.isInteger(computeUs) && computeUs >= 0, String(computeUs));
    } finally {
      await host.close();
    }
  });

  it("answers a router's route as Seldon's [[N]] tensor", async () => {
    const host = await ComponentHost.create(g, at('router'), { logger });
    const { message } = await host.invoke('route', vec(0), call());
    assert.equal(message.payload.kind === 'tensor' && message.payload.tensor.shape.join(), '1,1');
    assert.deepEqual(values(message), [1]);
  });

  it('aggregates the payload list', async () => {
    const host = await ComponentHost.create(g, at('comb'), { logger });
    const { message } = await host.invoke('aggregate', [vec(1, 2), vec(10, 20)], call());
    assert.deepEqual(values(message), [11, 22]);
  });

  it('a method the component lacks is UNIMPLEMENTED naming node and method, as fields too', async () => {
    const host = await ComponentHost.create(g, at('double'), { logger });
    await assert.rejects(host.invoke('aggregate', [vec(1)], call()), (e: unknown) => {
      assert.ok(e instanceof InferError);
      assert.equal(e.code, Code.UNIMPLEMENTED);
      assert.equal(e.message, 'double: component does not implement aggregate');
      assert.deepEqual([e.node, e.method], ['double', 'aggregate']);
      return true;
    });
    // A component's own error keeps its code and message and gains the hop.
    await assert.rejects(host.invoke('predict', { kind: 'str', data: 'x' }, call()), (e: unknown) => {
      assert.ok(e instanceof InferError);
      assert.equal(e.code, Code.INVALID_ARGUMENT);
      assert.match(e.message, /double: scale needs a numeric tensor, got strData/);
      assert.deepEqual([e.node, e.method], ['double', 'predict']);
      return true;
    });
  });

  it('reports metadata under the node name, and lets the caller adjust parameters before create', async () => {
    const host = await ComponentHost.create(g, at('double'), {
      logger,
      parameters: (def, params) => (def.name === 'scale' ? { ...params, factor: 3 } : params),
    });
    assert.deepEqual(host.metadata(), { name: 'double', platform: '', versions: [], inputs: [], outputs: [] });
    assert.deepEqual(values((await host.invoke('predict', vec(1), call())).message), [3]);
    assert.equal(at('double').parameters.factor, 2, 'the spec itself is not changed');
  });
});
