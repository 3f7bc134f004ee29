import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { jpegHeader } from '../../../src/components/builtin/jpeg-header';

const rgb = (w: number, h: number, channels: 1 | 3 | 4 = 3): sharp.Sharp =>
  sharp(Buffer.alloc(w * h * channels, 77), { raw: { width: w, height: h, channels } });

describe('jpegHeader (what sharp metadata() would say, read from the frame header)', () => {
  it('reads size and components of baseline, progressive, grey and CMYK JPEGs as sharp does', async () => {
    const files = [
      await rgb(203, 151).jpeg().toBuffer(),
      await rgb(47, 1000).jpeg({ progressive: true }).toBuffer(),
      await rgb(640, 3, 1).toColourspace('b-w').jpeg().toBuffer(),
      await rgb(33, 17).toColourspace('cmyk').jpeg().toBuffer(),
      // EXIF (APP1) and an ICC profile (APP2) before the frame header.
      await rgb(120, 80).withMetadata({ orientation: 6 }).withIccProfile('p3').jpeg().toBuffer(),
    ];
    for (const f of files) {
      const m = await sharp(f).metadata();
      assert.deepEqual(jpegHeader(f), { width: m.width, height: m.height, components: m.channels });
    }
  });

  it('gives undefined (so libvips is asked) for what it does not handle', async () => {
    const jpeg = await rgb(20, 10).jpeg().toBuffer();
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    assert.ok(sof > 0);
    const patched = (at: number, v: number): Buffer => {
      const b = Buffer.from(jpeg);
      b[sof + at] = v;
      return b;
    };
    assert.equal(jpegHeader(patched(4, 12)), undefined, '12-bit precision');
    assert.equal(jpegHeader(patched(5, 0).fill(0, sof + 5, sof + 7)), undefined, 'height 0 (given later by DNL)');
    assert.equal(jpegHeader(patched(9, 2)), undefined, 'two components');
    assert.equal(jpegHeader(jpeg.subarray(0, sof)), undefined, 'cut before the frame header');
    assert.equal(jpegHeader(await rgb(4, 4).png().toBuffer()), undefined, 'not a JPEG');
    assert.equal(jpegHeader(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0, 2])), undefined, 'a scan before any frame');
    assert.equal(jpegHeader(Buffer.from([0xff, 0xd8, 0x12, 0x34, 0, 2])), undefined, 'garbage instead of a marker');
  });
});
