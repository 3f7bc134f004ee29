import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Component } from '../../../src/components/api';
import averageCombiner from '../../../src/components/builtin/average-combiner';
import { Code } from '../../../src/errors';
import type { Payload } from '../../../src/message/message';
import type { Tensor } from '../../../src/tensor/tensor';
import { callContext, componentContext, configError, rejectsWith } from './helpers';

const make = (params: Record<string, string | number | boolean> = {}): Component =>
  averageCombiner.create(params, componentContext('COMBINER', 'ensemble')) as Component;

const t = (dtype: 'float32' | 'float64' | 'int32', shape: number[], values: number[]): Payload => {
  const data =
    dtype === 'float32'
      ? Float32Array.from(values)
      : dtype === 'float64'
        ? Float64Array.from(values)
        : Int32Array.from(values);
  return { kind: 'tensor', tensor: { dtype, shape, data } as Tensor, names: ['probs'] };
};

async function combine(c: Component, inputs: Payload[]): Promise<Tensor> {
  const ctx = callContext();
  const out = await c.aggregate!(inputs, ctx);
  assert.equal(out.kind, 'tensor');
  if (out.kind !== 'tensor') throw new Error('unreachable');
  return out.tensor;
}

const close = (got: ArrayLike<number>, want: number[]): void => {
  assert.equal(got.length, want.length);
  want.forEach((w, i) => assert.ok(Math.abs((got[i] as number) - w) < 1e-6, `element ${i}: ${got[i]} != ${w}`));
};

describe('average-combiner', () => {
  it('element-wise mean, float32 out, shape and names kept', async () => {
    const out = await combine(make(), [t('float32', [1, 3], [0.2, 0.3, 0.5]), t('float32', [1, 3], [0.6, 0.3, 0.1])]);
    assert.equal(out.dtype, 'float32');
    assert.deepEqual(out.shape, [1, 3]);
    close(out.data as Float32Array, [0.4, 0.3, 0.3]);
    const payload = await make().aggregate!([t('float32', [2], [1, 2])], callContext());
    assert.ok(payload.kind === 'tensor');
    if (payload.kind === 'tensor') assert.deepEqual(payload.names, ['probs']);
  });

  it('weights are normalised by their sum', async () => {
    const out = await combine(make({ weights: '3, 1' }), [t('float32', [2], [1, 0]), t('float32', [2], [0, 1])]);
    close(out.data as Float32Array, [0.75, 0.25]);
  });

  it('float64 in any input makes the output float64; integers are averaged as numbers', async () => {
    const out = await combine(make(), [
      t('float64', [3], [1, 2, 3]),
      t('int32', [3], [2, 2, 2]),
      t('float32', [3], [0, 5, 1]),
    ]);
    assert.equal(out.dtype, 'float64');
    close(out.data as Float64Array, [1, 3, 2]);
  });

  it('weight count must match the number of inputs', async () => {
    await rejectsWith(
      () =>
        Promise.resolve(
          make({ weights: '1,2,3' }).aggregate!([t('float32', [2], [1, 2]), t('float32', [2], [3, 4])], callContext()),
        ),
      Code.INVALID_ARGUMENT,
      '3 weights configured (1,2,3) but 2 inputs received',
    );
  });

  it('shapes must be identical', async () => {
    await rejectsWith(
      () =>
        Promise.resolve(
          make().aggregate!(
            [
              t('float32', [1, 1000], new Array<number>(1000).fill(0)),
              t('float32', [1, 1001], new Array<number>(1001).fill(0)),
            ],
            callContext(),
          ),
        ),
      Code.INVALID_ARGUMENT,
      'inputs must have identical shapes, got [1,1000], [1,1001]',
    );
  });

  it('non-tensor, string-tensor and empty inputs are INVALID_ARGUMENT', async () => {
    const c = make();
    await rejectsWith(
      () => Promise.resolve(c.aggregate!([t('float32', [1], [1]), { kind: 'str', data: 'x' }], callContext())),
      Code.INVALID_ARGUMENT,
      'input 1 must be a tensor, got strData',
    );
    const str: Payload = { kind: 'tensor', tensor: { dtype: 'string', shape: [1], data: [new Uint8Array([65])] } };
    await rejectsWith(
      () => Promise.resolve(c.aggregate!([str], callContext())),
      Code.INVALID_ARGUMENT,
      'input 0 is a string tensor',
    );
    await rejectsWith(() => Promise.resolve(c.aggregate!([], callContext())), Code.INVALID_ARGUMENT, 'no inputs');
  });

  it('bad weights fail at create', async () => {
    await configError(() => make({ weights: '1,x' }), "parameter 'weights'");
    await configError(() => make({ weights: '1,-1' }), 'must not be negative');
    await configError(() => make({ weights: '0,0' }), 'must not sum to 0');
  });
});
