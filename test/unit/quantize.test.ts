// The int8 quantizer: scale arithmetic, the QDQ graph it writes, the ONNX reader/writer round trip, that
// onnxruntime really runs the result with int8 kernels, and fp32-vs-int8 agreement on a small CNN.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { buildModel } from '../../src/modelgen/generate';
import {
  decodeModel,
  ElemType,
  encodeModel,
  floatValues,
  type ModelObj,
  readModel,
} from '../../src/modelgen/onnx-file';
import {
  activationParams,
  calibrationModel,
  planQuantization,
  quantize,
  quantizeBias,
  quantizeWeights,
  type Range,
} from '../../src/modelgen/quantize';
import { quantizeFile } from '../../src/modelgen/quantize-model';
import { buildSmallCnn } from '../../src/modelgen/small-cnn';
import { CLI, SHARED } from '../helpers/graph-process';

const DEV = path.join(SHARED, 'imagenet', 'dev');

describe('quantizer: scales', () => {
  it('uint8 activation parameters: range widened to hold 0 exactly', () => {
    const p = activationParams({ min: -1, max: 3 });
    assert.ok(Math.abs(p.scale - 4 / 255) < 1e-12);
    assert.equal(p.zeroPoint, 64); // round(1 / (4/255)) = round(63.75)
    assert.deepEqual(activationParams({ min: 2, max: 5 }), { scale: 5 / 255, zeroPoint: 0 });
    assert.equal(activationParams({ min: -4, max: -1 }).zeroPoint, 255);
    assert.deepEqual(activationParams({ min: 0, max: 0 }), { scale: 1, zeroPoint: 0 });
  });

  it('int8 weights: symmetric per output channel, ±127, error at most half a step', () => {
    // Conv weight [2 out, 1 in, 1, 2]: channel 0 spans ±1, channel 1 ±0.25.
    const w = Float32Array.from([1, -0.3, 0.25, 0.1]);
    const { q, scales } = quantizeWeights(w, [2, 1, 1, 2], 0);
    assert.deepEqual(Array.from(scales), [1 / 127, 0.25 / 127].map(Math.fround));
    assert.deepEqual(Array.from(q), [127, -38, 127, 51]);
    // Gemm with transB = 0 ([K=2, N=3]): channels are along axis 1.
    const g = Float32Array.from([1, 2, -4, -0.5, 0.1, 3]);
    const r = quantizeWeights(g, [2, 3], 1);
    assert.deepEqual(Array.from(r.scales), [1 / 127, 2 / 127, 4 / 127].map(Math.fround));
    r.q.forEach((v, i) => {
      const s = r.scales[i % 3] as number;
      assert.ok(Math.abs(v * s - (g[i] as number)) <= s / 2 + 1e-7, `element ${i}`);
    });
    // An all-zero channel gets scale 1, not 0 (DequantizeLinear would divide nothing, but a 0 scale is invalid).
    assert.deepEqual(Array.from(quantizeWeights(new Float32Array(2), [2, 1], 0).scales), [1, 1]);
  });

  it('int32 bias with scale = input scale x weight scale', () => {
    const { q, scales } = quantizeBias(Float32Array.from([0.5, -0.02]), 0.1, Float32Array.from([0.01, 0.002]));
    assert.deepEqual(Array.from(q), [500, -100]);
    [0.001, 0.0002].forEach((v, i) => assert.ok(Math.abs((scales[i] as number) - v) < 1e-9));
  });
});

describe('quantizer: ONNX reader/writer', () => {
  it('decode then encode gives back the same bytes (generator output) and the same model', () => {
    const bytes = buildSmallCnn({ size: 16, width: 4 });
    const m = decodeModel(bytes);
    const again = encodeModel(m);
    assert.ok(again.equals(bytes), 'byte-identical round trip');
    assert.deepEqual(decodeModel(again).graph.node, m.graph.node);
    assert.throws(() => decodeModel(Buffer.from('not a model at all, really not')), /is not an ONNX model/);
  });
});

