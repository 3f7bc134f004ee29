/**
 * jpeg-input's TurboJPEG decoder (turbo-jpeg.ts, issue 23) against its libvips decoder: the same crops on every dev
 * image and fixture, the same answer (bytes, or status and message) on hostile files, and TurboJPEG really used where
 * it should be. Needs the system's libturbojpeg.so.0 (Debian libturbojpeg0, which .ci/run installs); without it the
 * tests skip, except under CI, where a missing library fails.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { mutationCases, seedImages } from '../../../bench/mutate-images';
import type { Component } from '../../../src/components/api';
import jpegInput from '../../../src/components/builtin/jpeg-input';
import { SYNC_MAX_PIXELS, turboJpegStatus } from '../../../src/components/builtin/turbo-jpeg';
import { codeName, isInferError } from '../../../src/errors';
import { callContext, componentContext, DEV_DIR, repoRoot, sharedFile } from './helpers';

const status = turboJpegStatus();
const skip = status.available || process.env.CI ? false : `libturbojpeg.so.0 not loadable here: ${status.reason}`;
const FIXTURES = path.join(repoRoot(), 'test/fixtures/pil-convert');

/** The crop as uint8 bytes, or the error as "CODE: message". */
async function answer(c: Component, data: Uint8Array): Promise<string | Uint8Array> {
  try {
    const out = await c.transformInput!({ kind: 'bin', data }, callContext());
    assert.equal(out.kind, 'tensor');
    return out.kind === 'tensor' ? (out.tensor.data as Uint8Array) : 'not a tensor';
  } catch (err) {
    if (!isInferError(err)) throw err;
    return `${codeName(err.code)}: ${err.message}`;
  }
}

const same = (a: string | Uint8Array, b: string | Uint8Array): boolean =>
  typeof a === 'string' || typeof b === 'string' ? a === b : Buffer.from(a).equals(Buffer.from(b));

async function components(): Promise<{ turbo: Component; vips: Component }> {
  const ctx = componentContext('TRANSFORMER');
  return {
    turbo: await jpegInput.create({ outputDtype: 'uint8' }, ctx),
    vips: await jpegInput.create({ outputDtype: 'uint8', decoder: 'libvips' }, ctx),
  };
}

