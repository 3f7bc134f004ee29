/**
 * Accuracy smoke of the in-process image chain on the 100 labelled dev images in ../shared: jpeg-input ->
 * onnx-model (MobileNetV2 int8) -> top1-output. The reference preprocessing (torchvision on PIL) scores 82.0 %;
 * anything noticeably lower means our preprocessing has drifted from it.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Component } from '../../../src/components/api';
import { CollectingCallContext } from '../../../src/components/call-context';
import jpegInput from '../../../src/components/builtin/jpeg-input';
import onnxModel from '../../../src/components/builtin/onnx-model';
import top1Output from '../../../src/components/builtin/top1-output';
import { callContext, componentContext, DEV_DIR, LABELS, median, MOBILENET, sharedFile } from './helpers';

describe('ImageNet dev-100 accuracy (in process)', () => {
  it('top-1 >= 80 % (reference 82.0 %)', async (t) => {
    const modelFile = sharedFile(MOBILENET);
    const labels = sharedFile(LABELS);
    const dev = sharedFile(DEV_DIR);
    if (!modelFile || !labels || !dev)
      return t.skip(`missing ../shared/${MOBILENET}, ../shared/${LABELS} or ../shared/${DEV_DIR}`);

    const pre = jpegInput.create({}, componentContext('TRANSFORMER')) as Component;
    const model = await onnxModel.create({ model: modelFile }, componentContext('MODEL'));
    const post = top1Output.create({ labels }, componentContext('OUTPUT_TRANSFORMER')) as Component;
    await model.load?.();
    await post.load?.();
    const files = readdirSync(dev)
      .filter((f) => f.endsWith('.JPEG'))
      .sort();
    assert.equal(files.length, 100);

    const work: Record<string, number[]> = {};
    const timed = new CollectingCallContext(undefined, undefined, undefined, async (name, fn) => {
      const t0 = performance.now();
      try {
        return await fn();
      } finally {
        (work[name] ??= []).push(performance.now() - t0);
      }
    });
    let correct = 0;
    const wrong: string[] = [];
    try {
      for (const f of files) {
        const wnid = f.split('_')[0];
        const x = await pre.transformInput!({ kind: 'bin', data: readFileSync(path.join(dev, f)) }, timed);
        const y = await model.predict!(x, timed);
        const z = await post.transformOutput!(y, callContext());
        const p =
          z.kind === 'json'
            ? (z.data as { predictions: { wnid?: string; label?: string }[] }).predictions[0]
            : undefined;
        if (p?.wnid === wnid) correct++;
        else wrong.push(`${f} -> ${p?.label}`);
      }
    } finally {
      await model.close?.();
    }
    const ms = (name: string): string => median(work[name] ?? []).toFixed(2);
    t.diagnostic(`dev-100 top-1: ${correct}/${files.length} = ${correct}% (reference 82.0%)`);
    t.diagnostic(
      `median ms: jpeg.decode_resize ${ms('jpeg.decode_resize')}, jpeg.normalise ${ms('jpeg.normalise')}, ort.run ${ms('ort.run')}`,
    );
    t.diagnostic(`misses: ${wrong.join('; ')}`);
    assert.ok(correct >= 80, `top-1 ${correct}% is below 80% (reference 82.0%)`);
  });
});
