import type { ComponentDefinition } from '../api';
/* eslint-disable @typescript-eslint/no-require-imports -- lazy loaders: a module loads when its component is used */

/** Small components used by tests and examples to prove the graph walk without real models. */
export const TEST_LOADERS: Record<string, () => ComponentDefinition> = {
  identity: () => (require('./identity') as { default: ComponentDefinition }).default,
  scale: () => (require('./scale') as { default: ComponentDefinition }).default,
  'sum-combiner': () => (require('./sum-combiner') as { default: ComponentDefinition }).default,
  'fixed-router': () => (require('./fixed-router') as { default: ComponentDefinition }).default,
  fail: () => (require('./fail') as { default: ComponentDefinition }).default,
  'feedback-probe': () => (require('./feedback-probe') as { default: ComponentDefinition }).default,
  sleep: () => (require('./sleep') as { default: ComponentDefinition }).default,
};
