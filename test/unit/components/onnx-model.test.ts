import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Component } from '../../../src/components/api';
import { CollectingCallContext } from '../../../src/components/call-context';
import jpegInput from '../../../src/components/builtin/jpeg-input';
import { readMetadataProps } from '../../../src/components/builtin/onnx-metadata-props';
import onnxModel, { shapeMatches } from '../../../src/components/builtin/onnx-model';
import top1Output from '../../../src/components/builtin/top1-output';
import { Code } from '../../../src/errors';
import type { Payload } from '../../../src/message/message';
import {
  callContext,
  componentContext,
  configError,
  DEV_DIR,
  LABELS,
  MOBILENET,
  rejectsWith,
  sharedFile,
} from './helpers';
import { writeIdentityModel } from './onnx-fixture';

const model = async (params: Record<string, string | number | boolean>): Promise<Component> => {
  const c = await onnxModel.create(params, componentContext('MODEL', 'model'));
  await c.load?.();
  return c;
};

const f32 = (shape: number[], fill = 0): Payload => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { kind: 'tensor', tensor: { dtype: 'float32', shape, data: new Float32Array(n).fill(fill) } };
};

describe('onnx-model: shape matching', () => {
  it('symbolic dims take any positive size, fixed dims must be equal', () => {
    assert.ok(shapeMatches(['batch_size', 3, 224, 224], [1, 3, 224, 224]));
    assert.ok(shapeMatches(['batch_size', 3, 224, 224], [7, 3, 224, 224]));
    assert.ok(!shapeMatches(['batch_size', 3, 224, 224], [0, 3, 224, 224]));
    assert.ok(!shapeMatches(['batch_size', 3, 224, 224], [1, 3, 100, 100]));
    assert.ok(!shapeMatches(['batch_size', 3, 224, 224], [3, 224, 224]));
    assert.ok(shapeMatches(['', 4], [2, 4]));
  });
});

