/**
 * top1-output: turns class scores [N,C] (or [C]) into the answer a person reads: the best class per row with its
 * score, its WordNet id and name when a labels file is configured, and optionally the top-k list.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError, invalidArgument } from '../../errors';
import type { ParamValue } from '../types';
import { parseLabels, type Label } from '../../util/labels';
import { describePayload, type JsonValue, type Payload } from '../../message/message';
import type { TypedArray } from '../../tensor/dtype';
import { shapeToString } from '../../tensor/tensor';
import type { CallContext, Component, ComponentContext, ComponentDefinition } from '../api';
import { Params, softmaxRows } from './common';
import { CATALOG } from './catalog';

const NAME = 'top1-output';
export const SYNTHETIC_NOTE = 'synthetic weights: class is meaningless';
// The labels parser is shared with `infergraph eval`; re-exported for users of this component's module.
export { parseLabels, type Label } from '../../util/labels';

interface Entry {
  index: number;
  score: number;
}

/** The k best entries of row[from, from + n), best first; ties keep the lower index first. */
function topK(row: ArrayLike<number>, from: number, n: number, k: number): Entry[] {
  const best: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const v = row[from + i] as number;
    if (best.length === k && !(v > (best[k - 1] as Entry).score)) continue;
    if (Number.isNaN(v)) continue;
    let at = best.length;
    while (at > 0 && v > (best[at - 1] as Entry).score) at--;
    best.splice(at, 0, { index: i, score: v });
    if (best.length > k) best.pop();
  }
  // All NaN: report class 0 rather than nothing.
  if (best.length === 0 && n > 0) best.push({ index: 0, score: row[from] as number });
  return best;
}

class Top1Output implements Component {
  private labels: Label[] | undefined;

  constructor(
    private readonly cfg: { labels?: string; softmax: boolean; topK: number },
    private readonly ctx: ComponentContext,
  ) {}

  async load(): Promise<void> {
    const file = this.cfg.labels;
    if (file === undefined) return;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new ConfigError([`${NAME}: cannot read labels file ${file}: ${(err as Error).message}`]);
    }
    this.labels = parseLabels(text, file);
    this.ctx.logger.debug({ file, classes: this.labels.length }, `${NAME} labels loaded`);
  }

  async transformOutput(input: Payload, ctx: CallContext): Promise<Payload> {
    if (input.kind !== 'tensor')
      throw invalidArgument(`${NAME}: expects a tensor of class scores [N,C] or [C], got ${describePayload(input)}`);
    const t = input.tensor;
    if (t.dtype === 'string' || t.dtype === 'bool') {
      throw invalidArgument(`${NAME}: expects numeric class scores, got a ${t.dtype} tensor ${shapeToString(t.shape)}`);
    }
    if ((t.shape.length !== 1 && t.shape.length !== 2) || (t.shape[t.shape.length - 1] ?? 0) === 0) {
      throw invalidArgument(
        `${NAME}: expects class scores shaped [N,C] or [C] with C > 0, got ${t.dtype} ${shapeToString(t.shape)}`,
      );
    }
    const classes = t.shape[t.shape.length - 1] as number;
    const rows = t.shape.length === 2 ? (t.shape[0] as number) : 1;
    const labels = this.labels;
    if (labels && labels.length !== classes) {
      throw invalidArgument(
        `${NAME}: scores have ${classes} classes but the labels file ${this.cfg.labels} has ${labels.length}`,
      );
    }
    const k = Math.min(this.cfg.topK, classes);

    const predictions = await ctx.work(
      'top1.argmax',
      () => {
        let scores: ArrayLike<number>;
        if (this.cfg.softmax) {
          const probs = t.dtype === 'float64' ? Float64Array.from(t.data as Float64Array) : toFloat32(t.data);
          softmaxRows(probs, classes);
          scores = probs;
        } else {
          scores =
            t.dtype === 'int64'
              ? Float64Array.from(t.data as BigInt64Array, Number)
              : (t.data as Exclude<TypedArray, BigInt64Array>);
        }
        const out: { [k: string]: JsonValue }[] = [];
        for (let r = 0; r < rows; r++) {
          const best = topK(scores, r * classes, classes, k);
          const entry = (e: Entry): { [k: string]: JsonValue } => {
            const label = labels?.[e.index];
            return label
              ? { index: e.index, score: e.score, wnid: label.wnid, label: label.name }
              : { index: e.index, score: e.score };
          };
          const top = entry(best[0] as Entry);
          if (this.cfg.topK > 1) top.topK = best.map(entry);
          out.push(top);
        }
        return out;
      },
      { rows, classes, k },
    );

    const first = predictions[0] as { [k: string]: JsonValue };
    ctx.addTags(
      first.label !== undefined
        ? { top1_index: first.index ?? null, top1_label: first.label }
        : { top1_index: first.index ?? null },
    );
    const data: { [k: string]: JsonValue } = { predictions };
    if (ctx.meta.tags.synthetic === true) {
      data.synthetic = true;
      data.note = SYNTHETIC_NOTE;
    }
    return { kind: 'json', data };
  }
}

function toFloat32(d: TypedArray): Float32Array {
  if (d instanceof BigInt64Array) return Float32Array.from(d, Number);
  return Float32Array.from(d);
}

export function top1Config(values: Record<string, ParamValue>): { labels?: string; softmax: boolean; topK: number } {
  const p = new Params(NAME, values, definition.parameters);
  return { labels: p.optionalString('labels'), softmax: p.boolean('softmax'), topK: p.integer('topK', 1, 1_000_000) };
}

const definition: ComponentDefinition = {
  ...CATALOG['top1-output'],
  details: [
    'Answers JSON: `{"predictions": [{index, score, wnid?, label?, topK?}], "synthetic"?, ' + '"note"?}`.',
    '',
    '- The labels file has the format of `../shared/imagenet/labels.tsv` ' +
      '(`index<TAB>wnid<TAB>name`) and is checked at load: a bad line fails with the file and line ' +
      'number; a class count that differs from the scores is INVALID_ARGUMENT.',
    '- When the model tagged its answer `synthetic` (random weights), the answer says the class ' + 'is meaningless.',
  ].join('\n'),
  create(params, ctx): Component {
    return new Top1Output(top1Config(params), ctx);
  },
};

export default definition;
