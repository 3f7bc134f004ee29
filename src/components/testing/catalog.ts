import { Code } from '../../errors';
import type { ComponentInfo } from '../api';

/** The test components' names, node types and parameter schemas: plain data (see ../builtin/catalog.ts). */
export const CATALOG = {
  identity: {
    name: 'identity',
    description: 'returns its input unchanged (tests, debugging)',
    types: ['MODEL', 'TRANSFORMER', 'OUTPUT_TRANSFORMER'],
    parameters: {
      tag: { type: 'string', description: 'if set, adds the tag {<tag>: <node name>} to every response' },
      pidTag: { type: 'string', description: 'if set, adds the tag {<pidTag>: <process id>}: which replica answered' },
      hostTag: { type: 'string', description: 'if set, adds the tag {<hostTag>: <host name>}: which pod answered' },
    },
  },
  scale: {
    name: 'scale',
    description: 'y = x * factor + offset on a numeric tensor (tests, examples)',
    types: ['MODEL', 'TRANSFORMER', 'OUTPUT_TRANSFORMER'],
    parameters: {
      factor: { type: 'number', required: true, description: 'multiplier' },
      offset: { type: 'number', default: 0, description: 'added after scaling' },
    },
  },
  'sum-combiner': {
    name: 'sum-combiner',
    description: "element-wise sum (mode: sum) or mean (mode: mean) of the children's tensors",
    types: ['COMBINER'],
    parameters: {
      mode: { type: 'string', default: 'sum', description: "'sum' or 'mean'" },
    },
  },
  'fixed-router': {
    name: 'fixed-router',
    description: "routes every request to child `route` (-1 = all, -2 = none); a numeric request tag 'route' overrides",
    types: ['ROUTER'],
    parameters: {
      route: { type: 'integer', default: -1, description: 'child index, -1 for all children, -2 for none' },
    },
  },
  fail: {
    name: 'fail',
    description: 'fails every request with the given gRPC status code and message (tests)',
    types: ['MODEL', 'TRANSFORMER', 'OUTPUT_TRANSFORMER', 'COMBINER', 'ROUTER'],
    parameters: {
      code: { type: 'integer', default: Code.FAILED_PRECONDITION, description: 'gRPC status code to answer with' },
      message: { type: 'string', default: 'failing on purpose', description: 'error message' },
      delayMs: { type: 'integer', default: 0, description: 'wait this long before failing' },
    },
  },
  'feedback-probe': {
    name: 'feedback-probe',
    description:
      'returns its input; takes feedback and tags the reply {feedback.<node>: {count, rewardSum, routing, truth}} (tests)',
    types: ['MODEL'],
    parameters: {},
  },
  sleep: {
    name: 'sleep',
    description: 'returns its input after `ms` milliseconds, honouring cancellation (tests)',
    types: ['MODEL', 'TRANSFORMER', 'OUTPUT_TRANSFORMER'],
    parameters: {
      ms: { type: 'integer', required: true, description: 'how long to wait' },
    },
  },
} satisfies Record<string, ComponentInfo>;
