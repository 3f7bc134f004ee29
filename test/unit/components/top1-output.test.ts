import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Component } from '../../../src/components/api';
import top1Output, { parseLabels, SYNTHETIC_NOTE } from '../../../src/components/builtin/top1-output';
import { Code } from '../../../src/errors';
import type { JsonValue, Payload } from '../../../src/message/message';
import { callContext, componentContext, configError, LABELS, rejectsWith, sharedFile } from './helpers';

const make = async (params: Record<string, string | number | boolean> = {}): Promise<Component> => {
  const c = top1Output.create(params, componentContext('OUTPUT_TRANSFORMER', 'top1')) as Component;
  await c.load?.();
  return c;
};

const scores = (shape: number[], values: number[]): Payload => ({
  kind: 'tensor',
  tensor: { dtype: 'float32', shape, data: Float32Array.from(values) },
});

type Prediction = { index: number; score: number; wnid?: string; label?: string; topK?: Prediction[] };
type Answer = { predictions: Prediction[]; synthetic?: boolean; note?: string };

async function answer(c: Component, p: Payload, tags: Record<string, JsonValue> = {}) {
  const ctx = callContext(tags);
  const out = await c.transformOutput!(p, ctx);
  assert.equal(out.kind, 'json');
  if (out.kind !== 'json') throw new Error('unreachable');
  return { data: out.data as unknown as Answer, tags: ctx.tags };
}

