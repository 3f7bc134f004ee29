import type { ComponentMetadata, ModelMetadata, TensorMetadata } from '../../components/api';
import type { NodeType } from '../../components/types';
import { seldonMethod } from './proto-loader';
import type { WireGraphMetadata, WireMessageMetadata, WireModelMetadata } from './wire-types';

/** Component / graph metadata <-> Seldon's SeldonModelMetadata and SeldonGraphMetadata. */

const tensorMeta = (t: TensorMetadata): WireMessageMetadata => ({
  messagetype: 'tensor',
  name: t.name,
  datatype: t.datatype,
  // Symbolic dimensions (batch_size) are -1, as in KServe/Triton metadata.
  shape: t.shape.map((d) => (typeof d === 'number' ? d : -1)),
});

export function modelMetadataToWire(name: string, m: ComponentMetadata): WireModelMetadata {
  return {
    name,
    versions: m.versions ?? [],
    platform: m.platform ?? '',
    inputs: (m.inputs ?? []).map(tensorMeta),
    outputs: (m.outputs ?? []).map(tensorMeta),
  };
}

const tensorFromWire = (w: WireMessageMetadata): TensorMetadata => ({
  name: w.name ?? '',
  datatype: w.datatype ?? '',
  shape: [...(w.shape ?? [])],
});

/** A node's Metadata answer; the node's graph name when it sent none. */
export function modelMetadataFromWire(w: WireModelMetadata, name: string): ModelMetadata {
  return {
    name: w.name || name,
    versions: [...(w.versions ?? [])],
    platform: w.platform ?? '',
    inputs: (w.inputs ?? []).map(tensorFromWire),
    outputs: (w.outputs ?? []).map(tensorFromWire),
  };
}

export function graphMetadataToWire(
  name: string,
  models: Record<string, WireModelMetadata>,
  inputs: WireMessageMetadata[],
  outputs: WireMessageMetadata[],
): WireGraphMetadata {
  return { name, models, inputs, outputs };
}

export const binaryInputMetadata = (): WireMessageMetadata => ({ messagetype: 'binData' });

/** The node services that answer Metadata (Seldon's Model and Transformer). */
const METADATA_SERVICE: Partial<Record<NodeType, string>> = {
  MODEL: 'seldon.protos.Model',
  TRANSFORMER: 'seldon.protos.Transformer',
};

/** How to ask a node of this type for its metadata over gRPC; undefined when its Seldon service has no Metadata. */
export function metadataRpc(
  type: NodeType,
): { path: string; serialize: (v: object) => Buffer; deserialize: (b: Buffer) => WireModelMetadata } | undefined {
  const service = METADATA_SERVICE[type];
  if (!service) return undefined;
  const def = seldonMethod(service, 'Metadata');
  return {
    path: def.path,
    serialize: def.requestSerialize,
    deserialize: def.responseDeserialize,
  };
}