describe('quantizer: QDQ graph', () => {
  let fp32: ModelObj;
  let q: ModelObj;
  before(() => {
    fp32 = decodeModel(buildSmallCnn({ size: 16, width: 8, blocks: 1 }));
    const plan = planQuantization(fp32);
    // Made-up ranges: the structure does not depend on their values.
    const ranges = new Map<string, Range>(plan.calibrate.map((t, i) => [t, { min: -1 - i / 100, max: 2 + i / 100 }]));
    q = quantize(fp32, plan, ranges).model;
  });

  it('folds BatchNorm into Convs (a pre-activation BN becomes a depthwise 1x1 Conv) and Relu into Conv/Add', () => {
    const ops = (m: ModelObj): string[] => m.graph.node.map((n) => n.op_type);
    const count = (m: ModelObj, op: string): number => ops(m).filter((o) => o === op).length;
    assert.equal(count(fp32, 'BatchNormalization'), 4);
    assert.equal(count(q, 'BatchNormalization'), 0);
    const dw = q.graph.node.find((n) => n.name === 'dense.norm');
    assert.equal(dw?.op_type, 'Conv', 'dense.norm (after the residual block, not a Conv) is a depthwise Conv');
    assert.equal(dw?.attribute?.find((a) => a.name === 'group')?.i, 8);
    assert.equal(count(fp32, 'Relu'), 4);
    assert.equal(count(q, 'Relu'), 0);
  });

  it('every Conv/Gemm reads dequantised int8 weights, int32 bias and a dequantised input, and feeds only a Q', () => {
    const g = q.graph;
    const producer = (t: string) => g.node.find((n) => n.output.includes(t));
    const init = (t: string) => g.initializer.find((i) => i.name === t);
    for (const n of g.node.filter((x) => x.op_type === 'Conv' || x.op_type === 'Gemm')) {
      const [x, w, b] = n.input.map((t) => producer(t));
      assert.equal(x?.op_type, 'DequantizeLinear', `${n.name} input`);
      assert.equal(w?.op_type, 'DequantizeLinear', `${n.name} weight`);
      assert.equal(init(w.input[0] as string)?.data_type, ElemType.INT8);
      // dense.conv has no bias (no BN after it); every other Conv got one from its folded BN.
      if (n.name !== 'dense.conv') {
        assert.equal(b?.op_type, 'DequantizeLinear', `${n.name} bias`);
        assert.equal(init(b.input[0] as string)?.data_type, ElemType.INT32);
      }
      const wq = init(w.input[0] as string)!;
      const channels = wq.dims[0] as number; // Conv [out, in, kh, kw]; Gemm with transB = 1 [out, in]
      assert.equal(init(w.input[1] as string)?.dims[0], channels, 'one weight scale per output channel');
      assert.deepEqual(
        Array.from(floatValues(init(w.input[1] as string)!)).every((s) => s > 0),
        true,
      );
      const consumers = g.node.filter((c) => c.input.includes(n.output[0] as string));
      assert.deepEqual(
        consumers.map((c) => c.op_type),
        ['QuantizeLinear'],
        `${n.name} output`,
      );
    }
  });

  it('keeps the graph input and output names; activations are uint8; nodes in topological order', () => {
    const g = q.graph;
    assert.deepEqual(
      g.input.map((i) => i.name),
      ['input'],
    );
    assert.deepEqual(
      g.output.map((o) => o.name),
      ['output'],
    );
    assert.equal(g.node.find((n) => n.output.includes('output'))?.op_type, 'DequantizeLinear');
    const zps = g.node
      .filter((n) => n.op_type === 'QuantizeLinear')
      .map((n) => g.initializer.find((i) => i.name === n.input[2]));
    assert.ok(zps.length > 5 && zps.every((z) => z?.data_type === ElemType.UINT8));
    const seen = new Set([...g.input.map((i) => i.name), ...g.initializer.map((i) => i.name)]);
    for (const n of g.node) {
      for (const x of n.input) assert.ok(!x || seen.has(x), `${n.name} reads ${x} before it is produced`);
      n.output.forEach((o) => seen.add(o));
    }
  });

  it('refuses a model below opset 11 and names what blocks an upgrade to 13', () => {
    const old = { ...fp32, opset_import: [{ domain: '', version: 9 }] };
    assert.throws(() => planQuantization(old), /needs opset >= 11.*opset 9/);
    const withSoftmax: ModelObj = {
      ...fp32,
      opset_import: [{ domain: '', version: 12 }],
      graph: { ...fp32.graph, node: [...fp32.graph.node, { op_type: 'Softmax', input: ['output'], output: ['p'] }] },
    };
    assert.throws(() => planQuantization(withSoftmax), /opset 12 and uses Softmax/);
  });

  it('the calibration model exposes every tensor to calibrate as a graph output', () => {
    const plan = planQuantization(fp32);
    const cal = calibrationModel(plan);
    const outs = new Set(cal.graph.output.map((o) => o.name));
    for (const t of plan.calibrate) if (t !== 'input') assert.ok(outs.has(t), t);
  });
});

