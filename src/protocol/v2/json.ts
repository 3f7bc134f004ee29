import { invalidArgument } from '../../errors';
import type { JsonValue } from '../../message/message';
import { toNumbers } from '../../tensor/tensor';
import { rawBytes, type V2Output } from './infer';
import { v2Type, v2TypeOf } from './datatype';
import type { WireInferInputTensor, WireInferParameter, WireModelInferRequest } from './wire-types';

/**
 * The Open Inference Protocol's REST body <-> the wire request gRPC would have decoded, so both front doors read a
 * request alike. JSON tensors (`data`, flat or nested), and the binary tensor data extension: the JSON header is the
 * first Inference-Header-Content-Length bytes of the body, each binary input says its size in
 * `parameters.binary_data_size` and its bytes follow in input order (BYTES elements 4-byte length-prefixed, as in
 * raw_input_contents). Outputs go back as binary when the request asks (`outputs[].parameters.binary_data`, or
 * `parameters.binary_data_output` for all of them).
 */

export const HEADER_LENGTH = 'inference-header-content-length';

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

export interface V2HttpRequest {
  wire: WireModelInferRequest;
  /** Whether output `name` goes back as binary data. */
  binaryOutput: (name: string) => boolean;
}

function parseJson(text: Buffer, what: string): unknown {
  try {
    return JSON.parse(text.toString('utf8')) as unknown;
  } catch (err) {
    throw invalidArgument(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** A JSON parameter value as the wire's InferParameter. */
function parameterToWire(v: unknown, what: string): WireInferParameter {
  if (typeof v === 'string') return { string_param: v };
  if (typeof v === 'boolean') return { bool_param: v };
  if (typeof v === 'number' && Number.isSafeInteger(v)) return { int64_param: v };
  throw invalidArgument(`${what}: a parameter is a string, boolean or integer`);
}

function parameters(p: unknown, what: string): Record<string, WireInferParameter> {
  if (p === undefined) return {};
  if (!isObj(p)) throw invalidArgument(`${what}: expected an object`);
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, parameterToWire(v, `${what}.${k}`)]));
}

/** The request body (JSON, or JSON header + binary tensors when `headerLength` is set). */
export function v2RequestFromHttp(body: Buffer, headerLength: number | undefined): V2HttpRequest {
  if (
    headerLength !== undefined &&
    (!Number.isSafeInteger(headerLength) || headerLength < 0 || headerLength > body.length)
  ) {
    throw invalidArgument(`${HEADER_LENGTH}: ${headerLength} is not a length within the ${body.length}-byte body`);
  }
  const header = headerLength === undefined ? body : body.subarray(0, headerLength);
  const j = parseJson(header, headerLength === undefined ? 'the body' : 'the JSON header');
  if (!isObj(j)) throw invalidArgument('the body must be a JSON object (an inference request)');
  if (!Array.isArray(j.inputs)) throw invalidArgument("'inputs': expected an array of tensors");
  let at = headerLength ?? body.length;
  const raw: Buffer[] = [];
  const inputs = j.inputs.map((x: unknown, i): WireInferInputTensor => {
    const what = `inputs[${i}]`;
    if (!isObj(x)) throw invalidArgument(`${what}: expected {name, datatype, shape, data}`);
    if (typeof x.name !== 'string') throw invalidArgument(`${what}.name: expected a string`);
    if (typeof x.datatype !== 'string') throw invalidArgument(`${what}.datatype: expected a string`);
    if (!Array.isArray(x.shape) || !x.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0))
      throw invalidArgument(`${what}.shape: expected an array of non-negative integers`);
    const params = isObj(x.parameters) ? x.parameters : {};
    const size = params.binary_data_size;
    const input: WireInferInputTensor = { name: x.name, datatype: x.datatype, shape: x.shape as number[] };
    if (size !== undefined) {
      if (headerLength === undefined)
        throw invalidArgument(`${what}: binary_data_size without an ${HEADER_LENGTH} header`);
      if (!Number.isSafeInteger(size) || (size as number) < 0 || at + (size as number) > body.length)
        throw invalidArgument(`${what}.parameters.binary_data_size: ${JSON.stringify(size)} bytes are not in the body`);
      raw.push(body.subarray(at, at + (size as number)));
      at += size as number;
      return input;
    }
    if (!Array.isArray(x.data)) throw invalidArgument(`${what}.data: expected an array (or binary_data_size)`);
    input.contents = contents(x.datatype, (x.data as unknown[]).flat(Infinity), what);
    return input;
  });
  if (at !== body.length)
    throw invalidArgument(`the body has ${body.length - at} bytes after the tensors its header describes`);
  if (raw.length > 0 && raw.length !== inputs.length)
    throw invalidArgument('send every input as binary data, or none (this graph takes one input)');
  const outputs = j.outputs === undefined ? [] : j.outputs;
  if (!Array.isArray(outputs)) throw invalidArgument("'outputs': expected an array of {name, parameters}");
  const reqParams = isObj(j.parameters) ? j.parameters : {};
  const allBinary = reqParams.binary_data_output === true;
  const binary = new Set<string>();
  const wireOutputs = outputs.map((o: unknown, i) => {
    if (!isObj(o) || typeof o.name !== 'string') throw invalidArgument(`outputs[${i}].name: expected a string`);
    if (isObj(o.parameters) && o.parameters.binary_data === true) binary.add(o.name);
    return { name: o.name };
  });
  const { binary_data_output: _b, ...rest } = reqParams;
  const wire: WireModelInferRequest = {
    ...(typeof j.id === 'string' ? { id: j.id } : {}),
    parameters: parameters(rest, 'parameters'),
    inputs,
    outputs: wireOutputs,
    ...(raw.length > 0 ? { raw_input_contents: raw } : {}),
  };
  return { wire, binaryOutput: (name) => allBinary || binary.has(name) };
}

