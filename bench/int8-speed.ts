/**
 * fp32 vs int8 images/s of one model, in one process: both sessions loaded side by side and run alternately (one
 * batch of each per round), so machine noise (other processes on a shared VM) hits both equally and the ratio is
 * meaningful even when the absolute figures are not.
 *
 *   node dist/bench/int8-speed.js [--fp32 models/generated/resnet50.onnx] [--int8 models/generated/resnet50-int8.onnx]
 *        [--threads 1] [--batch 1] [--seconds 20]
 */
import * as ort from 'onnxruntime-node';
import { parseArgs } from 'node:util';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      fp32: { type: 'string', default: 'models/generated/resnet50.onnx' },
      int8: { type: 'string', default: 'models/generated/resnet50-int8.onnx' },
      threads: { type: 'string', default: '1' },
      batch: { type: 'string', default: '1' },
      seconds: { type: 'string', default: '20' },
    },
  });
  const threads = Number(values.threads);
  const batch = Number(values.batch);
  const options: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' } } },
    logSeverityLevel: 3,
  };
  const sessions = {
    fp32: await ort.InferenceSession.create(values.fp32, options),
    int8: await ort.InferenceSession.create(values.int8, options),
  };
  const data = new Float32Array(batch * 3 * 224 * 224).map((_, i) => Math.sin(i) * 2);
  const feeds = (s: ort.InferenceSession) => ({
    [s.inputNames[0] as string]: new ort.Tensor('float32', data, [batch, 3, 224, 224]),
  });
  for (const s of Object.values(sessions)) await s.run(feeds(s)); // warm-up
  const ms: Record<'fp32' | 'int8', number[]> = { fp32: [], int8: [] };
  const until = performance.now() + Number(values.seconds) * 1000;
  while (performance.now() < until) {
    for (const k of ['fp32', 'int8'] as const) {
      const s = sessions[k];
      const t0 = performance.now();
      await s.run(feeds(s));
      ms[k].push(performance.now() - t0);
    }
  }
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const rate = (xs: number[]): number => (batch * xs.length * 1000) / xs.reduce((a, b) => a + b, 0);
  console.log(`threads ${threads}, batch ${batch}, ${ms.fp32.length} rounds`);
  for (const k of ['fp32', 'int8'] as const) {
    console.log(`${k}: median ${med(ms[k]).toFixed(1)} ms/run, ${rate(ms[k]).toFixed(1)} images/s`);
  }
  console.log(
    `int8/fp32 images/s: ${(rate(ms.int8) / rate(ms.fp32)).toFixed(2)}x ` +
      `(medians ${(med(ms.fp32) / med(ms.int8)).toFixed(2)}x)`,
  );
  for (const s of Object.values(sessions)) await s.release();
}

void main();
