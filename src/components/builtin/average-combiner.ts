/**
 * average-combiner: element-wise (optionally weighted) mean of the children's tensors, e.g. the class probabilities
 * of an ensemble. Output is float32, or float64 when any input is float64.
 */
import { ConfigError, invalidArgument } from '../../errors';
import type { ParamValue } from '../types';
import { describePayload, type Payload } from '../../message/message';
import type { TypedArray } from '../../tensor/dtype';
import { shapeToString, type Tensor } from '../../tensor/tensor';
import type { CallContext, Component, ComponentDefinition } from '../api';
import { Params } from './common';
import { CATALOG } from './catalog';

const NAME = 'average-combiner';

type NumericTensor = Extract<Tensor, { data: TypedArray }>;

const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

class AverageCombiner implements Component {
  constructor(private readonly weights: number[] | undefined) {}

  async aggregate(inputs: Payload[], ctx: CallContext): Promise<Payload> {
    if (inputs.length === 0) throw invalidArgument(`${NAME}: no inputs to combine`);
    const tensors: NumericTensor[] = inputs.map((p, i) => {
      if (p.kind !== 'tensor') throw invalidArgument(`${NAME}: input ${i} must be a tensor, got ${describePayload(p)}`);
      if (p.tensor.dtype === 'string')
        throw invalidArgument(`${NAME}: input ${i} is a string tensor; only numeric tensors can be averaged`);
      return p.tensor;
    });
    const first = tensors[0] as NumericTensor;
    if (!tensors.every((t) => sameShape(t.shape, first.shape))) {
      throw invalidArgument(
        `${NAME}: inputs must have identical shapes, got ${tensors.map((t) => shapeToString(t.shape)).join(', ')}`,
      );
    }
    let w: number[];
    if (this.weights) {
      if (this.weights.length !== tensors.length) {
        throw invalidArgument(
          `${NAME}: ${this.weights.length} weights configured (${this.weights.join(',')}) but ${tensors.length} inputs received`,
        );
      }
      const sum = this.weights.reduce((a, b) => a + b, 0);
      w = this.weights.map((x) => x / sum);
    } else {
      w = tensors.map(() => 1 / tensors.length);
    }
    const wide = tensors.some((t) => t.dtype === 'float64');
    const n = first.data.length;
    const result = await ctx.work(
      'combine.mean',
      () => {
        const acc = new Float64Array(n);
        tensors.forEach((t, k) => {
          const wk = w[k] as number;
          if (t.dtype === 'int64') {
            const d = t.data as BigInt64Array;
            for (let i = 0; i < n; i++) acc[i] = (acc[i] as number) + Number(d[i]) * wk;
          } else {
            const d = t.data as Exclude<TypedArray, BigInt64Array>;
            for (let i = 0; i < n; i++) acc[i] = (acc[i] as number) + (d[i] as number) * wk;
          }
        });
        return wide ? acc : Float32Array.from(acc);
      },
      { inputs: tensors.length, elements: n },
    );
    const tensor: Tensor = wide
      ? { dtype: 'float64', shape: [...first.shape], data: result }
      : { dtype: 'float32', shape: [...first.shape], data: result };
    const names = inputs[0]?.kind === 'tensor' ? inputs[0].names : undefined;
    return names
      ? { kind: 'tensor', tensor, names, encoding: 'tftensor' }
      : { kind: 'tensor', tensor, encoding: 'tftensor' };
  }
}

export function averageWeights(values: Record<string, ParamValue>): number[] | undefined {
  const weights = new Params(NAME, values, definition.parameters).numberList('weights');
  if (weights) {
    if (weights.some((x) => x < 0))
      throw new ConfigError([`${NAME}: parameter 'weights' must not be negative, got ${weights.join(',')}`]);
    if (!(weights.reduce((a, b) => a + b, 0) > 0))
      throw new ConfigError([`${NAME}: parameter 'weights' must not sum to 0`]);
  }
  return weights;
}

const definition: ComponentDefinition = {
  ...CATALOG['average-combiner'],
  details:
    'Inputs that are not numeric tensors, shapes that differ (the message names them) and a number of ' +
    'weights that differs from the number of children are INVALID_ARGUMENT.',
  create(params): Component {
    return new AverageCombiner(averageWeights(params));
  },
};

export default definition;
