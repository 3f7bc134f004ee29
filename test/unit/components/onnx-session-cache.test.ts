/**
 * onnx-model's optimised-graph cache (src/components/builtin/onnx-session-cache.ts), with real onnxruntime sessions:
 * a hit gives the same bytes out as a session made from the model, and a corrupt, truncated, stale or unusable
 * cache never stops a model from loading.
 */
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { sessionOptions } from '../../../src/components/builtin/onnx-model';
import onnxModel from '../../../src/components/builtin/onnx-model';
import {
  cacheDirFor,
  createCachedSession,
  type CachedSession,
} from '../../../src/components/builtin/onnx-session-cache';
import { buildSmallCnn } from '../../../src/modelgen/small-cnn';
import { Prng } from '../../../src/modelgen/prng';
import { callContext, componentContext, MOBILENET, sharedFile } from './helpers';

const create = (file: string, o: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> =>
  ort.InferenceSession.create(file, o);
const VERSION = ort.env.versions.common;

const options = (level: 'disabled' | 'basic' | 'extended' | 'all' = 'all'): ort.InferenceSession.SessionOptions =>
  sessionOptions({ intraOpThreads: 1, interOpThreads: 1, spinning: false, graphOptimization: level });

/** A few seeded inputs in [-2, 2) for a model's one input. */
function inputs(shape: number[], n = 3): Float32Array[] {
  const rng = new Prng(7);
  const size = shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, () => rng.fillUniform(new Float32Array(size), -2, 2));
}

/** The raw bytes of the session's first output for each input. */
async function outputs(s: ort.InferenceSession, shape: number[]): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const x of inputs(shape)) {
    const r = await s.run({ [s.inputNames[0] as string]: new ort.Tensor('float32', x, shape) });
    const t = r[s.outputNames[0] as string] as ort.Tensor;
    const d = t.data as Float32Array;
    out.push(Buffer.from(d.buffer, d.byteOffset, d.byteLength));
  }
  return out;
}

async function release(c: CachedSession): Promise<void> {
  await c.session.release();
}

const entries = (dir: string): string[] => readdirSync(dir).filter((n) => !n.startsWith('.'));

