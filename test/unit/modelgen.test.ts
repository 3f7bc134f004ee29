// The synthetic model generator: exact torchvision parameter counts, files onnxruntime loads and runs with finite,
// input-dependent logits, metadata that says "synthetic", byte-for-byte determinism, and ensureModels' keep /
// regenerate / refuse decisions. Both full-size models are generated once (about 2 s) and shared by the tests.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { ConfigError } from '../../src/errors';
import {
  type Arch,
  ARCHS,
  buildModel,
  ensureModels,
  EXPECTED_PARAMS,
  type GeneratedModel,
  GENERATOR_VERSION,
  META_KEYS,
  SYNTHETIC_NOTE,
} from '../../src/modelgen/generate';
import { OnnxGraphBuilder } from '../../src/modelgen/onnx-builder';
import { readOnnxMetadata } from '../../src/modelgen/onnx-metadata';
import { Prng } from '../../src/modelgen/prng';

const SEED = 1;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function randomImage(seed: number, batch = 1): Tensor {
  const data = new Float32Array(batch * 3 * 224 * 224);
  new Prng(seed).fillNormal(data, 1);
  return new Tensor('float32', data, [batch, 3, 224, 224]);
}

function tinyModel(metadata: ReadonlyArray<readonly [string, string]>): Buffer {
  const g = new OnnxGraphBuilder('tiny');
  g.addInput('x', ['n', 4]);
  g.addOutput('y', ['n', 4]);
  g.addNode('Relu', ['x'], ['y']);
  return g.encode({ producerName: 'test', producerVersion: '0', docString: 'tiny', metadata });
}

describe('modelgen prng', () => {
  it('is deterministic per seed and roughly standard normal', () => {
    const a = new Prng(42).fillNormal(new Float32Array(20_000), 1);
    const b = new Prng(42).fillNormal(new Float32Array(20_000), 1);
    const c = new Prng(43).fillNormal(new Float32Array(20_000), 1);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
    assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 0.05, `variance ${variance}`);
  });

  it('rejects seeds that are not uint32', () => {
    assert.throws(() => new Prng(-1), RangeError);
    assert.throws(() => new Prng(2 ** 32), RangeError);
    assert.throws(() => new Prng(1.5), RangeError);
  });
});

