import { invalidArgument } from '../../errors';
import { emptyMeta, type InferMessage, type JsonValue, type Payload } from '../../message/message';
import { DTYPES, type NumericDType, type TypedArray } from '../../tensor/dtype';
import { checkTensor, numel, shapeToString, tensorBytes, viewBytes, type Tensor } from '../../tensor/tensor';
import { v2Type, v2TypeOf, type V2Type } from './datatype';
import type {
  WireInferInputTensor,
  WireInferOutputTensor,
  WireInferParameter,
  WireInt64,
  WireModelInferRequest,
  WireModelInferResponse,
  WireTensorContents,
} from './wire-types';

/**
 * ModelInferRequest -> InferMessage and InferMessage -> ModelInferResponse. A graph takes one input: a single BYTES
 * element (a JPEG) becomes binData, anything else a tensor. Answers become output tensors: a tensor answer is one
 * output, a JSON answer becomes the outputs its component declares (answerOutputs), other JSON one BYTES element.
 */

export interface V2InferRequest {
  id: string;
  modelName: string;
  modelVersion: string;
  /** Names of the requested outputs; empty: all. */
  outputs: string[];
  message: InferMessage;
}

/** The request parameter that sets the Seldon puid; other parameters become meta tags. */
export const PUID_PARAMETER = 'puid';
export const TRACE_ID_PARAMETER = 'trace_id';

export function inferRequestFromWire(w: WireModelInferRequest): V2InferRequest {
  const inputs = w.inputs ?? [];
  if (inputs.length !== 1) {
    const names = inputs.map((i) => `'${i.name ?? ''}'`).join(', ');
    throw invalidArgument(
      `this graph takes exactly one input tensor, got ${inputs.length}${names ? ` (${names})` : ''}`,
    );
  }
  const raw = w.raw_input_contents ?? [];
  if (raw.length > 0 && raw.length !== inputs.length) {
    throw invalidArgument(
      `raw_input_contents has ${raw.length} entries for ${inputs.length} input(s): give one per input, in order`,
    );
  }
  const input = inputs[0] as WireInferInputTensor;
  const payload = inputPayload(input, raw[0]);
  const meta = emptyMeta();
  for (const [k, p] of Object.entries(w.parameters ?? {})) {
    const v = parameterValue(p);
    if (k === PUID_PARAMETER && typeof v === 'string') meta.puid = v;
    else if (v !== undefined) meta.tags[k] = v;
  }
  return {
    id: w.id ?? '',
    modelName: w.model_name ?? '',
    modelVersion: w.model_version ?? '',
    outputs: (w.outputs ?? []).map((o) => o.name ?? ''),
    message: { meta, payload },
  };
}

function parameterValue(p: WireInferParameter): JsonValue | undefined {
  if (p.string_param !== undefined) return p.string_param;
  if (p.bool_param !== undefined) return p.bool_param;
  if (p.int64_param !== undefined) return Number(p.int64_param);
  return undefined;
}

function inputPayload(input: WireInferInputTensor, raw: Uint8Array | undefined): Payload {
  const what = `input '${input.name ?? ''}'`;
  const type = v2Type(input.datatype, what);
  const shape = (input.shape ?? []).map((d) => Number(d));
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0)
      throw invalidArgument(`${what}: bad dimension ${d} in shape ${shapeToString(shape)}`);
  }
  const n = numel(shape);
  const filled = filledFields(input.contents);
  let tensor: Tensor;
  if (raw !== undefined) {
    if (filled.length > 0)
      throw invalidArgument(`${what}: has both contents (${filled.join(', ')}) and raw_input_contents; use one`);
    tensor =
      type.dtype === 'string'
        ? { dtype: 'string', shape, data: splitBytes(raw, n, what) }
        : rawTensor(type, shape, raw, n, what);
  } else {
    tensor = typedTensor(type, shape, input.contents ?? {}, filled, n, what);
  }
  checkTensor(tensor, what);
  // One BYTES element is a file (a JPEG): the graph's binData, as Seldon's API takes it.
  if (tensor.dtype === 'string' && n === 1) return { kind: 'bin', data: tensor.data[0] as Uint8Array };
  return { kind: 'tensor', tensor, names: [input.name ?? 'input'] };
}

function filledFields(c: WireTensorContents | null | undefined): (keyof WireTensorContents)[] {
  if (!c) return [];
  return (Object.keys(c) as (keyof WireTensorContents)[]).filter((k) => (c[k]?.length ?? 0) > 0);
}

