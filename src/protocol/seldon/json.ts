import { invalidArgument } from '../../errors';
import type { InferMessage, JsonValue, TensorEncoding } from '../../message/message';
import { jsonToValue, valueToJson } from './json-value';
import { fromWire, toWire } from './seldon-message';
import { RawDefaultData, rawTensorPayload } from './raw-payload';
import { tensorToTf, tfDtypeName } from './tftensor';
import type { WireDefaultData, WireMeta, WireSeldonMessage, WireTensorProto } from './wire-types';

/**
 * SeldonMessage in its JSON form (protobuf's JSON mapping, as Seldon's REST API and Python wrapper write it) <->
 * InferMessage, through the same wire object as gRPC so both front doors read a message alike:
 *   data.ndarray (nested lists), data.tensor {shape, values}, data.tftensor (TensorProto JSON: dtype "DT_FLOAT",
 *   tensorShape.dim[].size, tensorContent base64 or floatVal/doubleVal/intVal/int64Val/boolVal/stringVal),
 *   binData (base64), strData, jsonData, meta {puid, tags, routing, requestPath, metrics}.
 */

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function base64(x: unknown, what: string): Buffer {
  if (typeof x !== 'string' || !BASE64.test(x)) throw invalidArgument(`${what}: expected a base64 string`);
  return Buffer.from(x, 'base64');
}

function numbers(x: unknown, what: string): number[] {
  if (!Array.isArray(x)) throw invalidArgument(`${what}: expected an array of numbers`);
  const out = x.map(Number);
  const bad = out.findIndex((v, i) => !Number.isFinite(v) && typeof x[i] !== 'number');
  if (bad >= 0) throw invalidArgument(`${what}[${bad}]: ${JSON.stringify(x[bad])} is not a number`);
  return out;
}

function strings(x: unknown, what: string): string[] {
  if (!Array.isArray(x) || !x.every((s) => typeof s === 'string'))
    throw invalidArgument(`${what}: expected an array of strings`);
  return x;
}

function tfFromJson(j: unknown): WireTensorProto {
  if (!isObj(j)) throw invalidArgument('data.tftensor: expected a TensorProto object');
  const shape = isObj(j.tensorShape) ? j.tensorShape : {};
  const dims = shape.dim ?? [];
  if (!Array.isArray(dims)) throw invalidArgument('data.tftensor.tensorShape.dim: expected an array');
  const tf: WireTensorProto = {
    dtype: typeof j.dtype === 'number' || typeof j.dtype === 'string' ? j.dtype : 0,
    tensor_shape: {
      dim: dims.map((d: unknown, i) => {
        const size = Number(isObj(d) ? (d.size ?? 0) : NaN);
        if (!Number.isSafeInteger(size) || size < 0)
          throw invalidArgument(`data.tftensor.tensorShape.dim[${i}].size: expected a non-negative integer`);
        return { size };
      }),
    },
  };
  const what = (f: string): string => `data.tftensor.${f}`;
  if (j.tensorContent !== undefined) tf.tensor_content = base64(j.tensorContent, what('tensorContent'));
  if (j.floatVal !== undefined) tf.float_val = numbers(j.floatVal, what('floatVal'));
  if (j.doubleVal !== undefined) tf.double_val = numbers(j.doubleVal, what('doubleVal'));
  if (j.intVal !== undefined) tf.int_val = numbers(j.intVal, what('intVal'));
  if (j.int64Val !== undefined) {
    if (!Array.isArray(j.int64Val)) throw invalidArgument(`${what('int64Val')}: expected an array`);
    tf.int64_val = j.int64Val.map((v: unknown) => {
      if (typeof v !== 'string' && typeof v !== 'number') throw invalidArgument(`${what('int64Val')}: not an integer`);
      return v;
    });
  }
  if (j.boolVal !== undefined) {
    if (!Array.isArray(j.boolVal) || !j.boolVal.every((b) => typeof b === 'boolean'))
      throw invalidArgument(`${what('boolVal')}: expected an array of booleans`);
    tf.bool_val = j.boolVal;
  }
  if (j.stringVal !== undefined) {
    if (!Array.isArray(j.stringVal)) throw invalidArgument(`${what('stringVal')}: expected an array of base64 strings`);
    tf.string_val = j.stringVal.map((s: unknown, i) => base64(s, `${what('stringVal')}[${i}]`));
  }
  return tf;
}

