import os from 'node:os';
import type { Payload } from '../../message/message';
import { defineComponent, type CallContext } from '../api';

/** Returns its input unchanged; serves any single-input node type. Tests use it to prove the walk. */
export default defineComponent({
  name: 'identity',
  description: 'returns its input unchanged (tests, debugging)',
  types: ['MODEL', 'TRANSFORMER', 'OUTPUT_TRANSFORMER'],
  parameters: {
    tag: { type: 'string', description: 'if set, adds the tag {<tag>: <node name>} to every response' },
    pidTag: { type: 'string', description: 'if set, adds the tag {<pidTag>: <process id>}: which replica answered' },
    hostTag: { type: 'string', description: 'if set, adds the tag {<hostTag>: <host name>}: which pod answered' },
  },
  create(params, ctx) {
    const tag = params.tag as string | undefined;
    const pidTag = params.pidTag as string | undefined;
    const hostTag = params.hostTag as string | undefined;
    const pass = (input: Payload, call: CallContext): Payload => {
      if (tag) call.addTags({ [tag]: ctx.nodeName });
      if (pidTag) call.addTags({ [pidTag]: process.pid });
      if (hostTag) call.addTags({ [hostTag]: os.hostname() });
      return input;
    };
    return { predict: pass, transformInput: pass, transformOutput: pass };
  },
});
