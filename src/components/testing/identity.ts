import os from 'node:os';
import type { Payload } from '../../message/message';
import { defineComponent, type CallContext } from '../api';
import { Params } from '../builtin/common';
import { CATALOG } from './catalog';

/** Returns its input unchanged; serves any single-input node type. Tests use it to prove the walk. */
const definition = defineComponent({
  ...CATALOG['identity'],
  create(params, ctx) {
    const p = new Params('identity', params, definition.parameters);
    const tag = p.optionalString('tag');
    const pidTag = p.optionalString('pidTag');
    const hostTag = p.optionalString('hostTag');
    const pass = (input: Payload, call: CallContext): Payload => {
      if (tag) call.addTags({ [tag]: ctx.nodeName });
      if (pidTag) call.addTags({ [pidTag]: process.pid });
      if (hostTag) call.addTags({ [hostTag]: os.hostname() });
      return input;
    };
    return { predict: pass, transformInput: pass, transformOutput: pass };
  },
});

export default definition;
