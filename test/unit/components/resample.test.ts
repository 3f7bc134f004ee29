import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pillowBilinearResizeCrop, sourceWindow, type ResizeCrop } from '../../../src/components/builtin/resample';

/**
 * Pillow's ImagingResample for BILINEAR written the plain way (taps per sample as Pillow clips them, accumulator per
 * sample, whole image resized then cropped): the optimised resampler (zero-padded fixed tap counts, unrolled loops,
 * crop-only passes) must give exactly these bytes.
 */
function reference(src: Uint8Array, w0: number, h0: number, ch: number, r: ResizeCrop): Uint8Array {
  const coeffs = (inSize: number, outSize: number): { xmin: number[]; ws: number[][] } => {
    const scale = inSize / outSize;
    const support = Math.max(scale, 1);
    const xmin: number[] = [];
    const ws: number[][] = [];
    for (let j = 0; j < outSize; j++) {
      const center = (j + 0.5) * scale;
      const lo = Math.max(Math.trunc(center - support + 0.5), 0);
      const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
      const raw: number[] = [];
      for (let x = lo; x < hi; x++) raw.push(Math.max(0, 1 - Math.abs((x - center + 0.5) / support)));
      const sum = raw.reduce((a, b) => a + b, 0);
      xmin.push(lo);
      ws.push(raw.map((w) => Math.trunc((sum ? w / sum : 0) * (1 << 22) + 0.5)));
    }
    return { xmin, ws };
  };
  const clip = (acc: number): number => Math.min(255, Math.max(0, acc >> 22));
  const h = coeffs(w0, r.width);
  const v = coeffs(h0, r.height);
  const tmp = new Uint8Array(r.width * h0 * ch);
  for (let y = 0; y < h0; y++)
    for (let x = 0; x < r.width; x++)
      for (let c = 0; c < ch; c++) {
        let acc = 1 << 21;
        (h.ws[x] as number[]).forEach(
          (w, i) => (acc += (src[(y * w0 + (h.xmin[x] as number) + i) * ch + c] as number) * w),
        );
        tmp[(y * r.width + x) * ch + c] = clip(acc);
      }
  const out = new Uint8Array(r.cropWidth * r.cropHeight * ch);
  for (let y = 0; y < r.cropHeight; y++)
    for (let x = 0; x < r.cropWidth; x++)
      for (let c = 0; c < ch; c++) {
        let acc = 1 << 21;
        const yy = y + r.top;
        (v.ws[yy] as number[]).forEach(
          (w, i) => (acc += (tmp[(((v.xmin[yy] as number) + i) * r.width + x + r.left) * ch + c] as number) * w),
        );
        out[(y * r.cropWidth + x) * ch + c] = clip(acc);
      }
  return out;
}

function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

describe('pillowBilinearResizeCrop', () => {
  it('equals the plain Pillow loops for 1 to 7 taps, 1/3/4 channels, crops at the borders, and source windows', () => {
    // [source w, h, resized w, h]: enlarging (2 taps), reducing by 1.1 to 3.3 (2 to 7 taps), mixed axes.
    const cases: [number, number, number, number][] = [
      [37, 23, 61, 40],
      [300, 200, 256, 171],
      [500, 375, 341, 256],
      [375, 500, 256, 341],
      [640, 480, 256, 192],
      [830, 620, 256, 191],
      [90, 400, 120, 130],
    ];
    let checked = 0;
    for (const [w0, h0, w, h] of cases) {
      for (const ch of [1, 3, 4]) {
        const src = noise(w0 * h0 * ch, w0 * 31 + ch);
        const crops: ResizeCrop[] = [
          { width: w, height: h, left: 0, top: 0, cropWidth: w, cropHeight: h },
          {
            width: w,
            height: h,
            left: Math.floor(w / 5),
            top: Math.floor(h / 7),
            cropWidth: Math.ceil(w / 2),
            cropHeight: Math.ceil(h / 3),
          },
          { width: w, height: h, left: w - 9, top: h - 5, cropWidth: 9, cropHeight: 5 },
        ];
        for (const r of crops) {
          const want = reference(src, w0, h0, ch, r);
          assert.deepEqual(
            pillowBilinearResizeCrop(src, w0, h0, ch, r),
            want,
            `${w0}x${h0}->${w}x${h} ${ch}ch ${JSON.stringify(r)}`,
          );
          // Only the source window the crop reads, as jpeg-input decodes it.
          const win = sourceWindow(w0, h0, r);
          const part = new Uint8Array(win.width * win.height * ch);
          for (let y = 0; y < win.height; y++) {
            const from = ((win.top + y) * w0 + win.left) * ch;
            part.set(src.subarray(from, from + win.width * ch), y * win.width * ch);
          }
          assert.deepEqual(pillowBilinearResizeCrop(part, w0, h0, ch, r, win), want, `window ${JSON.stringify(win)}`);
          checked++;
        }
      }
    }
    assert.equal(checked, 63);
  });

  it('refuses a source window that misses pixels the crop reads', () => {
    const r = { width: 50, height: 40, left: 10, top: 10, cropWidth: 20, cropHeight: 20 };
    const win = sourceWindow(100, 80, r);
    const small = { ...win, width: win.width - 1 };
    assert.throws(
      () => pillowBilinearResizeCrop(new Uint8Array(small.width * small.height * 3), 100, 80, 3, r, small),
      /does not cover/,
    );
  });
});
