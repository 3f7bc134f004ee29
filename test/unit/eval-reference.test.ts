import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareWithReference, parseReference, type Answer } from '../../src/client/reference';
import type { Component } from '../../src/components/api';
import top1Output from '../../src/components/builtin/top1-output';
import { callContext, componentContext } from './components/helpers';

const TSV = 'file\ttop1\ttop5\na.JPEG\t5\t5,1,2,3,4\nb.JPEG\t7\t7,8,9,10,11\nc.JPEG\t0\t0,1,2,3,4\n';

describe('eval --reference: parsing', () => {
  it('reads file, top1 and top5; skips the header and blank lines', () => {
    const r = parseReference(`${TSV}\n`, 'p.tsv');
    assert.equal(r.size, 3);
    assert.deepEqual(r.get('b.JPEG'), { top1: 7, top5: [7, 8, 9, 10, 11] });
    assert.deepEqual(parseReference('x.jpg\t3\n', 'q.tsv').get('x.jpg'), { top1: 3 });
  });

  it('bad lines name the file, the line and the problem', () => {
    const bad = 'file\ttop1\ttop5\na.JPEG\tfive\n';
    assert.throws(() => parseReference(bad, 'p.tsv'), /p\.tsv line 2: 'five' is not a class index/);
    assert.throws(() => parseReference('a.JPEG 5\n', 'p.tsv'), /p\.tsv line 1: expected file<TAB>top1\[<TAB>top5\]/);
    assert.throws(() => parseReference('a.JPEG\t5\nb\t1\na.JPEG\t5\n', 'p.tsv'), /line 3: a\.JPEG is listed twice/);
    assert.throws(() => parseReference('a.JPEG\t5\t4,5\n', 'p.tsv'), /top5 should start with top1 \(5\)/);
    assert.throws(() => parseReference('a.JPEG\t5\t5,x\n', 'p.tsv'), /'x' is not a class index/);
    assert.throws(() => parseReference('file\ttop1\ttop5\n', 'p.tsv'), /p\.tsv: no predictions/);
  });
});

describe('eval --reference: agreement', () => {
  const ref = parseReference(TSV, 'p.tsv');

  it('counts top-1 agreement, lists disagreements, averages top-5 overlap, sets aside unlisted files', () => {
    const answers = new Map<string, Answer>([
      ['c.JPEG', { index: 0, topK: [0, 1, 2, 3, 99] }],
      ['a.JPEG', { index: 5, topK: [5, 1, 2, 3, 4] }],
      ['b.JPEG', { index: 8, topK: [8, 7, 50, 51, 52] }],
      ['z.JPEG', { index: 1, topK: [1, 2, 3, 4, 5] }],
    ]);
    const a = compareWithReference(answers, ref, 'p.tsv');
    assert.equal(a.compared, 3);
    assert.equal(a.top1Agree, 2);
    assert.equal(a.top1Agreement, 2 / 3);
    assert.deepEqual(a.disagree, [{ file: 'b.JPEG', got: 8, reference: 7 }]);
    assert.ok(a.top5Overlap !== null && Math.abs(a.top5Overlap - (5 / 5 + 2 / 5 + 4 / 5) / 3) < 1e-12);
    assert.equal(a.top5Compared, 3);
    assert.deepEqual(a.notInReference, ['z.JPEG']);
  });

  it('top-5 overlap only over images where both sides have a top-5', () => {
    const a = compareWithReference(new Map([['a.JPEG', { index: 5 }]]), ref, 'p.tsv');
    assert.equal(a.top1Agree, 1);
    assert.equal(a.top5Overlap, null);
    assert.equal(a.top5Compared, 0);
    const mixed = parseReference('a.JPEG\t5\nb.JPEG\t7\t7,8,9,10,11\n', 'm.tsv');
    const b = compareWithReference(
      new Map([
        ['a.JPEG', { index: 5, topK: [5, 1, 2, 3, 4] }],
        ['b.JPEG', { index: 7, topK: [7, 8, 9, 1, 2] }],
      ]),
      mixed,
      'm.tsv',
    );
    assert.equal(b.top5Compared, 1);
    assert.ok(b.top5Overlap !== null && Math.abs(b.top5Overlap - 3 / 5) < 1e-12);
  });
});

describe('eval --reference: ties', () => {
  it("a tie broken by the lowest index on both sides agrees: top1-output's answer vs a stable argsort of -scores", async () => {
    // Quantized scores with exact ties at the top, as the int8 MobileNetV2 gives; the reference is ranked as
    // make-reference.py ranks it (numpy argsort(-y, kind="stable")).
    const rows = [
      [3, 9, 1, 9, 9, 0, 2],
      [7, 7, 7, 7, 7, 7, 7],
      [0, 1, 5, 2, 5, 5, 4],
    ];
    const stableTop5 = (y: number[]): number[] =>
      y
        .map((v, i) => [v, i] as const)
        .sort((a, b) => b[0] - a[0] || a[1] - b[1])
        .slice(0, 5)
        .map(([, i]) => i);
    const tsv = rows.map((y, r) => `img${r}.JPEG\t${stableTop5(y)[0]}\t${stableTop5(y).join(',')}`).join('\n');
    const c = top1Output.create({ topK: 5 }, componentContext('OUTPUT_TRANSFORMER', 'top1')) as Component;
    const answers = new Map<string, Answer>();
    for (const [r, y] of rows.entries()) {
      const out = await c.transformOutput!(
        { kind: 'tensor', tensor: { dtype: 'int8', shape: [1, y.length], data: Int8Array.from(y) } },
        callContext(),
      );
      if (out.kind !== 'json') throw new Error(`expected json, got ${out.kind}`);
      const p = (out.data as unknown as { predictions: { index: number; topK: { index: number }[] }[] }).predictions[0];
      assert.ok(p);
      answers.set(`img${r}.JPEG`, { index: p.index, topK: p.topK.map((t) => t.index) });
    }
    assert.deepEqual(
      [...answers.values()].map((a) => a.index),
      [1, 0, 2],
    );
    const a = compareWithReference(answers, parseReference(tsv, 'ties.tsv'), 'ties.tsv');
    assert.deepEqual(a.disagree, []);
    assert.equal(a.top1Agree, 3);
    assert.equal(a.top5Overlap, 1);
  });
});
