import { readFileSync } from 'node:fs';

/**
 * Agreement of a graph's answers with reference predictions, e.g. ../shared/imagenet/reference/predictions.tsv (the
 * same model fed by torchvision's preprocessing). Accuracy on a small set can match by luck while the pixels differ;
 * agreement image by image with the reference says whether the preprocessing is the one the model was trained with.
 * Format: a header line `file<TAB>top1<TAB>top5`, then one line per image: file name, class index, and optionally
 * five comma-separated class indices (best first).
 */

export interface ReferencePrediction {
  top1: number;
  top5?: number[];
}

export interface Answer {
  index: number;
  /** Up to five class indices, best first, when the graph returns them. */
  topK?: number[];
}

export interface ReferenceAgreement {
  file: string;
  /** Images that are both in the reference and answered by the graph. */
  compared: number;
  top1Agree: number;
  top1Agreement: number;
  /**
   * Mean share of the reference's top-5 classes found in the graph's top-5, over the top5Compared images where both
   * have a top-5; null when there are none.
   */
  top5Overlap: number | null;
  top5Compared: number;
  /** Images whose top-1 differs from the reference. */
  disagree: { file: string; got: number; reference: number }[];
  /** Evaluated images the reference does not list (not compared). */
  notInReference: string[];
}

function classIndex(s: string, where: string): number {
  const v = Number(s);
  if (s.trim() === '' || !Number.isInteger(v) || v < 0) throw new Error(`${where}: '${s}' is not a class index`);
  return v;
}

export function parseReference(text: string, source: string): Map<string, ReferencePrediction> {
  const out = new Map<string, ReferencePrediction>();
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const where = `${source} line ${i + 1}`;
    if (line.trim() === '' || (i === 0 && /^file\t/.test(line))) return;
    const cols = line.split('\t');
    if (cols.length < 2 || cols.length > 3 || !cols[0]) {
      throw new Error(`${where}: expected file<TAB>top1[<TAB>top5], got ${JSON.stringify(line.slice(0, 80))}`);
    }
    const file = cols[0];
    if (out.has(file)) throw new Error(`${where}: ${file} is listed twice`);
    const top1 = classIndex(cols[1] as string, where);
    const top5 = cols[2] ? cols[2].split(',').map((s) => classIndex(s, where)) : undefined;
    if (top5 && top5[0] !== top1) throw new Error(`${where}: top5 should start with top1 (${top1}), got ${cols[2]}`);
    out.set(file, top5 ? { top1, top5 } : { top1 });
  });
  if (out.size === 0) throw new Error(`${source}: no predictions`);
  return out;
}

export function readReference(file: string): Map<string, ReferencePrediction> {
  return parseReference(readFileSync(file, 'utf8'), file);
}

/** Compares the graph's answers (file -> answer) with the reference. */
export function compareWithReference(
  answers: Map<string, Answer>,
  reference: Map<string, ReferencePrediction>,
  source: string,
): ReferenceAgreement {
  let compared = 0;
  let agree = 0;
  let overlap = 0;
  let withTop5 = 0;
  const disagree: ReferenceAgreement['disagree'] = [];
  const notInReference: string[] = [];
  for (const [file, a] of [...answers].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
    const ref = reference.get(file);
    if (!ref) {
      notInReference.push(file);
      continue;
    }
    compared++;
    if (a.index === ref.top1) agree++;
    else disagree.push({ file, got: a.index, reference: ref.top1 });
    if (ref.top5 && a.topK && a.topK.length >= 5) {
      const ours = new Set(a.topK.slice(0, 5));
      overlap += ref.top5.slice(0, 5).filter((c) => ours.has(c)).length / Math.min(5, ref.top5.length);
      withTop5++;
    }
  }
  return {
    file: source,
    compared,
    top1Agree: agree,
    top1Agreement: compared ? agree / compared : 0,
    top5Overlap: withTop5 > 0 ? overlap / withTop5 : null,
    top5Compared: withTop5,
    disagree,
    notInReference,
  };
}
