import type { TensorMetadata } from '../components/api';
import { declaredOutputs } from '../components/catalog';
import { Code, InferError } from '../errors';
import { walkNodes, type GraphSpec, type NodeSpec } from '../graph/spec';
import type { V2ModelSpec, V2TensorSpec } from '../protocol/v2/metadata';
import type { WireModelMetadata } from '../protocol/seldon/wire-types';

/**
 * The graph as the one model of the Open Inference Protocol (V2), shared by its gRPC and REST front doors: its name,
 * version, inputs and outputs, and the check of a request's model name and version.
 */

export const SERVER_NAME = 'infergraph';
export const SERVER_VERSION = '0.1.0';
/** Extension names of what the V2 front doors implement beyond the core protocol (Triton's names). */
export const V2_EXTENSIONS = ['model_configuration', 'parameters', 'binary_tensor_data'];
/** The graph has one version; an empty model_version means it too. */
export const MODEL_VERSION = '1';

/** NOT_FOUND unless `name` is the graph and `version` is empty or its one version. */
export function checkModel(graph: GraphSpec, name: string | undefined, version: string | undefined): void {
  if (name !== graph.name) {
    throw new InferError(
      Code.NOT_FOUND,
      `model '${name ?? ''}' not found: this server serves one model, '${graph.name}'`,
    );
  }
  if (version && version !== MODEL_VERSION) {
    throw new InferError(Code.NOT_FOUND, `model '${name}' has no version '${version}' (versions: ${MODEL_VERSION})`);
  }
}

/**
 * Its input is what the first MODEL or TRANSFORMER on the way in declares (a single BYTES element, binData, when it
 * declares nothing); its outputs are what the node that answers declares (ComponentInfo.outputs), else the outputs
 * of the model the answer comes from.
 */
export function graphModelSpec(graph: GraphSpec, models: Record<string, WireModelMetadata>): V2ModelSpec {
  const first = walkNodes(graph.graph).find((n) => n.type === 'MODEL' || n.type === 'TRANSFORMER');
  const declared = first ? toSpecs(models[first.name]?.inputs) : [];
  const inputs: V2TensorSpec[] = declared.length > 0 ? declared : [{ name: 'input', datatype: 'BYTES', shape: [1] }];
  return {
    name: graph.name,
    platform: 'infergraph',
    versions: [MODEL_VERSION],
    inputs,
    outputs: graphOutputs(graph.graph, models),
  };
}

/** The outputs of the answer as declared by components alone (no node asked): how JSON answers become tensors. */
export const declaredAnswer = (graph: GraphSpec): V2TensorSpec[] => graphOutputs(graph.graph, {});

function graphOutputs(node: NodeSpec, models: Record<string, WireModelMetadata>): V2TensorSpec[] {
  const declared = declaredOutputs(node.implementation);
  if (declared) return declared.map(numericShape);
  if (node.type === 'MODEL') {
    const outs = toSpecs(models[node.name]?.outputs);
    if (outs.length > 0) return outs;
  }
  // A transformer or combiner above passes the model's answer on; an undeclared output transformer or router may not.
  if (node.type === 'OUTPUT_TRANSFORMER' || node.type === 'ROUTER') return [];
  const child = node.children[0];
  return child ? graphOutputs(child, models) : [];
}

const numericShape = (t: TensorMetadata): V2TensorSpec => ({
  name: t.name,
  datatype: t.datatype,
  shape: t.shape.map((d) => (typeof d === 'number' ? d : -1)),
});

function toSpecs(ts: { name?: string; datatype?: string; shape?: number[] }[] | undefined): V2TensorSpec[] {
  return (ts ?? [])
    .filter((t) => t.name && t.datatype)
    .map((t) => ({ name: t.name as string, datatype: t.datatype as string, shape: t.shape ?? [] }));
}