function rawTensor(type: V2Type, shape: number[], raw: Uint8Array, n: number, what: string): Tensor {
  const dtype = type.dtype as NumericDType;
  const need = n * DTYPES[dtype].bytes;
  if (raw.byteLength !== need) {
    throw invalidArgument(
      `${what}: raw_input_contents has ${raw.byteLength} bytes, but ${type.name} ${shapeToString(shape)} needs ${need}`,
    );
  }
  return { dtype, shape, data: viewBytes(dtype, raw, what) };
}

/** BYTES in raw form: each element is a 4-byte little-endian length and that many bytes. */
function splitBytes(raw: Uint8Array, n: number, what: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let at = 0;
  while (at < raw.byteLength) {
    if (at + 4 > raw.byteLength)
      throw invalidArgument(
        `${what}: raw BYTES element ${out.length} has a truncated 4-byte length prefix at offset ${at}`,
      );
    const len = view.getUint32(at, true);
    if (at + 4 + len > raw.byteLength) {
      throw invalidArgument(
        `${what}: raw BYTES element ${out.length} says ${len} bytes at offset ${at}, ` +
          `but only ${raw.byteLength - at - 4} follow`,
      );
    }
    out.push(raw.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  if (out.length !== n)
    throw invalidArgument(
      `${what}: raw_input_contents holds ${out.length} BYTES elements, but shape ${shapeToString([n])} needs ${n}`,
    );
  return out;
}

function typedTensor(
  type: V2Type,
  shape: number[],
  c: WireTensorContents,
  filled: (keyof WireTensorContents)[],
  n: number,
  what: string,
): Tensor {
  const wrong = filled.filter((f) => f !== type.field);
  if (wrong.length > 0)
    throw invalidArgument(
      `${what}: datatype ${type.name} is carried in ${type.field}, but the request fills ${wrong.join(', ')}`,
    );
  const values = (c[type.field] ?? []) as unknown[];
  if (values.length !== n) {
    throw invalidArgument(
      `${what}: shape ${shapeToString(shape)} needs ${n} ${type.name} values, ${type.field} has ${values.length}`,
    );
  }
  if (type.dtype === 'string') return { dtype: 'string', shape, data: values as Uint8Array[] };
  const dtype = type.dtype;
  const data = new DTYPES[dtype].ctor(n);
  if (dtype === 'int64') {
    const d = data as BigInt64Array;
    values.forEach((v, i) => (d[i] = BigInt(v as WireInt64)));
    return { dtype, shape, data };
  }
  const d = data as Exclude<TypedArray, BigInt64Array>;
  const range = INT_RANGE[dtype];
  values.forEach((v, i) => {
    const x = typeof v === 'boolean' ? Number(v) : Number(v);
    if (range && (x < range[0] || x > range[1]))
      throw invalidArgument(`${what}: ${type.field}[${i}] = ${x} is out of range for ${type.name}`);
    d[i] = x;
  });
  return { dtype, shape, data };
}

const INT_RANGE: Partial<Record<NumericDType, [number, number]>> = {
  uint8: [0, 255],
  uint16: [0, 65535],
  int8: [-128, 127],
  int16: [-32768, 32767],
};

/** One output of an answer, before encoding. */
export interface V2Output {
  name: string;
  tensor: Tensor;
}

/** An output a component declares (ComponentInfo.outputs): the name and V2 datatype its answers carry. */
export interface DeclaredOutput {
  name: string;
  datatype: string;
}

/**
 * The graph's answer as named output tensors. A JSON answer in row form, `{predictions: [{<output>: value, ...}]}`,
 * becomes one tensor per declared output, column by column (top1-output declares index, score, label); other JSON
 * becomes one BYTES element holding its text.
 */
export function answerOutputs(reply: InferMessage, declared: readonly DeclaredOutput[] = []): V2Output[] {
  const p = reply.payload;
  const enc = new TextEncoder();
  switch (p.kind) {
    case 'tensor':
      return [{ name: p.names?.[0] ?? 'output', tensor: p.tensor }];
    case 'bin':
      return [{ name: 'output', tensor: { dtype: 'string', shape: [1], data: [p.data] } }];
    case 'str':
      return [{ name: 'output', tensor: { dtype: 'string', shape: [1], data: [enc.encode(p.data)] } }];
    case 'json':
      return (
        rowOutputs(p.data, declared) ?? [
          { name: 'json', tensor: { dtype: 'string', shape: [1], data: [enc.encode(JSON.stringify(p.data))] } },
        ]
      );
    case 'none':
      return [];
  }
}

/** Rows `{predictions: [...]}` as one column tensor per declared output; undefined when the rows do not fit. */
function rowOutputs(data: JsonValue, declared: readonly DeclaredOutput[]): V2Output[] | undefined {
  const preds = (data as { predictions?: unknown } | null)?.predictions;
  if (declared.length === 0 || !Array.isArray(preds) || preds.length === 0) return undefined;
  const rows = preds as Record<string, unknown>[];
  const n = rows.length;
  const enc = new TextEncoder();
  const out: V2Output[] = [];
  for (const d of declared) {
    const type = v2Type(d.datatype, `declared output '${d.name}'`);
    const column = rows.map((r) => (r && typeof r === 'object' ? r[d.name] : undefined));
    if (type.dtype === 'string') {
      const data = column.map((v) => enc.encode(v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v)));
      out.push({ name: d.name, tensor: { dtype: 'string', shape: [n], data } });
      continue;
    }
    if (!column.every((v) => typeof v === 'number' || typeof v === 'boolean')) return undefined;
    const values = column;
    const tensor: Tensor =
      type.dtype === 'int64'
        ? { dtype: 'int64', shape: [n], data: BigInt64Array.from(values, (v) => BigInt(Math.trunc(Number(v)))) }
        : { dtype: type.dtype, shape: [n], data: numberArray(type.dtype, values) };
    out.push({ name: d.name, tensor });
  }
  return out;
}

function numberArray(dtype: Exclude<NumericDType, 'int64'>, values: (number | boolean)[]): never {
  const out = new DTYPES[dtype].ctor(values.length) as Exclude<TypedArray, BigInt64Array>;
  values.forEach((v, i) => (out[i] = Number(v)));
  return out as never;
}

export interface ResponseOptions {
  modelName: string;
  modelVersion?: string;
  id: string;
  /** Requested outputs; empty: all. */
  outputs: string[];
  traceId?: string;
  /** The outputs the answering component declares (answerOutputs). */
  declared?: readonly DeclaredOutput[];
}

/** The requested outputs in the order asked (all when none is named); INVALID_ARGUMENT for an unknown name. */
export function selectOutputs(outs: V2Output[], requested: readonly string[]): V2Output[] {
  if (requested.length === 0) return outs;
  const have = new Map(outs.map((x) => [x.name, x]));
  return requested.map((name) => {
    const x = have.get(name);
    if (!x)
      throw invalidArgument(
        `unknown output '${name}' requested (this graph answers with: ${[...have.keys()].join(', ') || 'nothing'})`,
      );
    return x;
  });
}

/** The answer as a ModelInferResponse with raw_output_contents (as Triton answers). */
export function inferResponseToWire(reply: InferMessage, o: ResponseOptions): WireModelInferResponse {
  const outs = selectOutputs(answerOutputs(reply, o.declared), o.outputs);
  const parameters: Record<string, WireInferParameter> = {};
  if (reply.meta.puid) parameters[PUID_PARAMETER] = { string_param: reply.meta.puid };
  if (o.traceId) parameters[TRACE_ID_PARAMETER] = { string_param: o.traceId };
  const res: WireModelInferResponse = {
    model_name: o.modelName,
    id: o.id,
    parameters,
    outputs: outs.map((x): WireInferOutputTensor => ({
      name: x.name,
      datatype: v2TypeOf(x.tensor.dtype).name,
      shape: x.tensor.shape.map(String),
    })),
    raw_output_contents: outs.map((x) => rawBytes(x.tensor)),
  };
  if (o.modelVersion) res.model_version = o.modelVersion;
  return res;
}

export function rawBytes(t: Tensor): Uint8Array {
  if (t.dtype !== 'string') return tensorBytes(t);
  const out = new Uint8Array(t.data.reduce((s, b) => s + 4 + b.byteLength, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const b of t.data) {
    view.setUint32(at, b.byteLength, true);
    out.set(b, at + 4);
    at += 4 + b.byteLength;
  }
  return out;
}

/** Raw output bytes back to a tensor (clients, tests). */
export function tensorFromRaw(datatype: string, shape: WireInt64[], raw: Uint8Array, what = 'output'): Tensor {
  const type = v2Type(datatype, what);
  const dims = shape.map(Number);
  const n = numel(dims);
  return type.dtype === 'string'
    ? { dtype: 'string', shape: dims, data: splitBytes(raw, n, what) }
    : rawTensor(type, dims, raw, n, what);
}
