import type { ComponentDefinition } from '../api';
/* eslint-disable @typescript-eslint/no-require-imports -- lazy loaders: a module loads when its component is used */

type Module = { default: ComponentDefinition };

/**
 * The built-in ImageNet components, by manifest `implementation` name. Each loader requires its module on first use,
 * so a node hosting the combiner never loads sharp or onnxruntime (native libraries, tens of MB, ~100 ms).
 * Literal require() calls keep the modules visible to bundlers.
 */
export const BUILTIN_LOADERS: Record<string, () => ComponentDefinition> = {
  'jpeg-input': () => (require('./jpeg-input') as Module).default,
  'onnx-model': () => (require('./onnx-model') as Module).default,
  'average-combiner': () => (require('./average-combiner') as Module).default,
  'top1-output': () => (require('./top1-output') as Module).default,
  'epsilon-greedy': () => (require('./epsilon-greedy') as Module).default,
  'thompson-sampling': () => (require('./thompson-sampling') as Module).default,
};
