import { tritonDataType, v2DatatypeName } from './datatype';
import type { WireV2ModelMetadata, WireV2TensorMetadata } from './wire-types';

/**
 * The graph seen as one V2 model: metadata (ModelMetadata) and Triton's ModelConfig. Shapes are the full tensor
 * shapes with -1 for a variable dimension; the config says max_batch_size 0, so its dims are full shapes too.
 */
export interface V2TensorSpec {
  name: string;
  /** V2 name (FP32, BYTES ...) or a component's dtype name (float32 ...). */
  datatype: string;
  shape: (number | string)[];
}

export interface V2ModelSpec {
  name: string;
  platform: string;
  versions: string[];
  inputs: V2TensorSpec[];
  outputs: V2TensorSpec[];
}

const dims = (shape: (number | string)[]): string[] =>
  shape.map((d) => String(typeof d === 'number' && d >= 0 ? d : -1));

const tensorMeta = (t: V2TensorSpec): WireV2TensorMetadata => ({
  name: t.name,
  datatype: v2DatatypeName(t.datatype),
  shape: dims(t.shape),
});

export function v2ModelMetadata(m: V2ModelSpec): WireV2ModelMetadata {
  return {
    name: m.name,
    versions: m.versions,
    platform: m.platform,
    inputs: m.inputs.map(tensorMeta),
    outputs: m.outputs.map(tensorMeta),
  };
}

export interface WireModelConfigResponse {
  config: {
    name: string;
    platform: string;
    backend: string;
    max_batch_size: number;
    input: { name: string; data_type: string; format: string; dims: string[] }[];
    output: { name: string; data_type: string; dims: string[] }[];
  };
}

export function tritonModelConfig(m: V2ModelSpec): WireModelConfigResponse {
  return {
    config: {
      name: m.name,
      platform: m.platform,
      backend: m.platform,
      max_batch_size: 0,
      input: m.inputs.map((t) => ({
        name: t.name,
        data_type: tritonDataType(v2DatatypeName(t.datatype)),
        format: 'FORMAT_NONE',
        dims: dims(t.shape),
      })),
      output: m.outputs.map((t) => ({
        name: t.name,
        data_type: tritonDataType(v2DatatypeName(t.datatype)),
        dims: dims(t.shape),
      })),
    },
  };
}
