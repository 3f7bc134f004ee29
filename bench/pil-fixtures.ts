/**
 * Writes the images of test/fixtures/pil-convert: small images in the formats and modes where Pillow's
 * Image.convert('RGB') and libvips' defaults part ways (grey, CMYK with and without the Adobe marker, palette with and
 * without transparency, RGBA, grey+alpha, 16-bit RGB/RGBA/grey/grey+alpha, EXIF orientation, a Display-P3 ICC
 * profile, WebP with alpha, progressive 4:2:0), some larger and some
 * smaller than the resize target. Then run expected.py there
 * (Pillow + numpy) to write what torchvision's transform gives for each; the unit test compares jpeg-input with that.
 * The images are committed, so sharp/libvips upgrades cannot change the inputs under the expectations.
 *
 *   node dist/bench/pil-fixtures.js && (cd test/fixtures/pil-convert && python3 expected.py)
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

const OUT = path.resolve(__dirname, '../../test/fixtures/pil-convert');

/** Smooth gradients plus a little texture: compressible, yet every resampling tap matters. */
function pixels(w: number, h: number, channels: 3 | 4): Buffer {
  const b = Buffer.alloc(w * h * channels);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const px = [(x * 255) / w, (y * 255) / h, ((x ^ y) * 5) & 255, (x * 3 + y * 2) & 255];
      b.set(px.slice(0, channels).map(Math.floor), (y * w + x) * channels);
    }
  }
  return b;
}

const img = (w: number, h: number, channels: 3 | 4): sharp.Sharp =>
  sharp(pixels(w, h, channels), { raw: { width: w, height: h, channels } });

/**
 * 16-bit samples whose low bytes matter: Pillow keeps the high byte of RGB(A) (rounding would differ) and clips grey
 * to 0..255 (so the grey values span both sides of 255).
 */
function img16(w: number, h: number, channels: 1 | 2 | 3 | 4): sharp.Sharp {
  const b = new Uint16Array(w * h * channels);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const grey = [Math.floor((x * 600) / w) + y, 40000 + x * 99];
      const px = channels <= 2 ? grey : [(x * 65535) / w, (y * 65535) / h, (x * y * 997) % 65536, 40000 + x * 99];
      b.set(px.slice(0, channels).map(Math.floor), (y * w + x) * channels);
    }
  }
  return sharp(b, { raw: { width: w, height: h, channels } }).toColourspace(channels <= 2 ? 'grey16' : 'rgb16');
}

/** The JPEG without its APP14 (Adobe) segments: Pillow assumes Adobe-inverted CMYK regardless. */
function stripAdobe(jpg: Buffer): Buffer {
  const parts = [jpg.subarray(0, 2)];
  for (let i = 2; i < jpg.length;) {
    const marker = jpg[i + 1];
    if (jpg[i] !== 0xff || marker === undefined) throw new Error(`no JPEG marker at ${i}`);
    if (marker === 0xda) {
      parts.push(jpg.subarray(i));
      break;
    }
    const len = jpg.readUInt16BE(i + 2);
    if (marker !== 0xee) parts.push(jpg.subarray(i, i + 2 + len));
    i += 2 + len;
  }
  return Buffer.concat(parts);
}

async function main(): Promise<void> {
  const big: [number, number] = [203, 151];
  const small: [number, number] = [47, 38];
  const medium: [number, number] = [97, 73];
  const files: Record<string, Promise<Buffer>> = {
    'rgb-reduce.jpg': img(...big, 3)
      .jpeg({ quality: 90 })
      .toBuffer(),
    'rgb-enlarge.jpg': img(...small, 3)
      .jpeg({ quality: 90 })
      .toBuffer(),
    'progressive-420.jpg': img(...big, 3)
      .jpeg({ progressive: true, chromaSubsampling: '4:2:0' })
      .toBuffer(),
    'grey.jpg': img(...big, 3)
      .toColourspace('b-w')
      .jpeg()
      .toBuffer(),
    'cmyk.jpg': img(...big, 3)
      .toColourspace('cmyk')
      .jpeg()
      .toBuffer(),
    'cmyk-no-adobe.jpg': img(...small, 3)
      .toColourspace('cmyk')
      .jpeg()
      .toBuffer()
      .then(stripAdobe),
    'exif6.jpg': img(...big, 3)
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer(),
    'exif3-enlarge.jpg': img(...small, 3)
      .jpeg()
      .withMetadata({ orientation: 3 })
      .toBuffer(),
    'display-p3.jpg': img(...big, 3)
      .jpeg()
      .withIccProfile('p3')
      .toBuffer(),
    'palette.png': img(...big, 3)
      .png({ palette: true, colours: 64 })
      .toBuffer(),
    'palette-alpha.png': img(...small, 4)
      .png({ palette: true })
      .toBuffer(),
    'rgba.png': img(...medium, 4)
      .png()
      .toBuffer(),
    'grey-alpha.png': img(...medium, 4)
      .toColourspace('b-w')
      .png()
      .toBuffer(),
    'rgb16.png': img16(...small, 3)
      .png()
      .toBuffer(),
    'rgba16.png': img16(...medium, 4)
      .png()
      .toBuffer(),
    'grey16.png': img16(...medium, 1)
      .png()
      .toBuffer(),
    'grey-alpha16.png': img16(...small, 2)
      .png()
      .toBuffer(),
    'rgba.webp': img(...big, 4)
      .webp({ quality: 80 })
      .toBuffer(),
  };
  for (const [name, data] of Object.entries(files)) {
    const b = await data;
    writeFileSync(path.join(OUT, name), b);
    const m = await sharp(b).metadata();
    const orientation = m.orientation ?? '-';
    const what = `${m.space} ${m.channels}ch ${m.depth} alpha=${m.hasAlpha} icc=${!!m.icc} orientation=${orientation}`;
    console.log(`${name}: ${m.width}x${m.height} ${what} ${b.length} B`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
