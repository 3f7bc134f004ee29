import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { runMutations, seedImages } from '../../../bench/mutate-images';
import jpegInput from '../../../src/components/builtin/jpeg-input';
import { oneLine, truncation } from '../../../src/components/builtin/image-bytes';
import { Code, isInferError } from '../../../src/errors';
import { callContext, componentContext, DEV_DIR, repoRoot, sharedFile } from './helpers';

describe('jpeg-input: hostile input (issue 11)', () => {
  it('every cut of JPEG (baseline, progressive, dev photos), PNG (8/16-bit) and WebP is INVALID_ARGUMENT; no crash', async () => {
    const dev = sharedFile(DEV_DIR);
    if (!dev) console.log(`# ${DEV_DIR} absent in ../shared: generated images only`);
    const seeds = await seedImages(dev, 2);
    const r = await runMutations(seeds, 1200, 7);
    assert.deepEqual(r.crashes, []);
    assert.ok(r.truncated >= 600);
    assert.deepEqual(r.truncatedNotInvalid, [], 'a truncated file was not refused');
    assert.equal(r.multiLine, 0, 'an error message had a line break');
  });

  it('a cut whose missing rows lie outside the centre crop is refused too (the case that used to pass)', async () => {
    // Tall image: the crop reads only the middle rows, so a file cut in its last rows decodes the crop fine.
    const w = 300;
    const h = 1200;
    const px = Buffer.alloc(w * h * 3, 90);
    const c = await jpegInput.create({}, componentContext('TRANSFORMER'));
    for (const data of [
      await sharp(px, { raw: { width: w, height: h, channels: 3 } })
        .jpeg()
        .toBuffer(),
      await sharp(px, { raw: { width: w, height: h, channels: 3 } })
        .png()
        .toBuffer(),
    ]) {
      const cut = data.subarray(0, data.length - 40);
      await assert.rejects(
        Promise.resolve(c.transformInput!({ kind: 'bin', data: cut }, callContext())),
        (err: unknown) =>
          isInferError(err) && err.code === Code.INVALID_ARGUMENT && /truncated (JPEG|PNG)/.test(err.message),
      );
      await c.transformInput!({ kind: 'bin', data }, callContext()); // the whole file is fine
    }
  });

  it('truncation() judges structure: EOI after the last scan, the complete IEND chunk, the RIFF length', async () => {
    const img = sharp({ create: { width: 40, height: 30, channels: 3, background: '#369' } });
    const jpg = await img.clone().jpeg().toBuffer();
    assert.equal(truncation(jpg, 'JPEG'), undefined);
    assert.equal(truncation(Buffer.concat([jpg, Buffer.alloc(100)]), 'JPEG'), undefined, 'padding after EOI is fine');
    assert.match(truncation(jpg.subarray(0, jpg.length - 1), 'JPEG') ?? '', /no end-of-image marker/);
    const png = await img.clone().png().toBuffer();
    assert.equal(truncation(png, 'PNG'), undefined);
    assert.match(truncation(png.subarray(0, png.length - 2), 'PNG') ?? '', /IEND/);
  });

  it('libvips messages become one line', () => {
    assert.equal(
      oneLine('VipsJpeg: Premature end of JPEG file\nVipsJpeg: JPEG datastream contains no image\n'),
      'VipsJpeg: Premature end of JPEG file',
    );
    assert.equal(oneLine('\n\nvips2png: unable to write\n'), 'vips2png: unable to write');
  });

  it('an image larger than maxDecodeBytes is refused naming its decoded size and the limit', async () => {
    const c = await jpegInput.create({ maxDecodeBytes: 100_000 }, componentContext('TRANSFORMER'));
    const png = await sharp({ create: { width: 200, height: 200, channels: 3, background: '#123' } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    await assert.rejects(
      Promise.resolve(c.transformInput!({ kind: 'bin', data: png }, callContext())),
      (err: unknown) =>
        isInferError(err) &&
        err.code === Code.INVALID_ARGUMENT &&
        err.message.includes('200x200x3 channels x 2 bytes = 240000 bytes') &&
        err.message.includes('limit of 100000 (parameter maxDecodeBytes)'),
    );
  });

  it('eight 6300x6300 16-bit PNGs at once: peak RSS of the process stays under 300 MB', () => {
    // A child process, so the figure is this workload's alone (the test runner holds other tests' memory).
    const script = path.join(repoRoot(), 'dist/test/helpers/decode-rss.js');
    const r = spawnSync(
      process.execPath,
      ['--max-semi-space-size=16', '--initial-old-space-size=128', script, '8', '6300'],
      {
        encoding: 'utf8',
        timeout: 240_000,
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { peakMB: number; results: string[] };
    console.log(`# ${r.stdout.trim()}`);
    assert.deepEqual(out.results, Array(8).fill('ok'));
    assert.ok(out.peakMB <= 300, `peak RSS ${out.peakMB} MB`);
  });
});
