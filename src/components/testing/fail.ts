import { InferError, type CodeValue } from '../../errors';
import { defineComponent, type CallContext } from '../api';
import { Params } from '../builtin/common';
import { CATALOG } from './catalog';
import type { Payload } from '../../message/message';

/**
 * Fails every request with gRPC status `code` (or exits the process when `exit` is set), after `delayMs`.
 * Tests use it to prove error propagation and sibling cancellation.
 */
const definition = defineComponent({
  ...CATALOG['fail'],
  create(params, ctx) {
    const p = new Params('fail', params, definition.parameters);
    const code = p.integer('code', 1, 16) as CodeValue;
    const message = p.string('message');
    const delay = p.integer('delayMs');
    const fail = async (_input: unknown, call: CallContext): Promise<never> => {
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      void call;
      throw new InferError(code, `${ctx.nodeName}: ${message}`);
    };
    const failPayload = fail as (i: Payload, c: CallContext) => Promise<Payload>;
    return {
      predict: failPayload,
      transformInput: failPayload,
      transformOutput: failPayload,
      aggregate: fail,
      route: fail,
    };
  },
});

export default definition;
