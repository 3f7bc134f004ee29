import type { Tensor } from '../tensor/tensor';

/**
 * The internal message that travels through the graph: Seldon's SeldonMessage without protobuf. Converters in
 * src/protocol turn wire messages into these and back; nothing outside src/protocol sees protobuf types.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

export type MetricType = 'COUNTER' | 'GAUGE' | 'TIMER';
export interface Metric {
  key: string;
  type: MetricType;
  value: number;
  tags?: Record<string, string>;
}

export interface Meta {
  puid: string;
  tags: Record<string, JsonValue>;
  routing: Record<string, number>;
  requestPath: Record<string, string>;
  metrics: Metric[];
}

/** How a tensor was (or should be) encoded on the wire inside Seldon's DefaultData. */
export type TensorEncoding = 'tftensor' | 'tensor' | 'ndarray';

export type Payload =
  | { kind: 'tensor'; tensor: Tensor; names?: string[]; encoding?: TensorEncoding }
  | { kind: 'bin'; data: Uint8Array }
  | { kind: 'str'; data: string }
  | { kind: 'json'; data: JsonValue }
  | { kind: 'none' };

export interface Status {
  code: number;
  info: string;
  reason: string;
  status: 'SUCCESS' | 'FAILURE';
}

export interface InferMessage {
  meta: Meta;
  payload: Payload;
  status?: Status;
}

export const emptyMeta = (puid = ''): Meta => ({ puid, tags: {}, routing: {}, requestPath: {}, metrics: [] });

export const message = (payload: Payload, meta: Meta = emptyMeta()): InferMessage => ({ meta, payload });

export const tensorPayload = (tensor: Tensor, names?: string[]): Payload =>
  names ? { kind: 'tensor', tensor, names } : { kind: 'tensor', tensor };

export function describePayload(p: Payload): string {
  switch (p.kind) {
    case 'tensor':
      return `tensor ${p.tensor.dtype}[${p.tensor.shape.join(',')}]`;
    case 'bin':
      return `binData (${p.data.byteLength} bytes)`;
    case 'str':
      return `strData (${p.data.length} chars)`;
    case 'json':
      return 'jsonData';
    case 'none':
      return 'no data';
  }
}
