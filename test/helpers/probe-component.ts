import { defineComponent, type CallContext, type Payload } from '../../src/index';

/**
 * A test component that reports what reached it: the deadline and whether the call was aborted. Fast in-process
 * tests load it as a user module and read its records from this process (`probeRecords`), so they can see that a
 * client's deadline and a sibling's cancellation arrived at the node itself, not only that the request failed.
 */
export interface ProbeRecord {
  node: string;
  deadline: number | undefined;
  aborted: boolean;
  finished: boolean;
}

const KEY = Symbol.for('infergraph.test.probe');
const g = globalThis as unknown as Record<symbol, ProbeRecord[] | undefined>;
export const probeRecords = (): ProbeRecord[] => (g[KEY] ??= []);

/**
 * What a component that bundles its own copy of infergraph throws: not this copy's InferError class, but branded
 * the same way (Symbol.for), with a gRPC code. Thrown when a request carries the tag `foreign`.
 */
class BundledInferError extends Error {
  readonly code = 8; // RESOURCE_EXHAUSTED
}
Object.defineProperty(BundledInferError.prototype, Symbol.for('infergraph.InferError'), { value: true });

export default defineComponent({
  name: 'probe',
  description: 'records deadline and abort of every call; answers its input after `ms` (tests)',
  types: ['MODEL', 'TRANSFORMER'],
  parameters: {
    ms: { type: 'integer', default: 0, description: 'how long to hold each call' },
  },
  create(params, ctx) {
    const ms = params.ms as number;
    const run = (input: Payload, call: CallContext): Promise<Payload> => {
      if (call.meta.tags.foreign !== undefined)
        throw new BundledInferError(`${ctx.nodeName}: queue full (bundled copy)`);
      const rec: ProbeRecord = { node: ctx.nodeName, deadline: call.deadline, aborted: false, finished: false };
      probeRecords().push(rec);
      return new Promise((resolve) => {
        const done = (): void => {
          rec.finished = true;
          resolve(input);
        };
        const timer = setTimeout(done, ms);
        call.signal.addEventListener(
          'abort',
          () => {
            rec.aborted = true;
            clearTimeout(timer);
            done();
          },
          { once: true },
        );
      });
    };
    return {
      predict: run,
      transformInput: run,
      metadata: () => ({
        platform: 'probe',
        versions: ['7'],
        inputs: [{ name: 'x', datatype: 'FP32', shape: ['batch_size', 4] }],
        outputs: [{ name: 'y', datatype: 'FP32', shape: ['batch_size', 4] }],
      }),
    };
  },
});
