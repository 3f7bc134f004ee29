import type { ComponentMetadata, TensorMetadata } from '../components/api';
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

export function graphMetadataToWire(
  name: string,
  models: Record<string, WireModelMetadata>,
  inputs: WireMessageMetadata[],
  outputs: WireMessageMetadata[],
): WireGraphMetadata {
  return { name, models, inputs, outputs };
}

export const binaryInputMetadata = (): WireMessageMetadata => ({ messagetype: 'binData' });
