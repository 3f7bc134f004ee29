import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { evaluate } from '../../src/client/eval';
import { SeldonClient } from '../../src/client/seldon-client';
import { Code, InferError } from '../../src/errors';
import { ensureModels } from '../../src/modelgen/generate';
import { CLI, REPO, SHARED, upGraph, type RunningGraph } from '../helpers/graph-process';

/** Runs the infergraph CLI; resolves with stdout, rejects with stderr on a non-zero exit. */
function runCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

const MOBILENET = path.join(SHARED, 'models/mobilenetv2-12-int8.onnx');
const DEV = path.join(SHARED, 'imagenet/dev');
const LABELS = path.join(SHARED, 'imagenet/labels.tsv');
const REFERENCE = path.join(SHARED, 'imagenet/reference/predictions.tsv');
const sharedMissing = [MOBILENET, DEV, LABELS, REFERENCE].filter((f) => !existsSync(f));

async function testJpeg(): Promise<Buffer> {
  const w = 500;
  const h = 375;
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.set([(x * 255) / w, (y * 255) / h, 128], (y * w + x) * 3);
  return sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
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
    const d = (
      reply.payload as unknown as {
        data: {
          predictions: { index: number; score: number; topK: { index: number; score: number }[] }[];
          synthetic?: boolean;
          note?: string;
        };
      }
    ).data;
    const p = d.predictions[0];
    assert.ok(p && Number.isInteger(p.index) && p.index >= 0 && p.index < 1000);
    // The ensemble averages two softmaxes: a probability.
    assert.ok(p.score > 0 && p.score <= 1);
    assert.equal(p.topK.length, 5);
    assert.ok(p.topK.every((x, i, a) => i === 0 || (a[i - 1] as { score: number }).score >= x.score));
    assert.equal(d.synthetic, true);
    assert.match(d.note ?? '', /synthetic/);
    assert.deepEqual(Object.keys(reply.meta.requestPath).sort(), [
      'densenet169',
      'ensemble',
      'jpeg-input',
      'resnet50',
      'top1',
    ]);
  });

  it('a corrupt JPEG is INVALID_ARGUMENT from jpeg-input, and the graph keeps serving', async () => {
    const good = await testJpeg();
    const cases: [Buffer, RegExp][] = [
      [Buffer.alloc(0), /empty/i],
      [good.subarray(0, Math.floor(good.length / 2)), /truncated JPEG image/],
      [Buffer.concat([good.subarray(0, 3), Buffer.alloc(200, 0x1c)]), /not a decodable JPEG: /],
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

describe(
  'accuracy: real MobileNetV2 graph over ImageNet dev-100, as real processes',
  {
    skip: sharedMissing.length
      ? `missing ${sharedMissing.join(', ')} (the shared data folder beside the project)`
      : false,
  },
  () => {
    let g: RunningGraph;
    before(async () => {
      g = await upGraph(path.join(REPO, 'graphs/imagenet-mobilenet.yaml'), [], { INFERGRAPH_SHARED: SHARED });
    });
    after(async () => {
      await g?.stop();
    });

    it('agrees with the torchvision reference on >= 99 of 100 images; top-1 >= 80 % (reference 82 %)', async () => {
      const r = await evaluate({
        address: g.address,
        imagesDir: DEV,
        labelsFile: LABELS,
        concurrency: 2,
        progress: false,
        referenceFile: REFERENCE,
      });
      const a = r.reference;
      assert.ok(a, 'evaluate reports the reference agreement');
      const pct = (x: number | null): string => (x === null ? 'n/a' : `${(100 * x).toFixed(1)} %`);
      console.log(
        `dev-100 through the graph: top-1 ${pct(r.top1)}, top-5 ${pct(r.top5)}, p50 ${r.latencyMs.p50.toFixed(1)} ms; ` +
          `reference agreement ${a.top1Agree}/${a.compared}, top-5 overlap ${pct(a.top5Overlap)}; ` +
          `disagree: ${JSON.stringify(a.disagree)}`,
      );
      assert.equal(r.images, 100);
      assert.deepEqual(r.errors, []);
      assert.equal(a.compared, 100);
      assert.deepEqual(a.notInReference, []);
      assert.ok(a.top1Agree >= 99, `agrees on ${a.top1Agree}/100: ${JSON.stringify(a.disagree)}`);
      assert.equal(a.disagree.length, 100 - a.top1Agree);
      assert.ok(a.top5Overlap !== null && a.top5Overlap >= 0.95, `top-5 overlap ${a.top5Overlap}`);
      assert.ok(r.top1 >= 0.8, `top-1 ${r.top1}`);
      assert.ok(r.top5 !== null && r.top5 >= r.top1);
    });

    it('`infergraph eval --reference` prints the agreement and the disagreeing images', async () => {
      // A reference that disagrees on purpose for one of the first five images, written next to the real one's lines.
      const lines = readFileSync(REFERENCE, 'utf8').trim().split('\n');
      const first = (lines[1] as string).split('\t');
      const wrong = (Number(first[1]) + 1) % 1000;
      const edited = [lines[0], `${first[0]}\t${wrong}`, ...lines.slice(2)].join('\n');
      const dir = mkdtempSync(path.join(tmpdir(), 'infergraph-ref-'));
      const file = path.join(dir, 'predictions.tsv');
      writeFileSync(file, edited);
      try {
        const flags = ['--addr', g.address, '--images', DEV, '--labels', LABELS, '--limit', '5', '--reference', file];
        const out = await runCli(['eval', ...flags]);
        assert.match(out, /reference .*predictions\.tsv: top-1 agreement 4\/5 \(80\.0 %\)   top-5 overlap: \d+\.\d %/);
        assert.match(out, /top-5 overlap: \d+\.\d % \(over the 4 images with a top-5 in both\)/);
        assert.ok(out.includes(`disagrees: ${first[0]}: got ${first[1]}, reference ${wrong}`), out);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
