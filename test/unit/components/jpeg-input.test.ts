import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import type { Component } from '../../../src/components/api';
import jpegInput, { resizedSize, roundHalfEven, sniffFormat } from '../../../src/components/builtin/jpeg-input';
import { pillowBilinearResizeCrop } from '../../../src/components/builtin/resample';
import { Code } from '../../../src/errors';
import type { Payload } from '../../../src/message/message';
import type { Tensor } from '../../../src/tensor/tensor';
import { callContext, componentContext, configError, rejectsWith } from './helpers';

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];
type RGB = [number, number, number];

const make = (params: Record<string, string | number | boolean> = {}): Component =>
  jpegInput.create(params, componentContext('TRANSFORMER', 'preprocess')) as Component;

async function run(c: Component, data: Uint8Array): Promise<Tensor> {
  const out = await c.transformInput!({ kind: 'bin', data }, callContext());
  assert.equal(out.kind, 'tensor');
  if (out.kind !== 'tensor') throw new Error('unreachable');
  assert.deepEqual(out.names, ['input']);
  assert.equal(out.encoding, 'tftensor');
  return out.tensor;
}

const solid = (width: number, height: number, rgb: RGB, alpha?: number): sharp.Sharp =>
  sharp({
    create: {
      width,
      height,
      channels: alpha === undefined ? 3 : 4,
      background: { r: rgb[0], g: rgb[1], b: rgb[2], alpha: alpha ?? 1 },
    },
  });

/** An image from a per-pixel colour function. */
function drawn(width: number, height: number, px: (x: number, y: number) => RGB): sharp.Sharp {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.set(px(x, y), (y * width + x) * 3);
  }
  return sharp(raw, { raw: { width, height, channels: 3 } });
}

/** HWC (3 channels) to planar CHW. */
function toPlanar(hwc: Uint8Array): Uint8Array {
  const n = hwc.length / 3;
  const out = new Uint8Array(hwc.length);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = hwc[i * 3 + c] as number;
  return out;
}

/** Pixel (x, y) of an NCHW uint8 [1,3,S,S] tensor. */
function pixel(t: Tensor, x: number, y: number): RGB {
  const s = t.shape[3] as number;
  const d = t.data as Uint8Array;
  return [0, 1, 2].map((c) => d[c * s * s + y * s + x] as number) as RGB;
}

function assertUniform(t: Tensor, rgb: RGB, normalised: boolean): void {
  const plane = (t.shape[2] as number) * (t.shape[3] as number);
  for (let c = 0; c < 3; c++) {
    const v = rgb[c] as number;
    const want = normalised ? (v / 255 - (MEAN[c] as number)) / (STD[c] as number) : v;
    for (let i = 0; i < plane; i++) {
      const got = t.data[c * plane + i] as number;
      if (Math.abs(got - want) > 1e-6) assert.fail(`channel ${c} element ${i}: ${got} != ${want}`);
    }
  }
}

