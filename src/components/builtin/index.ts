import type { ComponentDefinition } from '../api';

/** Built-in components, loaded lazily so a node only loads the libraries (sharp, onnxruntime) it needs. */
export const BUILTIN_LOADERS: Record<string, () => ComponentDefinition> = {};