function contents(datatype: string, data: unknown[], what: string): WireInferInputTensor['contents'] {
  const type = v2Type(datatype, what);
  if (type.dtype === 'string') {
    if (!data.every((s) => typeof s === 'string')) throw invalidArgument(`${what}.data: BYTES elements are strings`);
    return { bytes_contents: data.map((s) => Buffer.from(s, 'utf8')) };
  }
  if (type.dtype === 'bool') {
    if (!data.every((b) => typeof b === 'boolean')) throw invalidArgument(`${what}.data: BOOL elements are booleans`);
    return { bool_contents: data };
  }
  const bad = data.findIndex((v) => typeof v !== 'number');
  if (bad >= 0) throw invalidArgument(`${what}.data[${bad}]: ${JSON.stringify(data[bad])} is not a number`);
  return { [type.field]: data as number[] };
}

export interface V2HttpResponse {
  /** The JSON (header) part. */
  json: Buffer;
  /** Binary outputs, in output order; empty when every output is JSON. */
  binary: Uint8Array[];
}

export interface V2ResponseFields {
  modelName: string;
  id: string;
  parameters: Record<string, JsonValue>;
  binaryOutput: (name: string) => boolean;
}

/** The answer's outputs as a REST response body: JSON data, or binary data after the JSON header. */
export function v2ResponseToHttp(outs: V2Output[], f: V2ResponseFields): V2HttpResponse {
  const binary: Uint8Array[] = [];
  const dec = new TextDecoder();
  const outputs = outs.map((x) => {
    const head = { name: x.name, datatype: v2TypeOf(x.tensor.dtype).name, shape: x.tensor.shape };
    if (f.binaryOutput(x.name)) {
      const bytes = rawBytes(x.tensor);
      binary.push(bytes);
      return { ...head, parameters: { binary_data_size: bytes.byteLength } };
    }
    const t = x.tensor;
    const data: JsonValue[] =
      t.dtype === 'string'
        ? t.data.map((b) => dec.decode(b))
        : t.dtype === 'bool'
          ? toNumbers(t).map(Boolean)
          : toNumbers(t);
    return { ...head, data };
  });
  const body = { model_name: f.modelName, id: f.id, parameters: f.parameters, outputs };
  return { json: Buffer.from(JSON.stringify(body)), binary };
}
