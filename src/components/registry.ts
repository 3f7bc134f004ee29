import type { ComponentDefinition } from './api';
import { BUILTIN_LOADERS as IMAGE_LOADERS } from './builtin/index';
import { TEST_LOADERS } from './testing/index';
import { builtinInfo, builtinNames, isModulePath } from './catalog';

export { builtinNames, isModulePath };

const BUILTIN_LOADERS: Record<string, () => ComponentDefinition> = { ...TEST_LOADERS, ...IMAGE_LOADERS };

/**
 * Resolves a manifest `implementation` to a ComponentDefinition: a built-in name, or a module path (resolved against
 * the manifest folder) whose default export (or `component` export) is a ComponentDefinition.
 */

export function loadComponentDefinition(implementation: string): ComponentDefinition {
  if (!isModulePath(implementation)) {
    builtinInfo(implementation);
    const loader = BUILTIN_LOADERS[implementation];
    if (!loader) throw new Error(`built-in '${implementation}' has a catalog entry but no loader`);
    return loader();
  }
  let mod: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(implementation);
  } catch (err) {
    throw new Error(`cannot load component module ${implementation}: ${(err as Error).message}`);
  }
  const m = mod as { default?: unknown; component?: unknown };
  const def = (m.default ?? m.component ?? mod) as Partial<ComponentDefinition>;
  if (typeof def?.create !== 'function' || !Array.isArray(def.types) || typeof def.parameters !== 'object') {
    throw new Error(
      `component module ${implementation} must export a ComponentDefinition (default export or 'component')`,
    );
  }
  return def as ComponentDefinition;
}
