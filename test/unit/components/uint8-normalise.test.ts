import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { Component } from '../../../src/components/api';
import jpegInput from '../../../src/components/builtin/jpeg-input';
import onnxModel from '../../../src/components/builtin/onnx-model';
import { normalisationTable, normalisePlanar } from '../../../src/components/builtin/uint8-normalise';
import { Code } from '../../../src/errors';
import type { Payload } from '../../../src/message/message';
import { callContext, componentContext, configError, rejectsWith, repoRoot } from './helpers';
import { writeIdentityModel } from './onnx-fixture';

/** jpeg-input `outputDtype: uint8` + onnx-model `normalizeUint8` must give the model exactly the floats jpeg-input would. */

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

async function photo(): Promise<Buffer> {
  const w = 320;
  const h = 240;
  const raw = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) raw.set([(i * 7) % 256, (i * 13) % 256, ((i / w) * 3) % 256], i * 3);
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

const tensorOf = (p: Payload) => {
  assert.equal(p.kind, 'tensor');
  if (p.kind !== 'tensor') throw new Error('unreachable');
  return p.tensor;
};

/** torchvision's order, each step rounded to float32: ToTensor's div(255), then Normalize's sub_(mean).div_(std). */
function torchvisionOrder(v: number, mean: number, std: number): number {
  const f = Math.fround;
  return f(f(f(v) / f(255)) - f(mean)) / f(std);
}

describe('normalisationTable: the floats torchvision computes, not nearly', () => {
  const table = normalisationTable(MEAN, STD);

  it('each entry is fround(fround(fround(v / 255) - fround(mean)) / fround(std)), bit for bit', () => {
    const expected = new Float32Array(3 * 256);
    for (let c = 0; c < 3; c++)
      for (let v = 0; v < 256; v++) expected[c * 256 + v] = torchvisionOrder(v, MEAN[c] as number, STD[c] as number);
    assert.deepEqual(table, expected);
    // Rounding once from float64 gives other floats for many entries: the test can tell the two apart.
    let differ = 0;
    for (let c = 0; c < 3; c++)
      for (let v = 0; v < 256; v++)
        if (Math.fround((v / 255 - (MEAN[c] as number)) / (STD[c] as number)) !== expected[c * 256 + v]) differ++;
    assert.ok(differ > 100, `only ${differ} entries differ between the two orders`);
  });

  it('equals the table numpy float32 computes (test/fixtures/torchvision-normalise, made by expected.py there)', () => {
    const raw = readFileSync(path.join(repoRoot(), 'test/fixtures/torchvision-normalise/imagenet.f32'));
    assert.equal(raw.byteLength, 3 * 256 * 4);
    const numpy = new Float32Array(3 * 256);
    for (let i = 0; i < numpy.length; i++) numpy[i] = raw.readFloatLE(i * 4);
    const mismatch = [...table.keys()].filter((i) => !Object.is(table[i], numpy[i]));
    assert.deepEqual(mismatch, [], `entries (channel * 256 + value) that differ from numpy's`);
  });
});

describe('uint8 pixels normalised in the model node', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'infergraph-u8-'));
    writeIdentityModel(path.join(dir, 'img.onnx'), { elemType: 'float32', shape: ['n', 3, 'h', 'w'] });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('normalisePlanar of jpeg-input uint8 output equals jpeg-input float32 output, bit for bit', async () => {
    const jpeg = await photo();
    const asFloat = jpegInput.create({}, componentContext('TRANSFORMER')) as Component;
    const asUint8 = jpegInput.create({ outputDtype: 'uint8' }, componentContext('TRANSFORMER')) as Component;
    const f = tensorOf(await asFloat.transformInput!({ kind: 'bin', data: jpeg }, callContext()));
    const u = tensorOf(await asUint8.transformInput!({ kind: 'bin', data: jpeg }, callContext()));
    assert.equal(u.dtype, 'uint8');
    assert.deepEqual(u.shape, f.shape);
    const back = normalisePlanar(u.data as Uint8Array, u.shape, normalisationTable(MEAN, STD));
    assert.deepEqual(back, f.data);
  });

  it('onnx-model normalizeUint8 takes uint8 NCHW input (and float32 as before); without it uint8 is INVALID_ARGUMENT', async () => {
    const px = Uint8Array.from({ length: 3 * 2 * 2 }, (_, i) => i * 20);
    const u8: Payload = { kind: 'tensor', tensor: { dtype: 'uint8', shape: [1, 3, 2, 2], data: px } };
    const m = await onnxModel.create(
      { model: path.join(dir, 'img.onnx'), normalizeUint8: true },
      componentContext('MODEL'),
    );
    await m.load?.();
    const out = tensorOf(await m.predict!(u8, callContext()));
    assert.equal(out.dtype, 'float32');
    assert.deepEqual(out.data, normalisePlanar(px, [1, 3, 2, 2], normalisationTable(MEAN, STD)));
    const f32 = Float32Array.from({ length: 12 }, (_, i) => i / 4);
    const same = tensorOf(
      await m.predict!({ kind: 'tensor', tensor: { dtype: 'float32', shape: [1, 3, 2, 2], data: f32 } }, callContext()),
    );
    assert.deepEqual(same.data, f32);
    await m.close?.();

    const plain = await onnxModel.create({ model: path.join(dir, 'img.onnx') }, componentContext('MODEL'));
    await plain.load?.();
    await rejectsWith(
      () => Promise.resolve(plain.predict!(u8, callContext())),
      Code.INVALID_ARGUMENT,
      /expects float32/,
    );
    await plain.close?.();
  });

  it('mean and std must have one value per channel', async () => {
    await configError(
      () =>
        onnxModel.create(
          { model: 'x.onnx', normalizeUint8: true, mean: '0.5,0.5', std: '0.2,0.2,0.2' },
          componentContext('MODEL'),
        ),
      /'mean' has 2 values but 'std' has 3/,
    );
  });
});
