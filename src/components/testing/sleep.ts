import { deadlineExceeded } from '../../errors';
import { defineComponent, type CallContext } from '../api';
import { Params } from '../builtin/common';
import { CATALOG } from './catalog';
import type { Payload } from '../../message/message';

/**
 * Waits `ms` then returns its input; stops early (CANCELLED/DEADLINE_EXCEEDED) when the call is aborted.
 * Tests use it to prove deadline propagation and sibling cancellation reach the node.
 */
const definition = defineComponent({
  ...CATALOG['sleep'],
  create(params, ctx) {
    const ms = new Params('sleep', params, definition.parameters).integer('ms');
    const run = (input: Payload, call: CallContext): Promise<Payload> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          call.addTags({ [`${ctx.nodeName}_slept_ms`]: ms });
          resolve(input);
        }, ms);
        call.signal.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            reject(deadlineExceeded(`${ctx.nodeName}: aborted after ${ms} ms sleep was requested`));
          },
          { once: true },
        );
      });
    return { predict: run, transformInput: run, transformOutput: run };
  },
});

export default definition;