describe('quantizer: end to end on a small CNN', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-quant-'));
    writeFileSync(path.join(dir, 'small.onnx'), buildSmallCnn({ size: 64, width: 16, blocks: 2 }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('onnxruntime runs the result with int8 kernels (QLinearConv, QLinearAdd, QGemm), no float Conv left', async () => {
    const out = path.join(dir, 'small-int8.onnx');
    const logs: string[] = [];
    await quantizeFile(path.join(dir, 'small.onnx'), out, {
      calibration: path.join(dir, 'no-such-dir'),
      maxImages: 4,
      log: (l) => logs.push(l),
    });
    assert.ok(
      logs.some((l) => /no calibration images in .*no-such-dir; calibrating on 4 generated images/.test(l)),
      logs.join('\n'),
    );
    const optimized = path.join(dir, 'optimized.onnx');
    const s = await ort.InferenceSession.create(out, {
      optimizedModelFilePath: optimized,
      graphOptimizationLevel: 'extended',
      logSeverityLevel: 3,
    });
    await s.release();
    const ops = new Set((await readModel(optimized)).graph.node.map((n) => n.op_type));
    for (const op of ['QLinearConv', 'QLinearAdd', 'QGemm']) assert.ok(ops.has(op), `${op} in ${[...ops].join(', ')}`);
    assert.ok(!ops.has('Conv') && !ops.has('Gemm'), [...ops].join(', '));
  });

  it('agrees with fp32 on the dev images (cosine > 0.999), and the CLI reports it', async (t) => {
    const calibration = (await import('node:fs')).existsSync(DEV) ? DEV : undefined;
    if (!calibration) t.diagnostic(`${DEV} is absent: calibrating and comparing on generated images`);
    const out = path.join(dir, 'cli-int8.onnx');
    const { stdout } = await promisify(execFile)(process.execPath, [
      CLI,
      'models',
      'quantize',
      path.join(dir, 'small.onnx'),
      '--calibration',
      calibration ?? path.join(dir, 'none'),
      '-o',
      out,
      '--max-images',
      '24',
    ]);
    const m = /top-1 agreement ([\d.]+) %, output cosine similarity mean ([\d.]+), min ([\d.]+)/.exec(stdout);
    assert.ok(m, stdout);
    t.diagnostic(stdout.trim().split('\n').pop() ?? '');
    assert.ok(Number(m[2]) > 0.999, `mean cosine ${m[2]}`);
    assert.ok(Number(m[3]) > 0.99, `min cosine ${m[3]}`);
    assert.ok(Number(m[1]) >= 75, `top-1 agreement ${m[1]} % (random 10-class logits are close together)`);
    const meta = Object.fromEntries(((await readModel(out)).metadata_props ?? []).map((e) => [e.key, e.value]));
    assert.match(meta['infergraph.quantized'] ?? '', /int8 QDQ/);
    assert.match(meta['infergraph.quantized_from'] ?? '', /^small\.onnx sha256:[0-9a-f]{64}$/);
  });

  it('the CLI refuses what it cannot quantise with a clear message', async () => {
    const bad = path.join(dir, 'bad.onnx');
    writeFileSync(bad, 'not a model');
    const run = promisify(execFile)(process.execPath, [CLI, 'models', 'quantize', bad, '--calibration', dir]);
    await assert.rejects(run, (e: { stderr: string }) => /is not an ONNX model/.test(e.stderr));
  });

  it(
    'ResNet-50 (synthetic) quantises to a graph with 53 QLinearConv and agrees with fp32',
    { timeout: 120_000 },
    async () => {
      // Full size, but calibrated on two generated images: the structure and agreement, not the calibration quality.
      const fp = path.join(dir, 'resnet50.onnx');
      writeFileSync(fp, buildModel('resnet50').bytes);
      const out = path.join(dir, 'resnet50-int8.onnx');
      const r = await quantizeFile(fp, out, { maxImages: 2, evaluate: true });
      assert.deepEqual(r.stats, { weights: 54, activations: 74, foldedBatchNorms: 53, foldedRelus: 49 });
      assert.ok(r.agreement && r.agreement.cosineMean > 0.999, JSON.stringify(r.agreement));
    },
  );
});
