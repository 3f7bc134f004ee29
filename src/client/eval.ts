import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseLabels } from '../util/labels';
import { percentile } from '../util/stats';
import { Progress } from './progress';
import { compareWithReference, readReference, type Answer, type ReferenceAgreement } from './reference';
import { withPushbackRetry } from './pushback-retry';
import { SeldonClient } from './seldon-client';

/**
 * Accuracy of a running classification graph over a folder of `<wnid>_<anything>.JPEG` files: each image goes
 * through the graph as binData; the answer's predicted class indices (top1-output JSON) are compared with the
 * index of the file's WordNet id in the labels file.
 */

export interface EvalOptions {
  address: string;
  imagesDir: string;
  labelsFile: string;
  concurrency?: number;
  limit?: number;
  timeoutMs?: number;
  /** The client's message limit (the executor's spec.maxMessageBytes); the manifest default when absent. */
  maxMessageBytes?: number;
  progress?: boolean;
  /** Reference predictions (file<TAB>top1<TAB>top5) to report agreement with; see reference.ts. */
  referenceFile?: string;
}

export interface EvalResult {
  images: number;
  top1: number;
  top5: number | null;
  errors: { file: string; error: string }[];
  latencyMs: { p50: number; p90: number; p99: number; mean: number };
  wallSeconds: number;
  misses: { file: string; expected: number; got: number }[];
  /** Present when a reference file was given. */
  reference?: ReferenceAgreement;
}

/** WordNet id -> class index, from a labels file in top1-output's format (same parser, same error messages). */
export function readWnidIndex(labelsFile: string): Map<string, number> {
  return new Map(parseLabels(readFileSync(labelsFile, 'utf8'), labelsFile).map((l, i) => [l.wnid, i]));
}

export async function evaluate(o: EvalOptions): Promise<EvalResult> {
  const wnids = readWnidIndex(o.labelsFile);
  // Read before any request so a bad reference file fails fast.
  const reference = o.referenceFile ? readReference(o.referenceFile) : undefined;
  const answers = new Map<string, Answer>();
  let files = readdirSync(o.imagesDir)
    .filter((f) => /^n\d{8}_.*\.(jpe?g|png|webp)$/i.test(f))
    .sort();
  if (o.limit) files = files.slice(0, o.limit);
  if (files.length === 0) throw new Error(`no <wnid>_*.JPEG images in ${o.imagesDir}`);
  const client = new SeldonClient(o.address, o.maxMessageBytes ? { maxMessageBytes: o.maxMessageBytes } : {});
  const progress = o.progress === false ? undefined : new Progress(files.length, 'eval');
  const latencies: number[] = [];
  const errors: EvalResult['errors'] = [];
  const misses: EvalResult['misses'] = [];
  let top1 = 0;
  let top5 = 0;
  let sawTop5 = true;
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      const file = files[i];
      if (file === undefined) return;
      const expected = wnids.get(file.slice(0, 9));
      try {
        if (expected === undefined) throw new Error(`wnid ${file.slice(0, 9)} is not in ${o.labelsFile}`);
        const data = readFileSync(path.join(o.imagesDir, file));
        // A graph that refuses (its spec.maxInFlight below --concurrency) asks for a pushback: wait it, try again.
        const timeoutMs = o.timeoutMs ?? 30_000;
        const s = performance.now();
        const reply = await withPushbackRetry(() => client.predict({ kind: 'bin', data }, { timeoutMs }), {
          maxAttempts: 10,
          until: Date.now() + timeoutMs,
        });
        latencies.push(performance.now() - s);
        const p = reply.payload;
        const pred =
          p.kind === 'json'
            ? (p.data as { predictions?: { index: number; topK?: { index: number }[] }[] }).predictions?.[0]
            : undefined;
        if (!pred) throw new Error(`answer is not a top1-output classification (${p.kind})`);
        answers.set(file, { index: pred.index, ...(pred.topK ? { topK: pred.topK.map((x) => x.index) } : {}) });
        if (pred.index === expected) top1++;
        else misses.push({ file, expected, got: pred.index });
        if (pred.topK && pred.topK.length >= 5) {
          if (pred.topK.slice(0, 5).some((x) => x.index === expected)) top5++;
        } else sawTop5 = false;
      } catch (err) {
        errors.push({ file, error: (err as Error).message });
      }
      done++;
      progress?.update(done, `top-1 ${((100 * top1) / done).toFixed(1)}%`);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? 1) }, worker));
  } finally {
    client.close();
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const n = files.length;
  return {
    images: n,
    top1: top1 / n,
    top5: sawTop5 ? top5 / n : null,
    errors,
    misses,
    latencyMs: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      mean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
    },
    wallSeconds: (performance.now() - t0) / 1000,
    ...(reference && o.referenceFile ? { reference: compareWithReference(answers, reference, o.referenceFile) } : {}),
  };
}