function dataFromJson(d: unknown): WireDefaultData {
  if (!isObj(d)) throw invalidArgument('data: expected an object with ndarray, tensor or tftensor');
  const out: WireDefaultData = {};
  if (d.names !== undefined) out.names = strings(d.names, 'data.names');
  const forms = ['ndarray', 'tensor', 'tftensor'].filter((k) => d[k] !== undefined);
  if (forms.length !== 1) {
    throw invalidArgument(
      forms.length === 0
        ? 'data: has neither ndarray, tensor nor tftensor'
        : `data: has ${forms.join(' and ')}; send one of them`,
    );
  }
  if (d.ndarray !== undefined) {
    if (!Array.isArray(d.ndarray)) throw invalidArgument('data.ndarray: expected a (nested) list');
    out.ndarray = jsonToValue(d.ndarray as JsonValue).listValue ?? { values: [] };
  } else if (d.tensor !== undefined) {
    if (!isObj(d.tensor)) throw invalidArgument('data.tensor: expected {shape, values}');
    const shape = numbers(d.tensor.shape ?? [], 'data.tensor.shape');
    if (!shape.every((n) => Number.isSafeInteger(n) && n >= 0))
      throw invalidArgument(`data.tensor.shape: expected non-negative integers, got [${shape.join(', ')}]`);
    out.tensor = { shape, values: numbers(d.tensor.values ?? [], 'data.tensor.values') };
  } else {
    out.tftensor = tfFromJson(d.tftensor);
  }
  return out;
}

function metaFromJson(m: unknown): WireMeta {
  if (m === undefined || m === null) return {};
  if (!isObj(m)) throw invalidArgument('meta: expected an object');
  const out: WireMeta = {};
  if (m.puid !== undefined) {
    if (typeof m.puid !== 'string') throw invalidArgument('meta.puid: expected a string');
    out.puid = m.puid;
  }
  if (m.tags !== undefined) {
    if (!isObj(m.tags)) throw invalidArgument('meta.tags: expected an object');
    out.tags = Object.fromEntries(Object.entries(m.tags).map(([k, v]) => [k, jsonToValue(v as JsonValue)]));
  }
  if (m.routing !== undefined) {
    if (!isObj(m.routing)) throw invalidArgument('meta.routing: expected an object of integers');
    out.routing = Object.fromEntries(Object.entries(m.routing).map(([k, v]) => [k, Number(v)]));
  }
  if (m.requestPath !== undefined) {
    if (!isObj(m.requestPath)) throw invalidArgument('meta.requestPath: expected an object of strings');
    out.requestPath = Object.fromEntries(Object.entries(m.requestPath).map(([k, v]) => [k, String(v)]));
  }
  if (m.metrics !== undefined) {
    if (!Array.isArray(m.metrics)) throw invalidArgument('meta.metrics: expected an array');
    out.metrics = m.metrics.map((x: unknown, i) => {
      if (!isObj(x) || typeof x.key !== 'string')
        throw invalidArgument(`meta.metrics[${i}]: expected {key, type, value}`);
      return {
        key: x.key,
        type: typeof x.type === 'string' ? x.type : 'COUNTER',
        value: Number(x.value ?? 0),
        tags: isObj(x.tags) ? (x.tags as Record<string, string>) : {},
      };
    });
  }
  return out;
}

