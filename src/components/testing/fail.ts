import { Code, InferError, type CodeValue } from '../../errors';
import { defineComponent, type CallContext } from '../api';
import type { Payload } from '../../message/message';
import { CATALOG } from './catalog';

/**
 * Fails every request with gRPC status `code` (or exits the process when `exit` is set), after `delayMs`.
 * Tests use it to prove error propagation and sibling cancellation.
 */
export default defineComponent({
  ...CATALOG['fail'],
  create(params, ctx) {
    const fail = async (_input: unknown, call: CallContext): Promise<never> => {
      const delay = params.delayMs as number;
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      void call;
      throw new InferError(params.code as CodeValue, `${ctx.nodeName}: ${String(params.message)}`);
    };
    const failPayload = fail as (i: Payload, c: CallContext) => Promise<Payload>;
    return {
      predict: failPayload,
      transformInput: failPayload,
      transformOutput: failPayload,
      aggregate: fail as (i: Payload[], c: CallContext) => Promise<Payload>,
      route: fail as (i: Payload, c: CallContext) => Promise<number>,
    };
  },
});