describe('jpeg-input: output', () => {
  it('solid PNG 500x375 -> float32 [1,3,224,224], every value (v/255-mean)/std', async () => {
    const rgb: RGB = [200, 100, 50];
    const t = await run(make(), await solid(500, 375, rgb).png().toBuffer());
    assert.equal(t.dtype, 'float32');
    assert.deepEqual(t.shape, [1, 3, 224, 224]);
    assert.equal(t.data.length, 3 * 224 * 224);
    assertUniform(t, rgb, true);
  });

  it('solid JPEG: uniform per channel at the decoded colour', async () => {
    const jpg = await solid(500, 375, [30, 160, 220]).jpeg().toBuffer();
    const decoded = [...(await sharp(jpg).raw().toBuffer()).subarray(0, 3)] as RGB;
    assertUniform(await run(make(), jpg), decoded, true);
  });

  it("outputDtype 'uint8' sends the cropped pixels unnormalised, NCHW", async () => {
    const t = await run(make({ outputDtype: 'uint8' }), await solid(320, 240, [1, 2, 250]).png().toBuffer());
    assert.equal(t.dtype, 'uint8');
    assert.deepEqual(t.shape, [1, 3, 224, 224]);
    assertUniform(t, [1, 2, 250], false);
  });

  it('resize/crop/mean/std parameters', async () => {
    const t = await run(
      make({ resize: 64, crop: 32, mean: '0.5,0.5,0.5', std: '0.5, 0.5, 0.5' }),
      await solid(90, 70, [255, 0, 51]).png().toBuffer(),
    );
    assert.deepEqual(t.shape, [1, 3, 32, 32]);
    assert.deepEqual(
      [t.data[0], t.data[32 * 32], t.data[2 * 32 * 32]].map((v) => Number((v as number).toFixed(6))),
      [1, -1, -0.6],
    );
  });

  it("centre crop offset is torchvision's: round-half-even of (size - crop) / 2", async () => {
    assert.equal(roundHalfEven(58.5), 58);
    assert.equal(roundHalfEven(59.5), 60);
    assert.equal(roundHalfEven(16), 16);
    assert.deepEqual(resizedSize(500, 375, 256), { width: 341, height: 256 });
    assert.deepEqual(resizedSize(375, 500, 256), { width: 256, height: 341 });
    // 341x256 needs no resize; the crop starts at column round(58.5) = 58. Mark columns 57, 58, 59.
    const marks: Record<number, RGB> = { 57: [255, 0, 0], 58: [0, 255, 0], 59: [0, 0, 255] };
    const wide = await drawn(341, 256, (x) => marks[x] ?? [128, 128, 128])
      .png()
      .toBuffer();
    const t = await run(make({ outputDtype: 'uint8' }), wide);
    assert.deepEqual(pixel(t, 0, 100), [0, 255, 0]);
    assert.deepEqual(pixel(t, 1, 100), [0, 0, 255]);
    // 256x400: crop starts at row 88.
    const tall = await drawn(256, 400, (_x, y) => (y === 88 ? [0, 255, 0] : y === 311 ? [255, 0, 0] : [9, 9, 9]))
      .png()
      .toBuffer();
    const t2 = await run(make({ outputDtype: 'uint8' }), tall);
    assert.deepEqual(pixel(t2, 50, 0), [0, 255, 0]);
    assert.deepEqual(pixel(t2, 50, 223), [255, 0, 0]);
    assert.deepEqual(pixel(t2, 50, 1), [9, 9, 9]);
  });

  it('crops the centre of a downscaled image (left half red, right half blue)', async () => {
    // 600x300 -> 512x256, crop columns 144..367: the halves meet between crop columns 111 and 112.
    const img = await drawn(600, 300, (x) => (x < 300 ? [255, 0, 0] : [0, 0, 255]))
      .png()
      .toBuffer();
    const t = await run(make({ outputDtype: 'uint8' }), img);
    for (const y of [0, 100, 223]) {
      assert.deepEqual(pixel(t, 0, y), [255, 0, 0]);
      assert.deepEqual(pixel(t, 109, y), [255, 0, 0]);
      assert.deepEqual(pixel(t, 114, y), [0, 0, 255]);
      assert.deepEqual(pixel(t, 223, y), [0, 0, 255]);
      const [r1, , b1] = pixel(t, 111, y);
      const [r2, , b2] = pixel(t, 112, y);
      assert.ok(r1 > b1 && b2 > r2, `boundary at column 112: ${r1},${b1} | ${r2},${b2}`);
    }
  });

  it('ignores the EXIF orientation by default (as torchvision); exifOrientation: true applies it', async () => {
    // Stored 300x200, left half red: displayed (orientation 6, rotated 90 degrees clockwise) 200x300 with red on top.
    const stored = drawn(300, 200, (x) => (x < 150 ? [255, 0, 0] : [0, 0, 255]));
    const jpg = await stored.jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    assert.equal((await sharp(jpg).metadata()).orientation, 6);
    const upright = await run(make({ outputDtype: 'uint8', exifOrientation: true }), jpg);
    const [r1, , b1] = pixel(upright, 112, 40);
    const [r2, , b2] = pixel(upright, 112, 180);
    assert.ok(r1 > 200 && b1 < 50, `top should be red, got ${pixel(upright, 112, 40).join(',')}`);
    assert.ok(b2 > 200 && r2 < 50, `bottom should be blue, got ${pixel(upright, 112, 180).join(',')}`);
    const exact = await run(make({ outputDtype: 'uint8' }), jpg);
    const fast = await run(make({ outputDtype: 'uint8', fastShrinkOnLoad: true }), jpg);
    for (const t of [exact, fast]) {
      const [lr, , lb] = pixel(t, 40, 112);
      const [rr, , rb] = pixel(t, 180, 112);
      assert.ok(lr > 200 && lb < 50, `stored layout: left should be red, got ${pixel(t, 40, 112).join(',')}`);
      assert.ok(rb > 200 && rr < 50, `stored layout: right should be blue, got ${pixel(t, 180, 112).join(',')}`);
    }
  });

  it('PNG with alpha: alpha is dropped, colour kept (Pillow convert("RGB"))', async () => {
    const png = await solid(300, 260, [10, 200, 30], 0.5).png().toBuffer();
    assert.equal((await sharp(png).metadata()).channels, 4);
    assertUniform(await run(make({ outputDtype: 'uint8' }), png), [10, 200, 30], false);
  });

  it('transparent pixels keep their colour when reducing and enlarging (alpha dropped before resizing)', async () => {
    for (const [w, h] of [
      [600, 300],
      [120, 60],
    ] as const) {
      const raw = Buffer.alloc(w * h * 4);
      for (let i = 0; i < w * h; i++) raw.set(i % w < w / 2 ? [255, 0, 0, 0] : [0, 0, 255, 255], i * 4);
      const png = await sharp(raw, { raw: { width: w, height: h, channels: 4 } })
        .png()
        .toBuffer();
      const t = await run(make({ outputDtype: 'uint8' }), png);
      assert.deepEqual(pixel(t, 5, 100), [255, 0, 0], `${w}x${h} left (transparent red)`);
      assert.deepEqual(pixel(t, 218, 100), [0, 0, 255], `${w}x${h} right (opaque blue)`);
    }
  });

  it('grayscale PNG and JPEG become 3 equal channels', async () => {
    const w = 300;
    const h = 280;
    const grey = Buffer.alloc(w * h);
    for (let i = 0; i < grey.length; i++) grey[i] = (i % w) % 256;
    const png = await sharp(grey, { raw: { width: w, height: h, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    const jpg = await sharp(grey, { raw: { width: w, height: h, channels: 1 } })
      .toColourspace('b-w')
      .jpeg()
      .toBuffer();
    for (const img of [png, jpg]) {
      assert.equal((await sharp(img).metadata()).channels, 1);
      const t = await run(make({ outputDtype: 'uint8' }), img);
      const plane = 224 * 224;
      const d = t.data as Uint8Array;
      assert.deepEqual(d.subarray(0, plane), d.subarray(plane, 2 * plane));
      assert.deepEqual(d.subarray(0, plane), d.subarray(2 * plane));
      assert.ok(d[0] !== d[200], 'gradient survives');
    }
  });

  it('WebP', async () => {
    const webp = await solid(400, 300, [90, 45, 180]).webp({ lossless: true }).toBuffer();
    assert.equal(sniffFormat(webp), 'WebP');
    assertUniform(await run(make({ outputDtype: 'uint8' }), webp), [90, 45, 180], false);
  });

  it('enlarges small images (shorter side < resize)', async () => {
    const t = await run(make(), await solid(100, 80, [40, 80, 120]).png().toBuffer());
    assert.deepEqual(t.shape, [1, 3, 224, 224]);
    assertUniform(t, [40, 80, 120], true);
  });
});

describe('resample: Pillow bilinear', () => {
  /** Half-pixel-centre bilinear with edge clamp: what Pillow computes when enlarging. */
  function bilinear(src: Uint8Array, w0: number, h0: number, w: number, h: number): Float64Array {
    const out = new Float64Array(w * h * 3);
    const at = (x: number, y: number, c: number): number =>
      src[(Math.min(Math.max(y, 0), h0 - 1) * w0 + Math.min(Math.max(x, 0), w0 - 1)) * 3 + c] as number;
    for (let y = 0; y < h; y++) {
      const sy = (y + 0.5) * (h0 / h) - 0.5;
      const y0 = Math.floor(sy);
      const fy = sy - y0;
      for (let x = 0; x < w; x++) {
        const sx = (x + 0.5) * (w0 / w) - 0.5;
        const x0 = Math.floor(sx);
        const fx = sx - x0;
        for (let c = 0; c < 3; c++) {
          const top = at(x0, y0, c) * (1 - fx) + at(x0 + 1, y0, c) * fx;
          const bottom = at(x0, y0 + 1, c) * (1 - fx) + at(x0 + 1, y0 + 1, c) * fx;
          out[(y * w + x) * 3 + c] = top * (1 - fy) + bottom * fy;
        }
      }
    }
    return out;
  }

  it('enlarging matches half-pixel bilinear (within the uint8 rounding of two passes)', () => {
    const w0 = 37;
    const h0 = 23;
    const src = new Uint8Array(w0 * h0 * 3);
    for (let i = 0; i < src.length; i++) src[i] = (i * 7919) % 256;
    const w = 61;
    const h = 40;
    const want = bilinear(src, w0, h0, w, h);
    const got = pillowBilinearResizeCrop(src, w0, h0, 3, {
      width: w,
      height: h,
      left: 0,
      top: 0,
      cropWidth: w,
      cropHeight: h,
    });
    const window = pillowBilinearResizeCrop(src, w0, h0, 3, {
      width: w,
      height: h,
      left: 5,
      top: 7,
      cropWidth: 20,
      cropHeight: 11,
    });
    for (let i = 0; i < got.length; i++)
      assert.ok(Math.abs((got[i] as number) - (want[i] as number)) <= 1, `element ${i}`);
    for (let y = 0; y < 11; y++) {
      for (let x = 0; x < 20; x++) {
        for (let c = 0; c < 3; c++) assert.equal(window[(y * 20 + x) * 3 + c], got[((y + 7) * w + x + 5) * 3 + c]);
      }
    }
  });

  it('when reducing, libvips linear (fastShrinkOnLoad) and the Pillow resampler (default) nearly agree', async () => {
    const w0 = 500;
    const h0 = 375;
    const img = drawn(w0, h0, (x, y) => [(x * 255) / w0, (y * 255) / h0, (((x + y) % 64) * 255) / 64]);
    const png = await img.png().toBuffer();
    const fast = await run(make({ outputDtype: 'uint8', fastShrinkOnLoad: true }), png);
    const raw = await sharp(png).raw().toBuffer();
    const window = { width: 341, height: 256, left: 58, top: 16, cropWidth: 224, cropHeight: 224 };
    assert.deepEqual(await run(make({ outputDtype: 'uint8' }), png), {
      dtype: 'uint8',
      shape: [1, 3, 224, 224],
      data: toPlanar(pillowBilinearResizeCrop(raw, w0, h0, 3, window)),
    });
    const ref = pillowBilinearResizeCrop(raw, w0, h0, 3, {
      width: 341,
      height: 256,
      left: 58,
      top: 16,
      cropWidth: 224,
      cropHeight: 224,
    });
    let sum = 0;
    let max = 0;
    for (let y = 0; y < 224; y++) {
      for (let x = 0; x < 224; x++) {
        const p = pixel(fast, x, y);
        for (let c = 0; c < 3; c++) {
          const d = Math.abs((p[c] as number) - (ref[(y * 224 + x) * 3 + c] as number));
          sum += d;
          max = Math.max(max, d);
        }
      }
    }
    assert.ok(sum / (224 * 224 * 3) < 0.5, `mean abs difference ${sum / (224 * 224 * 3)}`);
    assert.ok(max <= 4, `max difference ${max}`);
  });
});

describe('jpeg-input: bad input is INVALID_ARGUMENT saying what is wrong', () => {
  const c = make();
  const call = (p: Payload) => () => Promise.resolve(c.transformInput!(p, callContext()));
  const bin = (data: Uint8Array) => call({ kind: 'bin', data });

  it('empty binData', async () => {
    await rejectsWith(bin(new Uint8Array(0)), Code.INVALID_ARGUMENT, 'binData is empty');
  });

  it('not binData', async () => {
    const tensor: Payload = { kind: 'tensor', tensor: { dtype: 'float32', shape: [1, 3], data: new Float32Array(3) } };
    await rejectsWith(call(tensor), Code.INVALID_ARGUMENT, 'expects binData', 'got tensor float32[1,3]');
    await rejectsWith(call({ kind: 'str', data: 'hello' }), Code.INVALID_ARGUMENT, 'got strData (5 chars)');
    await rejectsWith(call({ kind: 'none' }), Code.INVALID_ARGUMENT, 'got no data');
  });

  it('text is not an image', async () => {
    await rejectsWith(
      bin(Buffer.from('hello, I am not a picture')),
      Code.INVALID_ARGUMENT,
      'not a JPEG, PNG or WebP image',
      '"hello, I"',
    );
  });

  it('truncated JPEG, PNG and WebP', async () => {
    const img = drawn(300, 200, (x, y) => [(x * 7) % 256, (y * 13) % 256, ((x ^ y) * 3) % 256]);
    const jpg = await img.clone().jpeg().toBuffer();
    await rejectsWith(
      bin(jpg.subarray(0, jpg.length >> 1)),
      Code.INVALID_ARGUMENT,
      'truncated JPEG image',
      `${jpg.length >> 1} bytes`,
    );
    await rejectsWith(bin(jpg.subarray(0, jpg.length - 2)), Code.INVALID_ARGUMENT, 'truncated JPEG image');
    const png = await img.clone().png().toBuffer();
    await rejectsWith(bin(png.subarray(0, png.length >> 1)), Code.INVALID_ARGUMENT, 'truncated PNG image');
    const webp = await img.clone().webp().toBuffer();
    await rejectsWith(bin(webp.subarray(0, webp.length >> 1)), Code.INVALID_ARGUMENT, 'truncated WebP image');
  });

  it('corrupt bytes', async () => {
    const jpg = await solid(300, 200, [1, 2, 3]).jpeg().toBuffer();
    const bad = Buffer.from(jpg);
    for (let i = 20; i < bad.length - 2; i += 5) bad[i] = (bad[i] as number) ^ 0x5a;
    await rejectsWith(bin(bad), Code.INVALID_ARGUMENT, 'not a decodable JPEG');
    const garbage = Buffer.concat([
      Buffer.from([0xff, 0xd8, 0xff]),
      Buffer.from('not really a jpeg at all '.repeat(8)),
    ]);
    await rejectsWith(bin(garbage), Code.INVALID_ARGUMENT, /not a decodable JPEG/);
  });

  it('more pixels than maxPixels: names the limit and the image size', async () => {
    const small = make({ maxPixels: 100_000 });
    const jpg = await solid(500, 375, [1, 2, 3]).jpeg().toBuffer();
    await rejectsWith(
      () => Promise.resolve(small.transformInput!({ kind: 'bin', data: jpg }, callContext())),
      Code.INVALID_ARGUMENT,
      'image is 500x375 = 187500 pixels',
      'limit of 100000',
    );
  });

  it('bad parameters fail at create', async () => {
    await configError(() => make({ crop: 300 }), "'crop' (300) must not exceed 'resize' (256)");
    await configError(() => make({ mean: '0.1,0.2' }), "parameter 'mean'");
    await configError(() => make({ outputDtype: 'float16' }), "parameter 'outputDtype'", 'float32, uint8');
    await configError(() => make({ resize: 0 }), "parameter 'resize'");
    await configError(() => make({ exifOrientation: 'yes' }), "parameter 'exifOrientation' must be true or false");
    await configError(() => make({ colourManagement: 1 }), "parameter 'colourManagement'");
    await configError(() => make({ fastShrinkOnLoad: 'fast' }), "parameter 'fastShrinkOnLoad'");
  });
});
