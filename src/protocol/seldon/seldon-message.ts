import { invalidArgument } from '../../errors';
import type {
  InferMessage,
  JsonValue,
  Meta,
  Metric,
  MetricType,
  Payload,
  Status,
  TensorEncoding,
} from '../../message/message';
import { fromNumbers, numel, shapeToString, toNumbers, type Tensor } from '../../tensor/tensor';
import { jsonToValue, valueToJson } from './json-value';
import { RawDefaultData, rawDefaultDataOf, rawTensorPayload } from './raw-payload';
import { tensorFromTf, tensorToTf } from './tftensor';
import type { WireDefaultData, WireMeta, WireSeldonMessage, WireStatus, WireValue } from './wire-types';

/** SeldonMessage (decoded protobuf object) <-> InferMessage. */

export function metaFromWire(w: WireMeta | null | undefined): Meta {
  const tags: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(w?.tags ?? {})) tags[k] = valueToJson(v);
  return {
    puid: w?.puid ?? '',
    tags,
    routing: { ...(w?.routing ?? {}) },
    requestPath: { ...(w?.requestPath ?? {}) },
    metrics: (w?.metrics ?? []).map((m): Metric => ({
      key: m.key ?? '',
      type: (m.type as MetricType | undefined) ?? 'COUNTER',
      value: m.value ?? 0,
      ...(m.tags && Object.keys(m.tags).length ? { tags: m.tags } : {}),
    })),
  };
}

export function metaToWire(m: Meta): WireMeta {
  const tags: Record<string, WireValue> = {};
  for (const [k, v] of Object.entries(m.tags)) tags[k] = jsonToValue(v);
  return {
    puid: m.puid,
    tags,
    routing: m.routing,
    requestPath: m.requestPath,
    metrics: m.metrics.map((x) => ({ key: x.key, type: x.type, value: x.value, tags: x.tags ?? {} })),
  };
}

function statusFromWire(s: WireStatus | null | undefined): Status | undefined {
  if (!s) return undefined;
  return {
    code: s.code ?? 0,
    info: s.info ?? '',
    reason: s.reason ?? '',
    status: s.status === 'FAILURE' ? 'FAILURE' : 'SUCCESS',
  };
}

/** A rectangular numeric (or string) nested list becomes a tensor; anything else stays JSON. */
function ndarrayToPayload(list: JsonValue[], names: string[] | undefined): Payload {
  const shape: number[] = [];
  let probe: JsonValue = list;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe.length ? (probe[0] as JsonValue) : null;
  }
  const flat = (list as unknown[]).flat(shape.length) as JsonValue[];
  const named = names?.length ? { names } : {};
  if (flat.length === numel(shape)) {
    if (flat.every((x) => typeof x === 'number')) {
      return { kind: 'tensor', tensor: fromNumbers('float64', shape, flat), encoding: 'ndarray', ...named };
    }
    if (flat.every((x) => typeof x === 'string')) {
      const enc = new TextEncoder();
      const tensor: Tensor = { dtype: 'string', shape, data: flat.map((s) => enc.encode(s)) };
      return { kind: 'tensor', tensor, encoding: 'ndarray', ...named };
    }
  }
  return { kind: 'json', data: list };
}

function defaultDataToPayload(d: WireDefaultData): Payload {
  if (d instanceof RawDefaultData) return rawTensorPayload(d);
  const names = d.names?.length ? d.names : undefined;
  const named = names ? { names } : {};
  const which = d.data_oneof ?? (d.tftensor ? 'tftensor' : d.tensor ? 'tensor' : d.ndarray ? 'ndarray' : undefined);
  switch (which) {
    case 'tftensor':
      return { kind: 'tensor', tensor: tensorFromTf(d.tftensor ?? {}), encoding: 'tftensor', ...named };
    case 'tensor': {
      const shape = d.tensor?.shape ?? [];
      const values = d.tensor?.values ?? [];
      if (numel(shape) !== values.length) {
        throw invalidArgument(
          `tensor: shape ${shapeToString(shape)} needs ${numel(shape)} values, got ${values.length}`,
        );
      }
      return { kind: 'tensor', tensor: fromNumbers('float64', shape, values), encoding: 'tensor', ...named };
    }
    case 'ndarray':
      return ndarrayToPayload((d.ndarray?.values ?? []).map(valueToJson), names);
    default:
      throw invalidArgument('data: DefaultData has neither tensor, ndarray nor tftensor');
  }
}

