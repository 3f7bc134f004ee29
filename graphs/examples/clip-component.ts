/**
 * An example user component: clips every element of a numeric tensor to [min, max] and reports how many elements
 * it changed, as a per-request tag and a metric. Outside this repository, import from 'infergraph' instead of
 * '../../src/index'. Compile it to JavaScript (this repo's `npm run build` writes
 * dist/graphs/examples/clip-component.js) and name the .js file as the node's `implementation`.
 */
import { defineComponent, describePayload, invalidArgument, type CallContext, type Payload } from '../../src/index';

export default defineComponent({
  name: 'clip',
  description: 'clips a numeric tensor to [min, max]',
  types: ['MODEL', 'TRANSFORMER', 'OUTPUT_TRANSFORMER'],
  parameters: {
    min: { type: 'number', default: 0, description: 'lower bound' },
    max: { type: 'number', required: true, description: 'upper bound' },
  },
  create(params, ctx) {
    const min = params.min as number;
    const max = params.max as number;
    if (min > max) throw new Error(`${ctx.nodeName}: min ${min} > max ${max}`);
    const clip = (input: Payload, call: CallContext): Promise<Payload> =>
      // work() makes the compute a span of its own when tracing is on.
      call.work('clip', () => {
        if (input.kind !== 'tensor' || input.tensor.dtype !== 'float32') {
          throw invalidArgument(`${ctx.nodeName}: expects a float32 tensor, got ${describePayload(input)}`);
        }
        const src = input.tensor.data as Float32Array;
        const out = new Float32Array(src.length);
        let changed = 0;
        for (let i = 0; i < src.length; i++) {
          const v = src[i] as number;
          const c = v < min ? min : v > max ? max : v;
          if (c !== v) changed++;
          out[i] = c;
        }
        call.addTags({ [`${ctx.nodeName}_clipped`]: changed });
        call.addMetric({ key: 'clipped_elements', type: 'COUNTER', value: changed });
        return { kind: 'tensor', tensor: { dtype: 'float32', shape: [...input.tensor.shape], data: out } };
      });
    return { predict: clip, transformInput: clip, transformOutput: clip };
  },
});
