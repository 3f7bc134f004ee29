import type { ComponentDefinition } from '../components/api';
import { isModulePath, loadComponentDefinition } from '../components/registry';
import { ConfigError } from '../errors';
import { Problems } from '../graph/check';
import { applyParamSchema } from '../graph/params';
import type { NodeSpec, ParamValue } from '../graph/spec';

/**
 * Loads the component a node hosts. Manifest validation checked a built-in's parameters already; a user module is
 * loaded only here, in the node's own process, which then checks the node type and parameters against the module's
 * schema (with the same messages validation gives built-ins) before creating anything.
 */
export function loadNodeComponent(
  node: NodeSpec,
  baseDir: string,
): { def: ComponentDefinition; params: Record<string, ParamValue> } {
  const def = loadComponentDefinition(node.implementation);
  if (!isModulePath(node.implementation)) return { def, params: node.parameters };
  const p = new Problems();
  const at = `${node.path} (${node.name})`;
  if (!def.types.includes(node.type))
    p.add(
      at,
      `implementation '${node.implementation}' cannot serve a ${node.type} node (it serves ${def.types.join(', ')})`,
    );
  const params = applyParamSchema(def.parameters, node.parameters, at, p, baseDir, true);
  if (p.list.length) throw new ConfigError(p.list);
  return { def, params };
}
