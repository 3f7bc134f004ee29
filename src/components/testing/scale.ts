import { invalidArgument } from '../../errors';
import { describePayload } from '../../message/message';
import type { Tensor } from '../../tensor/tensor';
import { defineComponent, type CallContext } from '../api';
import { Params } from '../builtin/common';
import { CATALOG } from './catalog';
import type { Payload } from '../../message/message';

/** Multiplies a numeric tensor by `factor` and adds `offset` (float32 out). A stand-in for a model in tests. */
const definition = defineComponent({
  ...CATALOG['scale'],
  create(params, ctx) {
    const p = new Params('scale', params, definition.parameters);
    const factor = p.number('factor');
    const offset = p.number('offset');
    const run = (input: Payload, call: CallContext): Promise<Payload> =>
      call.work('scale', () => {
        if (input.kind !== 'tensor' || input.tensor.dtype === 'string') {
          throw invalidArgument(`${ctx.nodeName}: scale needs a numeric tensor, got ${describePayload(input)}`);
        }
        const src = input.tensor.data;
        const out = new Float32Array(src.length);
        for (let i = 0; i < src.length; i++) out[i] = Number(src[i]) * factor + offset;
        const tensor: Tensor = { dtype: 'float32', shape: [...input.tensor.shape], data: out };
        call.addMetric({ key: `${ctx.nodeName}_calls`, type: 'COUNTER', value: 1 });
        return { kind: 'tensor', tensor };
      });
    return { predict: run, transformInput: run, transformOutput: run };
  },
});

export default definition;
