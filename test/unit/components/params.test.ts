import os from 'node:os';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Params } from '../../../src/components/builtin/common';
import { averageWeights } from '../../../src/components/builtin/average-combiner';
import { jpegInputConfig } from '../../../src/components/builtin/jpeg-input';
import { onnxModelConfig } from '../../../src/components/builtin/onnx-model';
import { top1Config } from '../../../src/components/builtin/top1-output';
import { CollectingCallContext } from '../../../src/components/call-context';
import { loadComponentDefinition } from '../../../src/components/registry';
import type { ParamValue } from '../../../src/components/types';
import { ConfigError } from '../../../src/errors';
import { parseManifest } from '../../../src/graph/manifest';
import { createLogger } from '../../../src/util/logger';
import { values, vec } from '../../helpers/fake-client';

/** The parameters manifest validation makes of `given` for one node of `implementation` (schema defaults applied). */
function validated(implementation: string, type: string, given = ''): Record<string, ParamValue> {
  const g = parseManifest(
    `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: p}
spec:
  graph: {name: n, type: ${type}, implementation: ${implementation}${given ? `, parameters: {${given}}` : ''}}
`,
    '/tmp',
  );
  return g.graph.parameters;
}

describe('component parameters: defaults only in the schema', () => {
  it('Params reads the schema default when a value is absent, and refuses a name the schema lacks', () => {
    const schema = {
      n: { type: 'integer' as const, default: 7, description: '' },
      s: { type: 'string' as const, description: '' },
    };
    const p = new Params('c', {}, schema);
    assert.equal(p.integer('n', 1, 10), 7);
    assert.equal(p.optionalString('s'), undefined);
    assert.throws(
      () => p.string('s'),
      (e: unknown) => e instanceof ConfigError && e.message === "c: parameter 's' is required",
    );
    assert.throws(() => p.integer('nope'), /parameter 'nope' is not in its schema/);
    assert.equal(new Params('c', { n: '9' }, schema).integer('n', 1, 10), 9);
    assert.throws(
      () => new Params('c', { n: 11 }, schema).integer('n', 1, 10),
      /c: parameter 'n' must be an integer in 1\.\.10, got 11/,
    );
  });

  it('built-ins created directly get the same configuration as through a manifest', () => {
    assert.deepEqual(jpegInputConfig({}), jpegInputConfig(validated('jpeg-input', 'TRANSFORMER')));
    assert.deepEqual(jpegInputConfig({}), {
      resize: 256,
      crop: 224,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      maxPixels: 40_000_000,
      outputDtype: 'float32',
      failOn: 'truncated',
      exifOrientation: false,
      colourManagement: false,
      fastShrinkOnLoad: false,
      decoder: 'auto',
      maxDecodeBytes: 320 * 1024 * 1024,
      maxConcurrentDecodes: os.availableParallelism(),
    });
    assert.deepEqual(top1Config({}), top1Config(validated('top1-output', 'OUTPUT_TRANSFORMER')));
    assert.deepEqual(top1Config({}), { labels: undefined, softmax: false, topK: 1 });
    const model = validated('onnx-model', 'MODEL', 'model: /m.onnx, normalizeUint8: true');
    assert.deepEqual(onnxModelConfig({ model: '/m.onnx', normalizeUint8: true }), onnxModelConfig(model));
    assert.equal(onnxModelConfig({ model: '/m.onnx' }).intraOpThreads, 1);
    assert.equal(averageWeights({}), undefined);
  });

  it('test components created bare use their schema defaults', async () => {
    // A component created with no parameters beyond the required ones behaves as the validated manifest node does.
    const logger = createLogger('params-test', 'silent');
    const make = async (name: string, params: Record<string, ParamValue>) =>
      loadComponentDefinition(name).create(params, { nodeName: name, nodeType: 'MODEL', baseDir: '/tmp', logger });
    const scale = await make('scale', { factor: 2 });
    assert.deepEqual(
      values((await scale.predict?.(vec(1, 2), new CollectingCallContext())) ?? vec()),
      [2, 4],
      'offset defaults to 0',
    );
    const comb = await make('sum-combiner', {});
    assert.deepEqual(
      values((await comb.aggregate?.([vec(1), vec(3)], new CollectingCallContext())) ?? vec()),
      [4],
      "mode defaults to 'sum'",
    );
    const router = await make('fixed-router', {});
    assert.equal(await router.route?.(vec(1), new CollectingCallContext()), -1, 'route defaults to -1 (all children)');
    const fail = await make('fail', {});
    await assert.rejects(
      Promise.resolve(fail.predict?.(vec(1), new CollectingCallContext())),
      /fail: failing on purpose/,
    );
  });
});
