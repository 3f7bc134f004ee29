/**
 * graphs/imagenet-ensemble-int8.yaml as real processes, serving int8 models that `models generate --int8` makes.
 * They are quantised here into a temporary folder on a few calibration images (seconds, not minutes), so the
 * project's models/generated keeps only fully calibrated files.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { SeldonClient } from '../../src/client/seldon-client';
import { ensureModels } from '../../src/modelgen/generate';
import { ensureInt8Models } from '../../src/modelgen/generate-int8';
import { REPO, SHARED, upGraph, type RunningGraph } from '../helpers/graph-process';

const DEV = path.join(SHARED, 'imagenet/dev');

describe('ImageNet ensemble with int8 models (graphs/imagenet-ensemble-int8.yaml) as real processes', () => {
  let dir: string;
  let g: RunningGraph | undefined;
  let client: SeldonClient;
  before(async () => {
    const generated = path.join(REPO, 'models/generated');
    await ensureModels(generated);
    dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-int8-'));
    const fp32 = path.join(dir, 'fp32');
    mkdirSync(fp32);
    for (const f of ['resnet50.onnx', 'densenet169.onnx']) symlinkSync(path.join(generated, f), path.join(fp32, f));
    await ensureInt8Models(fp32, { calibration: existsSync(DEV) ? DEV : undefined, maxImages: 3 });
    const manifest = readFileSync(path.join(REPO, 'graphs/imagenet-ensemble-int8.yaml'), 'utf8').replaceAll(
      '../models/generated/',
      `${fp32}/`,
    );
    assert.ok(manifest.includes(`${fp32}/resnet50-int8.onnx`) && manifest.includes(`${fp32}/densenet169-int8.onnx`));
    writeFileSync(path.join(dir, 'graph.yaml'), manifest);
    g = await upGraph(path.join(dir, 'graph.yaml'));
    client = new SeldonClient(g.address);
  });
  after(async () => {
    client?.close();
    await g?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('classifies a JPEG end to end through the int8 models', async () => {
    const px = Buffer.alloc(320 * 240 * 3).map((_, i) => (i * 7) % 251);
    const jpeg = await sharp(px, { raw: { width: 320, height: 240, channels: 3 } })
      .jpeg()
      .toBuffer();
    const reply = await client.predict({ kind: 'bin', data: jpeg });
    assert.equal(reply.payload.kind, 'json');
    type Answer = { data: { predictions: { index: number; score: number }[]; synthetic?: boolean } };
    const d = (reply.payload as unknown as Answer).data;
    const p = d.predictions[0];
    assert.ok(p && Number.isInteger(p.index) && p.index >= 0 && p.index < 1000);
    assert.ok(p.score > 0 && p.score <= 1, `an average of two softmaxes: ${p.score}`);
    assert.equal(d.synthetic, true, 'the int8 files keep the synthetic marker of their fp32 source');
    const path_ = Object.keys(reply.meta.requestPath).sort();
    assert.deepEqual(path_, ['densenet169', 'ensemble', 'jpeg-input', 'resnet50', 'top1']);
  });
});
