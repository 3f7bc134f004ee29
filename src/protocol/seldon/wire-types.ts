/**
 * Shapes of the decoded protobuf objects as @grpc/proto-loader produces them with our load options
 * (keepCase, longs as Number, enums as String, bytes as Buffer, oneofs). Only src/protocol uses these.
 */
export interface WireValue {
  nullValue?: string;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: { fields?: Record<string, WireValue> };
  listValue?: { values?: WireValue[] };
  kind?: string;
}

export interface WireTensorProto {
  dtype?: string | number;
  tensor_shape?: { dim?: { size?: number | string; name?: string }[]; unknown_rank?: boolean };
  version_number?: number;
  tensor_content?: Uint8Array;
  float_val?: number[];
  double_val?: number[];
  int_val?: number[];
  string_val?: Uint8Array[];
  int64_val?: (number | string)[];
  bool_val?: boolean[];
}

export interface WireDefaultData {
  names?: string[];
  tensor?: { shape?: number[]; values?: number[] };
  ndarray?: { values?: WireValue[] };
  tftensor?: WireTensorProto;
  data_oneof?: 'tensor' | 'ndarray' | 'tftensor';
}

export interface WireMetric {
  key?: string;
  type?: string;
  value?: number;
  tags?: Record<string, string>;
}

export interface WireMeta {
  puid?: string;
  tags?: Record<string, WireValue>;
  routing?: Record<string, number>;
  requestPath?: Record<string, string>;
  metrics?: WireMetric[];
}

export interface WireStatus {
  code?: number;
  info?: string;
  reason?: string;
  status?: string;
}

export interface WireSeldonMessage {
  status?: WireStatus | null;
  meta?: WireMeta | null;
  data?: WireDefaultData;
  binData?: Uint8Array;
  strData?: string;
  jsonData?: WireValue;
  customData?: { type_url?: string; value?: Uint8Array };
  data_oneof?: 'data' | 'binData' | 'strData' | 'jsonData' | 'customData';
}

export interface WireSeldonMessageList {
  seldonMessages?: WireSeldonMessage[];
}

export interface WireMessageMetadata {
  messagetype?: string;
  schema?: WireValue;
  name?: string;
  datatype?: string;
  shape?: number[];
}

export interface WireModelMetadata {
  name?: string;
  versions?: string[];
  platform?: string;
  inputs?: WireMessageMetadata[];
  outputs?: WireMessageMetadata[];
}

export interface WireGraphMetadata {
  name?: string;
  models?: Record<string, WireModelMetadata>;
  inputs?: WireMessageMetadata[];
  outputs?: WireMessageMetadata[];
}
