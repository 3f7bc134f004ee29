/**
 * Plain types of the component API that the graph spec shares: the node types a component can serve and the values
 * its parameters take. Here, not in src/graph, so components import nothing from the graph.
 */
export const NODE_TYPES = ['MODEL', 'TRANSFORMER', 'OUTPUT_TRANSFORMER', 'COMBINER', 'ROUTER'] as const;
export type NodeType = (typeof NODE_TYPES)[number];

export type ParamValue = string | number | boolean;