describe('onnx-model: hand-written fixture models', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'infergraph-onnx-'));
    writeIdentityModel(path.join(dir, 'synthetic.onnx'), {
      metadata: { 'infergraph.synthetic': 'true', 'infergraph.arch': 'x' },
    });
    writeIdentityModel(path.join(dir, 'real.onnx'), { shape: ['n', 4] });
    writeIdentityModel(path.join(dir, 'f64.onnx'), { elemType: 'float64', shape: [2, 3] });
    writeIdentityModel(path.join(dir, 'i64.onnx'), { elemType: 'int64', shape: ['n'] });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads metadata_props after the graph', async () => {
    assert.deepEqual(await readMetadataProps(path.join(dir, 'synthetic.onnx')), {
      'infergraph.synthetic': 'true',
      'infergraph.arch': 'x',
    });
    assert.deepEqual(await readMetadataProps(path.join(dir, 'real.onnx')), {});
  });

  it('tags responses synthetic: true only for synthetic models', async () => {
    const syn = await model({ model: path.join(dir, 'synthetic.onnx') });
    const ctx = callContext();
    const out = await syn.predict!(f32([2, 4], 1.5), ctx);
    assert.deepEqual(ctx.tags, { synthetic: true });
    assert.equal(out.kind, 'tensor');
    if (out.kind === 'tensor') {
      assert.deepEqual(out.tensor.shape, [2, 4]);
      assert.deepEqual(Array.from(out.tensor.data as Float32Array), Array(8).fill(1.5));
      assert.deepEqual(out.names, ['y']);
      assert.equal(out.encoding, 'tftensor');
    }
    const real = await model({ model: path.join(dir, 'real.onnx') });
    const ctx2 = callContext();
    await real.predict!(f32([1, 4]), ctx2);
    assert.deepEqual(ctx2.tags, {});
    await syn.close?.();
    await real.close?.();
  });

  it('softmax along the last axis', async () => {
    const m = await model({ model: path.join(dir, 'real.onnx'), softmax: true });
    const data = Float32Array.from([1, 2, 3, 4, 0, 0, 0, 0]);
    const out = await m.predict!({ kind: 'tensor', tensor: { dtype: 'float32', shape: [2, 4], data } }, callContext());
    assert.equal(out.kind, 'tensor');
    if (out.kind !== 'tensor') return;
    const p = Array.from(out.tensor.data as Float32Array);
    const e = [1, 2, 3, 4].map((x) => Math.exp(x - 4));
    const s = e.reduce((a, b) => a + b);
    e.forEach((v, i) => assert.ok(Math.abs((p[i] as number) - v / s) < 1e-6));
    p.slice(4).forEach((v) => assert.ok(Math.abs(v - 0.25) < 1e-7));
    await m.close?.();
  });

  it('float64 and int64 models keep their dtype; wrong dtype or shape is INVALID_ARGUMENT', async () => {
    const m64 = await model({ model: path.join(dir, 'f64.onnx') });
    const out = await m64.predict!(
      { kind: 'tensor', tensor: { dtype: 'float64', shape: [2, 3], data: new Float64Array(6).fill(0.25) } },
      callContext(),
    );
    assert.ok(out.kind === 'tensor' && out.tensor.dtype === 'float64');
    await rejectsWith(
      () => Promise.resolve(m64.predict!(f32([2, 3]), callContext())),
      Code.INVALID_ARGUMENT,
      "model input 'x' expects float64 [2,3], got float32 [2,3]",
    );
    await rejectsWith(
      () =>
        Promise.resolve(
          m64.predict!(
            { kind: 'tensor', tensor: { dtype: 'float64', shape: [3, 2], data: new Float64Array(6) } },
            callContext(),
          ),
        ),
      Code.INVALID_ARGUMENT,
      "model input 'x' expects float64 [2,3], got float64 [3,2]",
    );
    const i64 = await model({ model: path.join(dir, 'i64.onnx') });
    const out2 = await i64.predict!(
      { kind: 'tensor', tensor: { dtype: 'int64', shape: [3], data: BigInt64Array.from([1n, -2n, 3n]) } },
      callContext(),
    );
    assert.ok(out2.kind === 'tensor' && out2.tensor.dtype === 'int64');
    if (out2.kind === 'tensor') assert.deepEqual(Array.from(out2.tensor.data as BigInt64Array), [1n, -2n, 3n]);
    await m64.close?.();
    await i64.close?.();
  });

  it('configuration errors at load', async () => {
    await configError(() => model({ model: path.join(dir, 'missing.onnx') }), 'missing.onnx does not exist');
    await configError(
      () => model({ model: path.join(dir, 'real.onnx'), inputName: 'nope' }),
      "has no input 'nope' (inputs: x)",
    );
    await configError(
      () => model({ model: path.join(dir, 'real.onnx'), outputName: 'nope' }),
      "has no output 'nope' (outputs: y)",
    );
    await configError(
      () => model({ model: path.join(dir, 'i64.onnx'), softmax: true }),
      'softmax needs a floating-point output',
    );
    await configError(
      () => model({ model: path.join(dir, 'real.onnx'), graphOptimization: 'max' }),
      "parameter 'graphOptimization'",
    );
    await configError(() => model({}), "parameter 'model' is required");
    const notOnnx = path.join(dir, 'text.onnx');
    writeFileSync(notOnnx, 'this is not a model');
    await configError(() => model({ model: notOnnx }), 'cannot load model');
  });

  it('after close, predict is FAILED_PRECONDITION', async () => {
    const m = await model({ model: path.join(dir, 'real.onnx') });
    await m.close?.();
    await rejectsWith(
      () => Promise.resolve(m.predict!(f32([1, 4]), callContext())),
      Code.FAILED_PRECONDITION,
      'not loaded',
    );
  });

  it('does not start work for a request that is already gone', async () => {
    const m = await model({ model: path.join(dir, 'real.onnx') });
    const ac = new AbortController();
    ac.abort();
    await rejectsWith(
      () => Promise.resolve(m.predict!(f32([1, 4]), new CollectingCallContext(undefined, ac.signal))),
      Code.CANCELLED,
    );
    await rejectsWith(
      () => Promise.resolve(m.predict!(f32([1, 4]), new CollectingCallContext(undefined, undefined, Date.now() - 1))),
      Code.DEADLINE_EXCEEDED,
    );
    await m.close?.();
  });
});

