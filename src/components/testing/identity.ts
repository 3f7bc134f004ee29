import type { Payload } from '../../message/message';
import { defineComponent, type CallContext } from '../api';
import { Params } from '../builtin/common';

/** Returns its input unchanged; serves any single-input node type. Tests use it to prove the walk. */
const definition = defineComponent({
  name: 'identity',
  description: 'returns its input unchanged (tests, debugging)',
  types: ['MODEL', 'TRANSFORMER', 'OUTPUT_TRANSFORMER'],
  parameters: {
    tag: { type: 'string', description: 'if set, adds the tag {<tag>: <node name>} to every response' },
  },
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
