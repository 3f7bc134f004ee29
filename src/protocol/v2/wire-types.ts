/**
 * Decoded Open Inference Protocol messages as @grpc/proto-loader gives them with V2_LOADER_OPTIONS (keepCase, int64
 * as string, bytes as Buffer, defaults off: absent fields are undefined). Only src/protocol uses these.
 */
export type WireInt64 = string | number;

export interface WireInferParameter {
  bool_param?: boolean;
  int64_param?: WireInt64;
  string_param?: string;
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param';
}

export interface WireTensorContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: WireInt64[];
  uint_contents?: number[];
  uint64_contents?: WireInt64[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Uint8Array[];
}

export interface WireInferInputTensor {
  name?: string;
  datatype?: string;
  shape?: WireInt64[];
  parameters?: Record<string, WireInferParameter>;
  contents?: WireTensorContents | null;
}

export interface WireModelInferRequest {
  model_name?: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, WireInferParameter>;
  inputs?: WireInferInputTensor[];
  outputs?: { name?: string; parameters?: Record<string, WireInferParameter> }[];
  raw_input_contents?: Uint8Array[];
}

export interface WireInferOutputTensor {
  name: string;
  datatype: string;
  shape: WireInt64[];
  parameters?: Record<string, WireInferParameter>;
  contents?: WireTensorContents;
}

export interface WireModelInferResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, WireInferParameter>;
  outputs: WireInferOutputTensor[];
  raw_output_contents?: Uint8Array[];
}

export interface WireV2TensorMetadata {
  name: string;
  datatype: string;
  shape: WireInt64[];
}

export interface WireV2ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: WireV2TensorMetadata[];
  outputs: WireV2TensorMetadata[];
}
