import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUILTIN_LOADERS } from '../../../src/components/builtin/index';

const loaded = (pkg: string): boolean =>
  Object.keys(require.cache).some((k) => k.includes(`${'/node_modules/'}${pkg}/`));

describe('BUILTIN_LOADERS', () => {
  it('loads lazily: the combiner and top1 need neither sharp nor onnxruntime', () => {
    // Each test file runs in its own process, so nothing else has loaded them yet.
    assert.equal(loaded('sharp'), false);
    const combiner = BUILTIN_LOADERS['average-combiner']?.();
    const top1 = BUILTIN_LOADERS['top1-output']?.();
    assert.equal(combiner?.name, 'average-combiner');
    assert.equal(top1?.name, 'top1-output');
    assert.equal(loaded('sharp'), false);
    assert.equal(loaded('onnxruntime-node'), false);
  });

  it('every built-in is a ComponentDefinition named as its key', () => {
    const types: Record<string, string[]> = {
      'jpeg-input': ['TRANSFORMER'],
      'onnx-model': ['MODEL'],
      'average-combiner': ['COMBINER'],
      'top1-output': ['OUTPUT_TRANSFORMER'],
      'epsilon-greedy': ['ROUTER'],
      'thompson-sampling': ['ROUTER'],
    };
    assert.deepEqual(Object.keys(BUILTIN_LOADERS).sort(), Object.keys(types).sort());
    for (const [name, load] of Object.entries(BUILTIN_LOADERS)) {
      const def = load();
      assert.equal(def.name, name);
      assert.deepEqual([...def.types], types[name]);
      assert.equal(typeof def.create, 'function');
      for (const [p, schema] of Object.entries(def.parameters))
        assert.ok(schema.description, `${name}.${p} has a description`);
    }
    assert.ok(loaded('sharp'));
    // onnx-model runs onnxruntime only in its worker threads: the node's main thread never loads it.
    assert.equal(loaded('onnxruntime-node'), false);
  });
});
