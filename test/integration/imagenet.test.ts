import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { evaluate } from '../../src/client/eval';
import { SeldonClient } from '../../src/client/seldon-client';
import { Code, InferError } from '../../src/errors';
import { ensureModels } from '../../src/modelgen/generate';
import { REPO, SHARED, upGraph, type RunningGraph } from '../helpers/graph-process';

const MOBILENET = path.join(SHARED, 'models/mobilenetv2-12-int8.onnx');
const DEV = path.join(SHARED, 'imagenet/dev');
const LABELS = path.join(SHARED, 'imagenet/labels.tsv');
const sharedMissing = [MOBILENET, DEV, LABELS].filter((f) => !existsSync(f));

async function testJpeg(): Promise<Buffer> {
  const w = 500;
  const h = 375;
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.set([(x * 255) / w, (y * 255) / h, 128], (y * w + x) * 3);
  return sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

describe('ImageNet ensemble graph (synthetic ResNet-50 + DenseNet-169) as five real processes', () => {
  let g: RunningGraph;
  let client: SeldonClient;
  before(async () => {
    await ensureModels(path.join(REPO, 'models/generated'));
    g = await upGraph(path.join(REPO, 'graphs/imagenet-ensemble.yaml'));
    client = new SeldonClient(g.address);
  });
  after(async () => {
    client?.close();
    await g?.stop();
  });

  it('classifies a JPEG end to end and says the weights are synthetic', async () => {
    assert.equal(g.procs.size, 6);
    const reply = await client.predict({ kind: 'bin', data: await testJpeg() });
    assert.equal(reply.payload.kind, 'json');
    const d = (reply.payload as unknown as { data: { predictions: { index: number; score: number; topK: { index: number; score: number }[] }[]; synthetic?: boolean; note?: string } }).data;
    const p = d.predictions[0];
    assert.ok(p && Number.isInteger(p.index) && p.index >= 0 && p.index < 1000);
    // The ensemble averages two softmaxes: a probability.
    assert.ok(p.score > 0 && p.score <= 1);
    assert.equal(p.topK.length, 5);
    assert.ok(p.topK.every((x, i, a) => i === 0 || (a[i - 1] as { score: number }).score >= x.score));
    assert.equal(d.synthetic, true);
    assert.match(d.note ?? '', /synthetic/);
    assert.deepEqual(Object.keys(reply.meta.requestPath).sort(), ['densenet169', 'ensemble', 'jpeg-input', 'resnet50', 'top1']);
  });

  it('a corrupt JPEG is INVALID_ARGUMENT from jpeg-input, and the graph keeps serving', async () => {
    const good = await testJpeg();
    const cases: [Buffer, RegExp][] = [
      [Buffer.alloc(0), /empty/i],
      [good.subarray(0, Math.floor(good.length / 2)), /truncated|corrupt|premature/i],
      [Buffer.from('this is not an image at all'), /is not a JPEG, PNG or WebP image/],
    ];
    for (const [data, re] of cases) {
      const err = await client.predict({ kind: 'bin', data }).then(
        () => assert.fail('expected INVALID_ARGUMENT'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof InferError);
      assert.equal(err.code, Code.INVALID_ARGUMENT, err.message);
      assert.match(err.message, /node 'jpeg-input'/);
      assert.match(err.message, re);
    }
    const ok = await client.predict({ kind: 'bin', data: good });
    assert.equal(ok.payload.kind, 'json');
  });
});

describe('accuracy: real MobileNetV2 graph over ImageNet dev-100, as real processes', { skip: sharedMissing.length ? `missing ${sharedMissing.join(', ')} (the shared data folder beside the project)` : false }, () => {
  let g: RunningGraph;
  before(async () => {
    g = await upGraph(path.join(REPO, 'graphs/imagenet-mobilenet.yaml'), [], { INFERGRAPH_SHARED: SHARED });
  });
  after(async () => {
    await g?.stop();
  });

  it('reaches top-1 >= 80 % (in-process reference with this preprocessing: 82.0 %)', async () => {
    const r = await evaluate({ address: g.address, imagesDir: DEV, labelsFile: LABELS, concurrency: 2, progress: false });
    console.log(`dev-100 through the graph: top-1 ${(100 * r.top1).toFixed(1)} %, top-5 ${r.top5 === null ? 'n/a' : (100 * r.top5).toFixed(1)} %, p50 ${r.latencyMs.p50.toFixed(1)} ms`);
    assert.equal(r.images, 100);
    assert.deepEqual(r.errors, []);
    assert.ok(r.top1 >= 0.8, `top-1 ${r.top1}`);
    assert.ok(r.top5 !== null && r.top5 >= r.top1);
  });
});