describe('jpeg-input: TurboJPEG decoder against libvips (issue 23)', () => {
  it('the library loads (required under CI)', { skip }, () => {
    assert.equal(status.available, true, `TurboJPEG unavailable: ${status.reason}`);
    assert.equal(status.library, 'libturbojpeg.so.0');
  });

  const dev = sharedFile(DEV_DIR);
  it(
    'dev-100: TurboJPEG decodes every image, and the crops equal libvips-decoded ones',
    { skip: skip || !dev },
    async () => {
      const { turbo, vips } = await components();
      const files = readdirSync(dev as string).filter((f) => /\.jpe?g$/i.test(f));
      assert.equal(files.length, 100);
      const before = turboJpegStatus();
      const differ: string[] = [];
      for (const f of files) {
        const data = readFileSync(path.join(dev as string, f));
        const a = await answer(turbo, data);
        const b = await answer(vips, data);
        assert.ok(typeof a !== 'string', `${f}: ${String(a)}`);
        if (!same(a, b)) differ.push(f);
      }
      const after = turboJpegStatus();
      assert.deepEqual(differ, []);
      assert.equal(after.decoded - before.decoded, 100, 'every dev image went through TurboJPEG');
      assert.equal(after.declined - before.declined, 0);
    },
  );

  it('fixtures: grey and progressive JPEGs through TurboJPEG, CMYK left to libvips, same crops', { skip }, async () => {
    const { turbo, vips } = await components();
    const cases: [string, 'decoded' | 'declined'][] = [
      ['grey.jpg', 'decoded'],
      ['progressive-420.jpg', 'decoded'],
      ['rgb-reduce.jpg', 'decoded'],
      ['rgb-enlarge.jpg', 'decoded'],
      ['cmyk.jpg', 'declined'],
      ['cmyk-no-adobe.jpg', 'declined'],
    ];
    for (const [file, path_] of cases) {
      const data = readFileSync(path.join(FIXTURES, file));
      const before = turboJpegStatus();
      const a = await answer(turbo, data);
      const after = turboJpegStatus();
      assert.equal(after[path_] - before[path_], 1, `${file} should be ${path_}`);
      const b = await answer(vips, data);
      assert.ok(same(a, b), `${file}: the two decoders disagree`);
      // Pillow's own crop of the fixture (expected.py) is checked by jpeg-input-pixels.test.ts; here the decoders agree.
    }
  });

  it(
    "Pillow-encoded variants sharp cannot write (4:2:2, restart markers...): Pillow's crops, through TurboJPEG",
    { skip },
    async () => {
      const dir = path.join(repoRoot(), 'test/fixtures/pil-jpeg');
      const files = readdirSync(dir).filter((f) => f.endsWith('.jpg'));
      assert.ok(files.length >= 7, `${files.length} images in ${dir}`);
      const c = await jpegInput.create({ outputDtype: 'uint8', resize: 64, crop: 56 }, componentContext('TRANSFORMER'));
      for (const f of files) {
        const before = turboJpegStatus();
        const got = await answer(c, readFileSync(path.join(dir, f)));
        assert.equal(turboJpegStatus().decoded - before.decoded, 1, `${f} did not go through TurboJPEG`);
        assert.ok(typeof got !== 'string', `${f}: ${String(got)}`);
        const want = readFileSync(path.join(dir, `${f}.rgb`));
        const n = 56 * 56;
        const hwc = Buffer.alloc(n * 3);
        for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) hwc[i * 3 + k] = got[k * n + i] as number;
        assert.ok(hwc.equals(want), `${f}: the crop differs from Pillow's`);
      }
    },
  );

  it('an image above SYNC_MAX_PIXELS decodes on a worker thread, with the same crop', { skip }, async () => {
    const { turbo, vips } = await components();
    const w = 2000;
    const h = 1500;
    assert.ok(w * h > SYNC_MAX_PIXELS);
    const px = Buffer.alloc(w * h * 3);
    for (let i = 0; i < px.length; i++) px[i] = (i * 13 + ((i / 6000) | 0) * 7) & 255;
    const data = await sharp(px, { raw: { width: w, height: h, channels: 3 } })
      .jpeg({ quality: 90 })
      .toBuffer();
    const before = turboJpegStatus();
    const [a, a2] = await Promise.all([answer(turbo, data), answer(turbo, data)]);
    assert.equal(turboJpegStatus().decoded - before.decoded, 2);
    const b = await answer(vips, data);
    assert.ok(typeof a !== 'string', String(a));
    assert.ok(same(a, b) && same(a2, b), 'the worker-thread decode differs from libvips');
  });

  it('hostile files: 600 cuts and mutations get the same answer from both decoders', { skip }, async () => {
    const { turbo, vips } = await components();
    const seeds = (await seedImages(sharedFile(DEV_DIR), 3)).filter((s) => /jpe?g/i.test(s.name));
    assert.ok(seeds.length >= 1, 'no JPEG seed');
    const before = turboJpegStatus();
    const differ: string[] = [];
    const outcomes: Record<string, number> = {};
    for (const tc of mutationCases(seeds, 600, 23)) {
      const a = await answer(turbo, tc.data);
      const b = await answer(vips, tc.data);
      const k = typeof a === 'string' ? a.split(':')[0]! : 'OK';
      outcomes[k] = (outcomes[k] ?? 0) + 1;
      if (!same(a, b))
        differ.push(`${tc.name}: ${typeof a === 'string' ? a : 'pixels'} / ${typeof b === 'string' ? b : 'pixels'}`);
    }
    const after = turboJpegStatus();
    assert.deepEqual(differ.slice(0, 5), [], `${differ.length} of 600 differ`);
    // Both paths were exercised: some mutated files still decode cleanly, the rest are declined or refused earlier.
    assert.ok(after.decoded - before.decoded > 0, 'TurboJPEG decoded none of the mutated files');
    assert.ok(after.declined - before.declined > 0, 'TurboJPEG declined none of the mutated files');
    assert.ok((outcomes.OK ?? 0) > 0 && (outcomes.INVALID_ARGUMENT ?? 0) > 0, JSON.stringify(outcomes));
  });
});
