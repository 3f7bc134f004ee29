import type { Payload } from '../../message/message';
import { defineComponent, type CallContext } from '../api';
import { Params } from '../builtin/common';
import { CATALOG } from './catalog';

/** Returns its input unchanged; serves any single-input node type. Tests use it to prove the walk. */
const definition = defineComponent({
  ...CATALOG['identity'],
  create(params, ctx) {
    const tag = new Params('identity', params, definition.parameters).optionalString('tag');
    const pass = (input: Payload, call: CallContext): Payload => {
      if (tag) call.addTags({ [tag]: ctx.nodeName });
      return input;
    };
    return { predict: pass, transformInput: pass, transformOutput: pass };
  },
});

export default definition;
