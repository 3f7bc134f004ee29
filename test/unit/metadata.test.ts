import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ModelMetadata } from '../../src/components/api';
import { Code, InferError } from '../../src/errors';
import { collectModelMetadata, METADATA_TIMEOUT_MS } from '../../src/graph/metadata';
import { TimelineRecorder } from '../../src/telemetry/timeline';
import { FakeClient, sleep } from '../helpers/fake-client';
import { graph, node } from '../helpers/spec';

const meta = (name: string, platform = 'onnx'): ModelMetadata => ({
  name,
  platform,
  versions: ['1'],
  inputs: [{ name: 'input', datatype: 'FP32', shape: ['batch_size', 3, 224, 224] }],
  outputs: [{ name: 'output', datatype: 'FP32', shape: ['batch_size', 1000] }],
});

// top1 (OUTPUT_TRANSFORMER) → pre (TRANSFORMER) → ens (COMBINER) → [a, b] (MODEL)
const ensemble = graph(
  node('top1', 'OUTPUT_TRANSFORMER', [
    node('pre', 'TRANSFORMER', [node('ens', 'COMBINER', [node('a', 'MODEL'), node('b', 'MODEL')])]),
  ]),
);

describe('model metadata through the NodeClient (fake)', () => {
  it('asks the MODEL and TRANSFORMER nodes only, all at once, with one short deadline', async () => {
    const c = new FakeClient({}, { pre: () => meta('pre', 'sharp'), a: () => meta('a'), b: () => meta('b') });
    const before = Date.now();
    const models = await collectModelMetadata(ensemble, c);
    assert.deepEqual(Object.keys(models), ['pre', 'a', 'b']);
    assert.deepEqual(models.a, meta('a'));
    assert.equal(models.pre?.platform, 'sharp');
    assert.deepEqual(
      c.metadataCalls.map((x) => x.node),
      ['pre', 'a', 'b'],
    );
    for (const { opts } of c.metadataCalls) {
      assert.ok(
        opts.deadline >= before + METADATA_TIMEOUT_MS && opts.deadline <= Date.now() + METADATA_TIMEOUT_MS,
        String(opts.deadline),
      );
    }
    assert.equal(new Set(c.metadataCalls.map((x) => x.opts.deadline)).size, 1, 'one deadline for the whole answer');
  });

  it('is best effort: a node that fails or is slow is listed with its implementation and no tensors', async () => {
    const c = new FakeClient(
      {},
      {
        pre: () => {
          throw new InferError(Code.UNAVAILABLE, 'pre is down');
        },
        a: () => meta('a'),
        // Never answers within the deadline (a real client gives DEADLINE_EXCEEDED).
        b: async (opts) => {
          await sleep(Math.max(0, opts.deadline - Date.now()) + 5);
          throw new InferError(Code.DEADLINE_EXCEEDED, 'b: deadline');
        },
      },
    );
    const t0 = Date.now();
    const models = await collectModelMetadata(ensemble, c, 50);
    assert.ok(Date.now() - t0 < 1000, 'a slow node bounds the answer by the deadline, not longer');
    assert.deepEqual(models.pre, { name: 'pre', versions: [], platform: 'fake', inputs: [], outputs: [] });
    assert.deepEqual(models.b, { name: 'b', versions: [], platform: 'fake', inputs: [], outputs: [] });
    assert.deepEqual(models.a, meta('a'));
  });

  it('a timeline recorder passes metadata through to the client it wraps', async () => {
    const c = new FakeClient({}, { a: () => meta('a') });
    assert.deepEqual(
      await new TimelineRecorder(c).metadata(node('a', 'MODEL'), {
        deadline: Date.now() + 1000,
        signal: new AbortController().signal,
      }),
      meta('a'),
    );
    assert.deepEqual(
      c.metadataCalls.map((x) => x.node),
      ['a'],
    );
  });
});
