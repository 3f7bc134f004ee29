import { invalidArgument } from '../../errors';
import { describePayload } from '../../message/message';
import { shapeToString } from '../../tensor/tensor';
import { defineComponent } from '../api';
import { Params } from '../builtin/common';
import { CATALOG } from './catalog';

/** Element-wise sum or mean of its children's tensors (float32 out). */
const definition = defineComponent({
  ...CATALOG['sum-combiner'],
  create(params, ctx) {
    const mode = new Params('sum-combiner', params, definition.parameters).oneOf('mode', ['sum', 'mean'] as const);
    return {
      aggregate: (inputs, call) =>
        call.work('combine', () => {
          const first = inputs[0];
          if (!first || first.kind !== 'tensor' || first.tensor.dtype === 'string') {
            throw invalidArgument(
              `${ctx.nodeName}: needs numeric tensors, got ${first ? describePayload(first) : 'nothing'}`,
            );
          }
          const shape = first.tensor.shape;
          const out = new Float32Array(first.tensor.data.length);
          for (const p of inputs) {
            if (p.kind !== 'tensor' || p.tensor.dtype === 'string') {
              throw invalidArgument(`${ctx.nodeName}: needs numeric tensors, got ${describePayload(p)}`);
            }
            if (shapeToString(p.tensor.shape) !== shapeToString(shape)) {
              throw invalidArgument(
                `${ctx.nodeName}: shapes differ: ${shapeToString(shape)} vs ${shapeToString(p.tensor.shape)}`,
              );
            }
            const d = p.tensor.data;
            for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + Number(d[i]);
          }
          if (mode === 'mean') for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / inputs.length;
          return { kind: 'tensor' as const, tensor: { dtype: 'float32' as const, shape: [...shape], data: out } };
        }),
    };
  },
});

export default definition;