export function payloadFromWire(w: WireSeldonMessage): Payload {
  const which =
    w.data_oneof ??
    (w.data
      ? 'data'
      : w.binData
        ? 'binData'
        : w.strData !== undefined
          ? 'strData'
          : w.jsonData
            ? 'jsonData'
            : w.customData
              ? 'customData'
              : undefined);
  switch (which) {
    case 'data':
      return defaultDataToPayload(w.data ?? {});
    case 'binData':
      return { kind: 'bin', data: w.binData ?? new Uint8Array(0) };
    case 'strData':
      return { kind: 'str', data: w.strData ?? '' };
    case 'jsonData':
      return { kind: 'json', data: valueToJson(w.jsonData) };
    case 'customData':
      throw invalidArgument('customData (google.protobuf.Any) payloads are not supported');
    default:
      return { kind: 'none' };
  }
}

export function fromWire(w: WireSeldonMessage): InferMessage {
  const status = statusFromWire(w.status);
  const msg: InferMessage = { meta: metaFromWire(w.meta), payload: payloadFromWire(w) };
  if (status) msg.status = status;
  return msg;
}

function tensorToNdarray(t: Tensor): WireValue {
  const dec = new TextDecoder();
  const flat: JsonValue[] = t.dtype === 'string' ? t.data.map((b) => dec.decode(b)) : toNumbers(t);
  if (t.shape.length === 0) return jsonToValue(flat[0] ?? null);
  let pos = 0;
  const build = (dim: number): JsonValue[] => {
    const n = t.shape[dim] as number;
    const out: JsonValue[] = [];
    for (let i = 0; i < n; i++) out.push(dim === t.shape.length - 1 ? (flat[pos++] as JsonValue) : build(dim + 1));
    return out;
  };
  return jsonToValue(build(0));
}

function payloadToWire(p: Payload, encoding: TensorEncoding): Partial<WireSeldonMessage> {
  switch (p.kind) {
    case 'tensor': {
      // Seldon's `tensor` encoding carries doubles only; string tensors fall back to tftensor there.
      // A tensor that arrived raw goes on as it came (raw-payload.ts), without decoding it.
      const raw = encoding === 'tftensor' ? rawDefaultDataOf(p) : undefined;
      if (raw) return { data: raw };
      const enc = p.tensor.dtype === 'string' && encoding === 'tensor' ? 'tftensor' : encoding;
      const data: WireDefaultData = { names: p.names ?? [] };
      if (enc === 'tftensor') data.tftensor = tensorToTf(p.tensor);
      else if (enc === 'tensor') data.tensor = { shape: p.tensor.shape, values: toNumbers(p.tensor) };
      else data.ndarray = tensorToNdarray(p.tensor).listValue ?? { values: [] };
      return { data };
    }
    case 'bin':
      return { binData: p.data };
    case 'str':
      return { strData: p.data };
    case 'json':
      return { jsonData: jsonToValue(p.data) };
    case 'none':
      return {};
  }
}

/**
 * `encoding` is how tensors go on the wire: the graph's hop codec for requests to nodes; for replies, the encoding
 * the caller used (Seldon components answer in the request's format). Payload.encoding only records what arrived.
 */
export function toWire(m: InferMessage, encoding: TensorEncoding = 'tftensor'): WireSeldonMessage {
  const w: WireSeldonMessage = { meta: metaToWire(m.meta), ...payloadToWire(m.payload, encoding) };
  if (m.status) w.status = m.status;
  return w;
}