describe('onnx-model: MobileNetV2 (../shared)', () => {
  const file = sharedFile(MOBILENET);
  let m: Component | undefined;
  before(async () => {
    if (file) m = await model({ model: file });
  });
  after(async () => m?.close?.());
  const need = (t: { skip: (msg: string) => void }): Component | undefined => {
    if (!m) t.skip(`missing ../shared/${MOBILENET}`);
    return m;
  };

  it('discovers input and output names, dtypes and shapes', (t) => {
    const mm = need(t);
    if (!mm) return;
    assert.deepEqual(mm.metadata?.(), {
      platform: 'onnxruntime',
      versions: ['mobilenetv2-12-int8.onnx'],
      inputs: [{ name: 'input', datatype: 'float32', shape: ['batch_size', 3, 224, 224] }],
      outputs: [{ name: 'output', datatype: 'float32', shape: ['batch_size', 1000] }],
    });
  });

  it('wrong dtype, wrong shape, non-tensor: INVALID_ARGUMENT with expected vs got', async (t) => {
    const mm = need(t);
    if (!mm) return;
    const call = (p: Payload) => () => Promise.resolve(mm.predict!(p, callContext()));
    await rejectsWith(
      call(f32([1, 3, 100, 100])),
      Code.INVALID_ARGUMENT,
      "model input 'input' expects float32 [batch_size,3,224,224], got float32 [1,3,100,100]",
    );
    await rejectsWith(
      call({
        kind: 'tensor',
        tensor: { dtype: 'uint8', shape: [1, 3, 224, 224], data: new Uint8Array(3 * 224 * 224) },
      }),
      Code.INVALID_ARGUMENT,
      "model input 'input' expects float32 [batch_size,3,224,224], got uint8 [1,3,224,224]",
    );
    await rejectsWith(
      call({ kind: 'bin', data: new Uint8Array(10) }),
      Code.INVALID_ARGUMENT,
      "model input 'input' expects a float32 [batch_size,3,224,224] tensor, got binData (10 bytes)",
    );
  });

  it('batch of 2 gives [2,1000]; raw scores, not probabilities', async (t) => {
    const mm = need(t);
    if (!mm) return;
    const out = await mm.predict!(f32([2, 3, 224, 224]), callContext());
    assert.ok(out.kind === 'tensor');
    if (out.kind !== 'tensor') return;
    assert.deepEqual(out.tensor.shape, [2, 1000]);
    assert.equal(out.tensor.dtype, 'float32');
    assert.deepEqual(out.names, ['output']);
  });

  it('a tensor viewing a larger buffer at an offset is used in place', async (t) => {
    const mm = need(t);
    if (!mm) return;
    const n = 3 * 224 * 224;
    const base = new Float32Array(n + 8);
    for (let i = 0; i < base.length; i++) base[i] = Math.sin(i / 1000);
    const view = new Float32Array(base.buffer, 32, n);
    const copy = Float32Array.from(view);
    const a = await mm.predict!(
      { kind: 'tensor', tensor: { dtype: 'float32', shape: [1, 3, 224, 224], data: view } },
      callContext(),
    );
    const b = await mm.predict!(
      { kind: 'tensor', tensor: { dtype: 'float32', shape: [1, 3, 224, 224], data: copy } },
      callContext(),
    );
    assert.ok(a.kind === 'tensor' && b.kind === 'tensor');
    if (a.kind === 'tensor' && b.kind === 'tensor') assert.deepEqual(a.tensor.data, b.tensor.data);
  });

  it('tench: jpeg-input -> onnx-model -> top1-output says index 0, tench', async (t) => {
    const mm = need(t);
    const image = sharedFile(`${DEV_DIR}/n01440764_tench.JPEG`);
    const labels = sharedFile(LABELS);
    if (!mm) return;
    if (!image || !labels) return t.skip(`missing ../shared/${DEV_DIR}/n01440764_tench.JPEG or ../shared/${LABELS}`);
    const pre = jpegInput.create({}, componentContext('TRANSFORMER')) as Component;
    const post = top1Output.create({ labels, softmax: true }, componentContext('OUTPUT_TRANSFORMER')) as Component;
    await post.load?.();
    const ctx = callContext();
    const x = await pre.transformInput!({ kind: 'bin', data: readFileSync(image) }, ctx);
    const y = await mm.predict!(x, ctx);
    const z = await post.transformOutput!(y, ctx);
    assert.equal(z.kind, 'json');
    if (z.kind !== 'json') return;
    const p = (z.data as { predictions: { index: number; label: string; wnid: string; score: number }[] })
      .predictions[0];
    assert.equal(p?.index, 0);
    assert.equal(p?.label, 'tench');
    assert.equal(p?.wnid, 'n01440764');
    assert.ok((p?.score ?? 0) > 0.5, `probability ${p?.score}`);
    assert.deepEqual(ctx.tags, { top1_index: 0, top1_label: 'tench' });
  });
});
