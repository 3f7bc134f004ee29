/** Names and labels shared by `render`, the operator and its pruning. */

export const GROUP = 'infergraph.dev';
export const VERSION = 'v1alpha1';
export const PLURAL = 'inferencegraphs';
export const FIELD_MANAGER = 'infergraph-operator';
export const DEFAULT_IMAGE = 'infergraph:0.1.0';

export const NODE_PORT = 9000;
export const EXECUTOR_PORT = 8000;
export const MANIFEST_DIR = '/etc/infergraph';
export const MANIFEST_PATH = `${MANIFEST_DIR}/graph.yaml`;

export const LABEL = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
  graph: 'infergraph.dev/graph',
  node: 'infergraph.dev/node',
  role: 'infergraph.dev/role',
} as const;

export type Role = 'node' | 'executor' | 'manifest';

export const nodeObjectName = (graph: string, node: string): string => `${graph}-${node}`;
export const executorName = (graph: string): string => `${graph}-executor`;
export const manifestConfigMapName = (graph: string): string => `${graph}-manifest`;

/** Labels on every object of a graph; the operator prunes by graph + managed-by. */
export function graphLabels(graph: string, role: Role, node?: string): Record<string, string> {
  const l: Record<string, string> = {
    [LABEL.name]: 'infergraph',
    [LABEL.instance]: graph,
    [LABEL.component]: role,
    [LABEL.managedBy]: FIELD_MANAGER,
    [LABEL.graph]: graph,
    [LABEL.role]: role,
  };
  if (node) l[LABEL.node] = node;
  return l;
}

/** The immutable Deployment selector: graph + role (+ node). */
export function selectorLabels(graph: string, role: 'node' | 'executor', node?: string): Record<string, string> {
  const l: Record<string, string> = { [LABEL.graph]: graph, [LABEL.role]: role };
  if (node) l[LABEL.node] = node;
  return l;
}

export const pruneSelector = (graph: string): string => `${LABEL.graph}=${graph},${LABEL.managedBy}=${FIELD_MANAGER}`;