/** A SeldonMessage's JSON body as the wire object gRPC would have decoded; INVALID_ARGUMENT naming the field. */
export function seldonWireFromJson(body: unknown): WireSeldonMessage {
  if (!isObj(body)) throw invalidArgument('the body must be a JSON object (a SeldonMessage)');
  const forms = ['data', 'binData', 'strData', 'jsonData'].filter((k) => body[k] !== undefined);
  if (forms.length > 1) throw invalidArgument(`the message has ${forms.join(' and ')}; send one of them`);
  if (body.customData !== undefined)
    throw invalidArgument('customData (google.protobuf.Any) payloads are not supported');
  const w: WireSeldonMessage = { meta: metaFromJson(body.meta) };
  if (body.data !== undefined) w.data = dataFromJson(body.data);
  else if (body.binData !== undefined) w.binData = base64(body.binData, 'binData');
  else if (body.strData !== undefined) {
    if (typeof body.strData !== 'string') throw invalidArgument('strData: expected a string');
    w.strData = body.strData;
  } else if (body.jsonData !== undefined) w.jsonData = jsonToValue(body.jsonData as JsonValue);
  return w;
}

/** A SeldonMessage JSON body as an InferMessage. */
export const seldonFromJson = (body: unknown): InferMessage => fromWire(seldonWireFromJson(body));

function tfToJson(tf: WireTensorProto): Obj {
  const out: Obj = {
    dtype: typeof tf.dtype === 'number' ? tfDtypeName(tf.dtype) : tf.dtype,
    tensorShape: { dim: (tf.tensor_shape?.dim ?? []).map((d) => ({ size: String(d.size ?? 0) })) },
  };
  if (tf.tensor_content) out.tensorContent = Buffer.from(tf.tensor_content).toString('base64');
  if (tf.string_val) out.stringVal = tf.string_val.map((b) => Buffer.from(b).toString('base64'));
  return out;
}

/** A wire SeldonMessage in its JSON form. */
export function seldonWireToJson(w: WireSeldonMessage): Obj {
  const out: Obj = {};
  if (w.status) out.status = w.status;
  if (w.meta) {
    const m = w.meta;
    const tags = Object.fromEntries(Object.entries(m.tags ?? {}).map(([k, v]) => [k, valueToJson(v)]));
    out.meta = {
      puid: m.puid ?? '',
      tags,
      routing: m.routing ?? {},
      requestPath: m.requestPath ?? {},
      metrics: m.metrics ?? [],
    };
  }
  if (w.data) {
    // A tensor relayed without decoding (raw-payload.ts) is decoded here: JSON needs its values.
    const raw = w.data instanceof RawDefaultData ? rawTensorPayload(w.data) : undefined;
    const d: WireDefaultData =
      raw?.kind === 'tensor' ? { names: raw.names ?? [], tftensor: tensorToTf(raw.tensor) } : w.data;
    const data: Obj = { names: d.names ?? [] };
    if (d.ndarray) data.ndarray = (d.ndarray.values ?? []).map(valueToJson);
    else if (d.tensor) data.tensor = { shape: d.tensor.shape ?? [], values: d.tensor.values ?? [] };
    else if (d.tftensor) data.tftensor = tfToJson(d.tftensor);
    out.data = data;
  } else if (w.binData) out.binData = Buffer.from(w.binData).toString('base64');
  else if (w.strData !== undefined) out.strData = w.strData;
  else if (w.jsonData) out.jsonData = valueToJson(w.jsonData);
  return out;
}

/** An InferMessage as a SeldonMessage JSON body; tensors in `encoding` (the form the request used). */
export const seldonToJson = (m: InferMessage, encoding: TensorEncoding): Obj => seldonWireToJson(toWire(m, encoding));

/** Seldon's failure body: {"status": {"code": <HTTP status>, "info": <message>, "reason": <gRPC code name>, ...}}. */
export const seldonErrorJson = (httpStatus: number, info: string, reason: string): Obj => ({
  status: { code: httpStatus, info, reason, status: 'FAILURE' },
});