describe('modelgen synthetic ImageNet models', () => {
  let dir = '';
  const made = new Map<Arch, GeneratedModel>();

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'infergraph-modelgen-'));
    for (const m of await ensureModels(path.join(dir, 'models'), { seed: SEED })) made.set(m.arch, m);
  });

  after(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const model = (arch: Arch): GeneratedModel => {
    const m = made.get(arch);
    assert.ok(m, `${arch} was not generated`);
    return m;
  };

  it('has exactly torchvision trainable parameter counts', () => {
    assert.equal(EXPECTED_PARAMS.resnet50, 25_557_032);
    assert.equal(EXPECTED_PARAMS.densenet169, 14_149_480);
    for (const arch of ARCHS) {
      assert.equal(model(arch).params, EXPECTED_PARAMS[arch], arch);
      assert.equal(model(arch).reused, false);
      assert.equal(path.basename(model(arch).path), `${arch}.onnx`);
    }
    // float32 weights plus BN running stats dominate the file: at least 4 bytes per parameter.
    assert.ok(model('resnet50').bytes > 4 * EXPECTED_PARAMS.resnet50);
    assert.ok(model('densenet169').bytes > 4 * EXPECTED_PARAMS.densenet169);
  });

  for (const arch of ARCHS) {
    it(`${arch}: onnxruntime runs it and the logits are finite and input-dependent`, async () => {
      const session = await InferenceSession.create(model(arch).path, { intraOpNumThreads: 2, interOpNumThreads: 1 });
      try {
        assert.deepEqual(session.inputNames, ['input']);
        assert.deepEqual(session.outputNames, ['output']);
        const input = session.inputMetadata[0];
        assert.ok(input?.isTensor);
        assert.deepEqual(input.shape, ['batch_size', 3, 224, 224]);

        const outputs: Float32Array[] = [];
        for (const seed of [11, 12]) {
          const out = (await session.run({ input: randomImage(seed) }))['output'];
          assert.ok(out);
          assert.deepEqual(out.dims, [1, 1000]);
          assert.equal(out.type, 'float32');
          const logits = out.data as Float32Array;
          assert.ok(logits.every(Number.isFinite), 'all logits finite');
          const min = Math.min(...logits);
          const max = Math.max(...logits);
          assert.ok(max - min > 1e-3, `logits not constant (range ${min}..${max})`);
          outputs.push(logits);
        }
        assert.notDeepEqual(outputs[0], outputs[1], 'different images give different logits');

        // The batch dimension is symbolic: a batch of 2 works too, and row 0 matches the batch-1 answer.
        // randomImage(11, 2) starts with the same values as randomImage(11).
        const batched = (await session.run({ input: randomImage(11, 2) }))['output'];
        assert.deepEqual(batched?.dims, [2, 1000]);
        const row0 = (batched?.data as Float32Array).subarray(0, 1000);
        const first = outputs[0] ?? new Float32Array();
        for (let i = 0; i < 1000; i++) {
          assert.ok(Math.abs((row0[i] ?? NaN) - (first[i] ?? NaN)) <= 1e-3 * (1 + Math.abs(first[i] ?? 0)));
        }
      } finally {
        await session.release();
      }
    });
  }

  it('says it is synthetic in doc_string and metadata_props', async () => {
    for (const arch of ARCHS) {
      const info = await readOnnxMetadata(model(arch).path);
      assert.equal(info.metadata[META_KEYS.synthetic], 'true');
      assert.equal(info.metadata[META_KEYS.arch], arch);
      assert.equal(info.metadata[META_KEYS.seed], String(SEED));
      assert.equal(info.metadata[META_KEYS.note], SYNTHETIC_NOTE);
      assert.equal(info.metadata[META_KEYS.params], String(EXPECTED_PARAMS[arch]));
      assert.equal(info.metadata[META_KEYS.generator], GENERATOR_VERSION);
      assert.match(info.docString ?? '', /SYNTHETIC/);
      assert.match(info.docString ?? '', /meaningless/);
      assert.equal(info.producerName, 'infergraph-modelgen');
    }
  });

  it('is deterministic: same seed gives the same bytes, another seed different bytes', async () => {
    for (const arch of ARCHS) {
      const again = buildModel(arch, SEED);
      assert.equal(sha256(again.bytes), model(arch).sha256, `${arch} seed ${SEED} rebuilt`);
      assert.equal(sha256(await fs.readFile(model(arch).path)), model(arch).sha256, `${arch} file hash`);
    }
    const other = buildModel('densenet169', SEED + 1);
    assert.equal(other.params, EXPECTED_PARAMS.densenet169);
    assert.notEqual(sha256(other.bytes), model('densenet169').sha256);
  });

  it('ensureModels keeps current files', async () => {
    const lines: string[] = [];
    const again = await ensureModels(path.join(dir, 'models'), { seed: SEED, log: (l) => lines.push(l) });
    for (const m of again) {
      assert.equal(m.reused, true);
      assert.equal(m.ms, 0);
      assert.equal(m.sha256, model(m.arch).sha256);
      assert.equal(m.params, EXPECTED_PARAMS[m.arch]);
    }
    assert.equal(lines.filter((l) => l.includes('kept')).length, 2);
  });

  it('ensureModels regenerates a synthetic file with another seed and leaves no temporary files', async () => {
    const stale = path.join(dir, 'stale');
    await fs.mkdir(stale);
    await fs.writeFile(
      path.join(stale, 'resnet50.onnx'),
      tinyModel([
        [META_KEYS.synthetic, 'true'],
        [META_KEYS.arch, 'resnet50'],
        [META_KEYS.seed, '99'],
        [META_KEYS.generator, GENERATOR_VERSION],
      ]),
    );
    const lines: string[] = [];
    const result = await ensureModels(stale, { seed: SEED, log: (l) => lines.push(l) });
    assert.deepEqual(
      result.map((m) => [m.arch, m.reused, m.sha256]),
      ARCHS.map((a) => [a, false, model(a).sha256]),
    );
    assert.ok(
      lines.some((l) => l.includes('seed 99')),
      lines.join('\n'),
    );
    assert.deepEqual((await fs.readdir(stale)).sort(), ['densenet169.onnx', 'resnet50.onnx']);
  });

  it('ensureModels refuses to overwrite a model that is not ours', async () => {
    const foreign = path.join(dir, 'foreign');
    await fs.mkdir(foreign);
    const file = path.join(foreign, 'resnet50.onnx');
    const bytes = tinyModel([['source', 'someone else']]);
    await fs.writeFile(file, bytes);
    await assert.rejects(ensureModels(foreign), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /not an infergraph synthetic model/);
      return true;
    });
    assert.deepEqual(await fs.readFile(file), bytes, 'foreign file untouched');

    await fs.writeFile(file, 'not a protobuf at all \x07\x07');
    await assert.rejects(ensureModels(foreign), ConfigError);
  });

  it('readOnnxMetadata reads a model written by another tool', async (t) => {
    const real = path.resolve(__dirname, '../../../../shared/models/mobilenetv2-12-int8.onnx');
    try {
      await fs.access(real);
    } catch {
      t.skip(`${real} is missing (shared data not present)`);
      return;
    }
    const info = await readOnnxMetadata(real);
    assert.equal(info.producerName, 'onnx.quantize');
    assert.equal(info.metadata[META_KEYS.synthetic], undefined);
  });
});