describe('top1-output', () => {
  let dir: string;
  const labelsFile = (): string => path.join(dir, 'labels.tsv');
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'infergraph-labels-'));
    writeFileSync(labelsFile(), '0\tn001\tcat\n1\tn002\tdog\n2\tn003\tgreat white shark\n3\tn004\tfish\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('argmax per row of [N,C]; index and score only without labels', async () => {
    const { data, tags } = await answer(await make(), scores([2, 4], [0.1, 0.7, 0.15, 0.05, 3, 1, 2, 4]));
    assert.deepEqual(
      data.predictions.map((p) => p.index),
      [1, 3],
    );
    assert.ok(Math.abs((data.predictions[0]?.score ?? 0) - 0.7) < 1e-6);
    assert.equal(data.predictions[0]?.label, undefined);
    assert.equal(data.predictions[0]?.topK, undefined);
    assert.equal(data.note, undefined);
    assert.deepEqual(tags, { top1_index: 1 });
  });

  it('[C] input is one row', async () => {
    const { data } = await answer(await make(), scores([4], [0, 0, 9, 1]));
    assert.deepEqual(
      data.predictions.map((p) => p.index),
      [2],
    );
  });

  it('labels add wnid and label; tags name the class', async () => {
    const { data, tags } = await answer(await make({ labels: labelsFile() }), scores([1, 4], [0, 0, 9, 1]));
    assert.deepEqual(data.predictions[0], { index: 2, score: 9, wnid: 'n003', label: 'great white shark' });
    assert.deepEqual(tags, { top1_index: 2, top1_label: 'great white shark' });
  });

  it('topK lists the k best, best first, ties by lower index', async () => {
    const { data } = await answer(await make({ topK: 3, labels: labelsFile() }), scores([1, 4], [0.2, 0.5, 0.1, 0.2]));
    const top = data.predictions[0];
    assert.equal(top?.index, 1);
    assert.deepEqual(
      top?.topK?.map((p) => [p.index, p.label]),
      [
        [1, 'dog'],
        [0, 'cat'],
        [3, 'fish'],
      ],
    );
    const { data: all } = await answer(await make({ topK: 10 }), scores([4], [1, 4, 3, 2]));
    assert.deepEqual(
      all.predictions[0]?.topK?.map((p) => p.index),
      [1, 2, 3, 0],
    );
  });

  it('a tie for top-1 goes to the lowest index: float, quantized int8 and after softmax', async () => {
    // Row 0 ties at 1 and 3, row 1 at 2 and 3.
    const { data } = await answer(await make({ topK: 2 }), scores([2, 4], [0.1, 0.7, 0.2, 0.7, 0.3, 0.1, 0.9, 0.9]));
    assert.deepEqual(
      data.predictions.map((p) => [p.index, p.topK?.map((t) => t.index)]),
      [
        [1, [1, 3]],
        [2, [2, 3]],
      ],
    );
    // int8 models' quantized scores tie often; the lowest index wins there too.
    const int8: Payload = {
      kind: 'tensor',
      tensor: { dtype: 'int8', shape: [6], data: Int8Array.from([3, -2, 9, 9, 1, 9]) },
    };
    const { data: q } = await answer(await make(), int8);
    assert.equal(q.predictions[0]?.index, 2);
    const { data: sm } = await answer(await make({ softmax: true }), scores([5], [0, 2, 1, 2, 2]));
    assert.equal(sm.predictions[0]?.index, 1);
  });

  it('softmax turns raw scores into probabilities', async () => {
    const { data } = await answer(await make({ softmax: true, topK: 2 }), scores([1, 3], [1, 2, 3]));
    const e = [1, 2, 3].map((x) => Math.exp(x));
    const s = e.reduce((a, b) => a + b);
    assert.equal(data.predictions[0]?.index, 2);
    assert.ok(Math.abs((data.predictions[0]?.score ?? 0) - (e[2] as number) / s) < 1e-6);
    assert.ok(Math.abs((data.predictions[0]?.topK?.[1]?.score ?? 0) - (e[1] as number) / s) < 1e-6);
  });

  it('synthetic: true in the request tags adds the note', async () => {
    const { data } = await answer(await make(), scores([1, 4], [0, 1, 0, 0]), { synthetic: true });
    assert.equal(data.synthetic, true);
    assert.equal(data.note, SYNTHETIC_NOTE);
    assert.equal(SYNTHETIC_NOTE, 'synthetic weights: class is meaningless');
    assert.equal(data.predictions[0]?.label, undefined);
  });

  it('wrong input: INVALID_ARGUMENT', async () => {
    const c = await make({ labels: labelsFile() });
    const call = (p: Payload) => () => Promise.resolve(c.transformOutput!(p, callContext()));
    await rejectsWith(call({ kind: 'bin', data: new Uint8Array(3) }), Code.INVALID_ARGUMENT, 'got binData (3 bytes)');
    await rejectsWith(call(scores([1, 2, 2], [0, 0, 0, 0])), Code.INVALID_ARGUMENT, 'got float32 [1,2,2]');
    await rejectsWith(
      call(scores([1, 5], [0, 0, 0, 0, 1])),
      Code.INVALID_ARGUMENT,
      'scores have 5 classes but the labels file',
      'has 4',
    );
  });

  it('bad labels files fail at load, naming file:line', async () => {
    const bad = (name: string, text: string): string => {
      const file = path.join(dir, name);
      writeFileSync(file, text);
      return file;
    };
    const two = bad('two.tsv', '0\tn001\tcat\n1 n002 dog\n');
    await configError(() => make({ labels: two }), `${two}:2:`, '3 tab-separated fields');
    const gap = bad('gap.tsv', '0\tn001\tcat\n\n2\tn003\tshark\n');
    await configError(() => make({ labels: gap }), `${gap}:3:`, 'expected index 1, got "2"');
    const empty = bad('empty.tsv', '\n');
    await configError(() => make({ labels: empty }), 'no labels');
    await configError(() => make({ labels: path.join(dir, 'absent.tsv') }), 'cannot read labels file');
    assert.throws(() => parseLabels('0\t\tcat', 'x.tsv'), /x\.tsv:1: empty wnid/);
  });

  it('the shared ImageNet labels parse: 1000 classes', async (t) => {
    const file = sharedFile(LABELS);
    if (!file) return t.skip(`missing ../shared/${LABELS}`);
    const labels = parseLabels(readFileSync(file, 'utf8'), file);
    assert.equal(labels.length, 1000);
    assert.deepEqual(labels[0], { wnid: 'n01440764', name: 'tench' });
  });
});
