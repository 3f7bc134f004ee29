import path from 'node:path';
import type { ComponentInfo, TensorMetadata } from './api';
import { CATALOG as IMAGE_CATALOG } from './builtin/catalog';
import { CATALOG as TEST_CATALOG } from './testing/catalog';

/**
 * Names, node types and parameter schemas of every built-in component, as plain data. Manifest validation (and so
 * `validate` and the operator) reads this table and never loads a component module: user code runs only in the
 * node process that hosts it.
 */

const CATALOG: Record<string, ComponentInfo> = { ...TEST_CATALOG, ...IMAGE_CATALOG };

export const isModulePath = (impl: string): boolean =>
  impl.startsWith('./') || impl.startsWith('../') || path.isAbsolute(impl) || /\.(c|m)?js$/.test(impl);

export const builtinNames = (): string[] => Object.keys(CATALOG).sort();

/** The built-in's schema, or an error naming the known built-ins. */
export function builtinInfo(name: string): ComponentInfo {
  const info = CATALOG[name];
  if (!info) throw new Error(`unknown implementation '${name}' (built-ins: ${builtinNames().join(', ')})`);
  return info;
}

/** The outputs a built-in declares (ComponentInfo.outputs); undefined for user modules and built-ins that do not. */
export const declaredOutputs = (impl: string): readonly TensorMetadata[] | undefined =>
  isModulePath(impl) ? undefined : CATALOG[impl]?.outputs;