describe('onnx-model: optimised-graph cache', () => {
  let dir: string;
  let model: string;
  const SHAPE = [1, 3, 32, 32];
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'infergraph-ortcache-'));
    model = path.join(dir, 'cnn.onnx');
    writeFileSync(model, buildSmallCnn({ size: 32, width: 16, blocks: 2, seed: 1 }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const level of ['all', 'extended', 'basic', 'disabled'] as const) {
    it(`graphOptimization ${level}: built, then hit; outputs bit-identical to a session without the cache`, async () => {
      const cache = path.join(dir, `cache-${level}`);
      const ref = await create(model, options(level));
      const want = await outputs(ref, SHAPE);
      await ref.release();

      const built = await createCachedSession(create, model, options(level), {
        dir: cache,
        write: true,
        ortVersion: VERSION,
      });
      assert.equal(built.cache.state, 'built', JSON.stringify(built.cache));
      assert.deepEqual(await outputs(built.session, SHAPE), want);
      await release(built);
      const [entry] = entries(cache);
      assert.ok(entry, 'one entry written');
      const files = readdirSync(path.join(cache, entry)).sort();
      assert.deepEqual(files, ['meta.json', 'model.onnx', 'model.onnx.data'], 'weights in their own (mapped) file');
      assert.equal(statSync(cache).mode & 0o777, 0o700, 'the cache folder is private');

      const hit = await createCachedSession(create, model, options(level), {
        dir: cache,
        write: true,
        ortVersion: VERSION,
      });
      assert.deepEqual(hit.cache, { state: 'hit', entry: path.join(cache, entry) });
      assert.deepEqual(await outputs(hit.session, SHAPE), want);
      assert.deepEqual(
        hit.session.inputMetadata.map((m) => (m.isTensor ? [m.name, m.type, m.shape] : m.name)),
        [['input', 'float32', ['batch_size', 3, 32, 32]]],
        'the cached graph keeps the symbolic batch dimension',
      );
      await release(hit);
    });
  }

  it('a real int8 model (MobileNetV2) gives the same bytes from the cache', async (t) => {
    const mobilenet = sharedFile(MOBILENET);
    if (!mobilenet) return t.skip(`../shared/${MOBILENET} is absent`);
    const shape = [1, 3, 224, 224];
    const cache = path.join(dir, 'cache-int8');
    const ref = await create(mobilenet, options());
    const want = await outputs(ref, shape);
    await ref.release();
    for (const state of ['built', 'hit']) {
      const c = await createCachedSession(create, mobilenet, options(), {
        dir: cache,
        write: true,
        ortVersion: VERSION,
      });
      assert.equal(c.cache.state, state);
      assert.deepEqual(await outputs(c.session, shape), want);
      await release(c);
    }
  });

  it('a corrupt graph file is ignored and rebuilt; so is a truncated weights file', async () => {
    const cache = path.join(dir, 'cache-corrupt');
    const want = await (async () => {
      const s = await create(model, options());
      const o = await outputs(s, SHAPE);
      await s.release();
      return o;
    })();
    await release(
      await createCachedSession(create, model, options(), { dir: cache, write: true, ortVersion: VERSION }),
    );
    const [entry] = entries(cache);
    const graph = path.join(cache, entry as string, 'model.onnx');
    // Same size, garbage content: passes the size check, fails in onnxruntime.
    writeFileSync(graph, Buffer.alloc(statSync(graph).size, 0xa5));
    const rebuilt = await createCachedSession(create, model, options(), {
      dir: cache,
      write: true,
      ortVersion: VERSION,
    });
    assert.equal(rebuilt.cache.state, 'built');
    assert.deepEqual(await outputs(rebuilt.session, SHAPE), want);
    await release(rebuilt);

    truncateSync(path.join(cache, entry as string, 'model.onnx.data'), 100);
    const again = await createCachedSession(create, model, options(), { dir: cache, write: true, ortVersion: VERSION });
    assert.equal(again.cache.state, 'built', 'a truncated weights file fails the size check');
    assert.deepEqual(await outputs(again.session, SHAPE), want);
    await release(again);
    const hit = await createCachedSession(create, model, options(), { dir: cache, write: true, ortVersion: VERSION });
    assert.equal(hit.cache.state, 'hit', 'the rebuilt entry is good');
    await release(hit);
  });

  it('a changed model file gets a new entry (not the stale graph); the old one is removed', async () => {
    const cache = path.join(dir, 'cache-stale');
    const file = path.join(dir, 'changing.onnx');
    writeFileSync(file, buildSmallCnn({ size: 32, width: 16, blocks: 2, seed: 1 }));
    await release(await createCachedSession(create, file, options(), { dir: cache, write: true, ortVersion: VERSION }));
    const [old] = entries(cache);
    writeFileSync(file, buildSmallCnn({ size: 32, width: 16, blocks: 2, seed: 2 }));
    const ref = await create(file, options());
    const want = await outputs(ref, SHAPE);
    await ref.release();
    const c = await createCachedSession(create, file, options(), { dir: cache, write: true, ortVersion: VERSION });
    assert.equal(c.cache.state, 'built');
    assert.deepEqual(await outputs(c.session, SHAPE), want, 'the new weights, not the cached old ones');
    await release(c);
    const now = entries(cache);
    assert.equal(now.length, 1);
    assert.notEqual(now[0], old);
    // Other options are another entry too.
    const other = await createCachedSession(create, file, options('basic'), {
      dir: cache,
      write: true,
      ortVersion: VERSION,
    });
    assert.equal(other.cache.state, 'built');
    await release(other);
  });

  it('a folder that cannot be written, or that others could write to, leaves the model loading as without it', async () => {
    const want = await (async () => {
      const s = await create(model, options());
      const o = await outputs(s, SHAPE);
      await s.release();
      return o;
    })();
    const aFile = path.join(dir, 'a-file');
    writeFileSync(aFile, 'x');
    const readOnly = path.join(dir, 'read-only');
    mkdirSync(readOnly, { mode: 0o500 });
    const shared = path.join(dir, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    const cases: [string, RegExp][] = [
      [path.join(aFile, 'cache'), /cannot use .*(ENOTDIR|EEXIST)/],
      // Root ignores mode bits; a pseudo file system refuses root as well.
      process.getuid?.() === 0 ? ['/proc/infergraph-no-cache', /cannot use/] : [readOnly, /cannot write|EACCES/],
      [shared, /writable by others \(mode 777\)/],
    ];
    if (process.getuid?.() === 0) {
      const foreign = path.join(dir, 'foreign');
      mkdirSync(foreign, { mode: 0o700 });
      chownSync(foreign, 65534, 65534);
      cases.push([foreign, /belongs to another user \(uid 65534\)/]);
    }
    for (const [cache, why] of cases) {
      const c = await createCachedSession(create, model, options(), { dir: cache, write: true, ortVersion: VERSION });
      assert.equal(c.cache.state, 'off', cache);
      if (c.cache.state === 'off') assert.match(c.cache.reason, why);
      assert.deepEqual(await outputs(c.session, SHAPE), want);
      await release(c);
    }
    assert.deepEqual(readdirSync(shared), [], 'nothing written where others can write');
  });

  it('an instance that does not write (instances > 1) uses an entry but never makes one', async () => {
    const cache = path.join(dir, 'cache-reader');
    const c = await createCachedSession(create, model, options(), { dir: cache, write: false, ortVersion: VERSION });
    assert.equal(c.cache.state, 'off');
    assert.equal(existsSync(cache), false);
    await release(c);
  });

  it('a model that cannot load still fails with its own error', async () => {
    const bad = path.join(dir, 'bad.onnx');
    writeFileSync(bad, 'not a model');
    const cache = path.join(dir, 'cache-bad');
    await assert.rejects(
      createCachedSession(create, bad, options(), { dir: cache, write: true, ortVersion: VERSION }),
      /protobuf|parse|load/i,
    );
    assert.deepEqual(existsSync(cache) ? entries(cache) : [], []);
  });

  it("the folder: 'off', a folder relative to the manifest, INFERGRAPH_ONNX_CACHE, else the user's cache", () => {
    assert.equal(cacheDirFor('off', '/m', {}), undefined);
    assert.equal(cacheDirFor('cache/ort', '/m', {}), '/m/cache/ort');
    assert.equal(cacheDirFor('auto', '/m', { INFERGRAPH_ONNX_CACHE: 'off' }), undefined);
    assert.equal(cacheDirFor('auto', '/m', { INFERGRAPH_ONNX_CACHE: '/c' }), '/c');
    assert.equal(cacheDirFor('auto', '/m', { XDG_CACHE_HOME: '/x' }), '/x/infergraph/onnxruntime');
    assert.match(cacheDirFor('auto', '/m', {}) ?? '', /\.cache\/infergraph\/onnxruntime$/);
  });

  it('onnx-model with sessionCache: the second load hits and answers the same', async () => {
    const cache = path.join(dir, 'cache-component');
    const answers: number[][] = [];
    for (let i = 0; i < 2; i++) {
      const m = await onnxModel.create({ model, sessionCache: cache }, componentContext('MODEL', 'cnn'));
      await m.load?.();
      const [x] = inputs(SHAPE, 1);
      const out = await m.predict!(
        { kind: 'tensor', tensor: { dtype: 'float32', shape: SHAPE, data: x as Float32Array } },
        callContext(),
      );
      assert.equal(out.kind, 'tensor');
      if (out.kind === 'tensor') answers.push(Array.from(out.tensor.data as Float32Array));
      assert.equal(entries(cache).length, 1);
      await m.close?.();
    }
    assert.deepEqual(answers[1], answers[0]);
  });
});
