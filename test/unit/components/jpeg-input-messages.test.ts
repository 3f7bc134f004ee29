import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import type { Component } from '../../../src/components/api';
import jpegInput from '../../../src/components/builtin/jpeg-input';
import { jpegStructure } from '../../../src/components/builtin/jpeg-structure';
import { Code, isInferError } from '../../../src/errors';
import { Prng } from '../../../src/modelgen/prng';
import { callContext, componentContext, DEV_DIR, sharedFile } from './helpers';

/** Issue 22: "truncated" only for files that end early; the JPEG magic followed by anything else is not a JPEG. */

async function refusal(c: Component, data: Buffer): Promise<string> {
  try {
    await c.transformInput!({ kind: 'bin', data }, callContext());
  } catch (err) {
    assert.ok(isInferError(err), `not an InferError: ${String(err)}`);
    assert.equal(err.code, Code.INVALID_ARGUMENT, err.message);
    assert.doesNotMatch(err.message, /[\r\n]/, 'the message is one line');
    return err.message;
  }
  throw new Error(`${data.length} bytes were answered`);
}

async function realJpegs(): Promise<{ name: string; data: Buffer }[]> {
  const w = 400;
  const h = 300;
  const px = Buffer.alloc(w * h * 3);
  for (let i = 0; i < px.length; i++) px[i] = (i * 7 + ((i / 1200) | 0) * 3) & 255;
  const raw = { raw: { width: w, height: h, channels: 3 as const } };
  const out = [
    { name: 'baseline', data: await sharp(px, raw).jpeg({ quality: 85 }).toBuffer() },
    { name: 'progressive', data: await sharp(px, raw).jpeg({ progressive: true }).toBuffer() },
    // APP1 Exif, APP2 ICC_PROFILE and a COM segment, cut inside each of them too.
    {
      name: 'exif-icc',
      data: await sharp(px, raw).withMetadata({ orientation: 6, icc: 'p3' }).jpeg({ quality: 70 }).toBuffer(),
    },
  ];
  const dev = sharedFile(DEV_DIR);
  if (dev) {
    // Photos with ICC profiles, Photoshop and Exif segments and comments, not only what sharp writes.
    for (const f of readdirSync(dev)
      .filter((x) => x.endsWith('.JPEG'))
      .sort()
      .filter((_, i) => i % 20 === 0))
      out.push({ name: f, data: readFileSync(path.join(dev, f)) });
  } else console.log(`# ${DEV_DIR} absent in ../shared: generated JPEGs only`);
  return out;
}

describe('jpeg-input: messages say what is wrong (issue 22)', () => {
  it('JPEG magic followed by random bytes (600 seeded cases) is "not a decodable JPEG" with libvips\' reason', async () => {
    const c = await jpegInput.create({}, componentContext('TRANSFORMER'));
    const gen = new Prng(22);
    const reasons = new Set<string>();
    for (let k = 0; k < 600; k++) {
      // At least 16 random bytes: FF D8 FF E0 is also the start of every JFIF file, so a few bytes can be both.
      const data = Buffer.alloc(19 + (gen.nextUint32() % (k < 300 ? 64 : 40_000)));
      data.set([0xff, 0xd8, 0xff]);
      for (let i = 3; i < data.length; i++) data[i] = gen.nextUint32() & 255;
      const msg = await refusal(c, data);
      assert.match(msg, /^jpeg-input: not a decodable JPEG: \S.* \(binData of \d+ bytes\)$/, `case ${k}: ${msg}`);
      reasons.add(msg.replace(/^jpeg-input: not a decodable JPEG: (.*?) \(binData.*$/, '$1').replace(/0x\w+/g, ''));
    }
    // The decoder's own words, not one canned phrase.
    assert.ok(reasons.size >= 5, [...reasons].join(' | '));
    assert.ok([...reasons].some((r) => /VipsJpeg: /.test(r)));
    await c.close?.();
  });

  it('every cut of real JPEGs (baseline, progressive, Exif + ICC, dev photos), headers included, is "truncated"', async () => {
    const c = await jpegInput.create({}, componentContext('TRANSFORMER'));
    let cuts = 0;
    for (const { name, data } of await realJpegs()) {
      assert.equal(jpegStructure(data).kind, 'whole', name);
      // Every byte of the first 2 KB (the headers) and 60 points spread over the rest.
      const points = new Set<number>();
      for (let at = 3; at < Math.min(2048, data.length - 1); at++) points.add(at);
      for (let k = 1; k < 60; k++) points.add(Math.floor((data.length * k) / 60));
      for (const at of points) {
        const msg = await refusal(c, data.subarray(0, at));
        assert.match(
          msg,
          /^jpeg-input: truncated JPEG image \(binData of \d+ bytes\): /,
          `${name} cut at ${at}: ${msg}`,
        );
        cuts++;
      }
    }
    assert.ok(cuts > 6000, `${cuts} cuts`);
    await c.close?.();
  });

  it('a corrupt JPEG that is whole is "not a decodable JPEG", not "corrupt" nor "truncated"', async () => {
    const c = await jpegInput.create({}, componentContext('TRANSFORMER'));
    const jpg = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#123' } })
      .jpeg()
      .toBuffer();
    const bad = Buffer.from(jpg);
    for (let i = 20; i < bad.length - 2; i += 5) bad[i] = (bad[i] as number) ^ 0x5a;
    assert.match(await refusal(c, bad), /^jpeg-input: not a decodable JPEG: \S/);
    const text = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.from('not really a jpeg at all '.repeat(8))]);
    assert.match(await refusal(c, text), /^jpeg-input: not a decodable JPEG: .*Unsupported marker/);
    await c.close?.();
  });

  it('jpegStructure: whole, cut in a header, cut in the scan, and broken', async () => {
    const jpg = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#369' } })
      .jpeg()
      .toBuffer();
    assert.deepEqual(jpegStructure(jpg), { kind: 'whole' });
    assert.deepEqual(jpegStructure(Buffer.concat([jpg, Buffer.alloc(50)])), { kind: 'whole' });
    assert.match(JSON.stringify(jpegStructure(jpg.subarray(0, 30))), /"truncated".*ends inside the FF /);
    assert.match(JSON.stringify(jpegStructure(jpg.subarray(0, jpg.length - 10))), /"truncated".*scan data/);
    const noMarker = Buffer.from(jpg);
    noMarker[2 + 2 + noMarker.readUInt16BE(4)] = 0x12; // where the second segment's FF should be
    assert.match(JSON.stringify(jpegStructure(noMarker)), /"malformed".*byte 0x12 at offset \d+ where a marker/);
    const app5 = Buffer.from([0xff, 0xd8, 0xff, 0xe5, 0x90, 0x00, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert.match(JSON.stringify(jpegStructure(app5)), /"malformed".*FF E5 .*not a known kind/);
    const exif = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe1, 0x90, 0x00]), Buffer.from('Exif\0\0MM\0*')]);
    assert.match(JSON.stringify(jpegStructure(exif)), /"truncated".*FF E1 segment/);
  });
});
