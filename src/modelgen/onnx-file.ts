// Reads and writes whole ONNX models as plain objects shaped like protos/onnx/onnx.proto (snake_case fields), for
// tools that rewrite graphs (the quantizer). Tensor bytes stay views over the file's buffer: reading a 100 MB model
// holds it once. Fields outside our proto subset (training info, functions, sparse initializers) are not kept.
import * as fs from 'node:fs/promises';
import { onnxTypes } from './onnx-proto';

/** ONNX TensorProto.DataType values the rewriters use. */
export const ElemType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;

export interface TensorObj {
  name: string;
  dims: number[];
  data_type: number;
  raw_data?: Uint8Array;
  float_data?: number[];
  int32_data?: number[];
  int64_data?: number[];
  data_location?: number;
}

export interface AttributeObj {
  name: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
  t?: TensorObj;
}

export interface NodeObj {
  name?: string;
  op_type: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute?: AttributeObj[];
}

export interface DimObj {
  dim_value?: number;
  dim_param?: string;
}

export interface ValueInfoObj {
  name: string;
  type?: { tensor_type?: { elem_type?: number; shape?: { dim?: DimObj[] } } };
}

export interface GraphObj {
  name?: string;
  node: NodeObj[];
  initializer: TensorObj[];
  input: ValueInfoObj[];
  output: ValueInfoObj[];
  value_info?: ValueInfoObj[];
  doc_string?: string;
}

export interface ModelObj {
  ir_version?: number;
  opset_import: { domain?: string; version: number }[];
  producer_name?: string;
  producer_version?: string;
  doc_string?: string;
  graph: GraphObj;
  metadata_props?: { key: string; value: string }[];
}

export function decodeModel(bytes: Uint8Array, what = 'model'): ModelObj {
  const { model } = onnxTypes();
  let msg: unknown;
  try {
    msg = model.decode(bytes);
  } catch (err) {
    throw new Error(`${what} is not an ONNX model: ${(err as Error).message}`);
  }
  const obj = model.toObject(msg as never, { longs: Number, defaults: false, arrays: true }) as ModelObj;
  if (!obj.graph) throw new Error(`${what} is not an ONNX model: it has no graph`);
  const g = obj.graph;
  g.node ??= [];
  g.initializer ??= [];
  g.input ??= [];
  g.output ??= [];
  for (const n of g.node) {
    n.input ??= [];
    n.output ??= [];
  }
  for (const t of g.initializer) t.dims ??= [];
  return obj;
}

export async function readModel(file: string): Promise<ModelObj> {
  return decodeModel(await fs.readFile(file), file);
}

export function encodeModel(m: ModelObj): Buffer {
  const bytes = onnxTypes().model.encode(m).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The opset version of the default ('' or 'ai.onnx') domain. */
export function defaultOpset(m: ModelObj): number {
  const entry = m.opset_import.find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry?.version ?? 0;
}

/** A float32 initializer's values (raw_data or float_data), copied into an aligned array. */
export function floatValues(t: TensorObj): Float32Array {
  if (t.data_type !== ElemType.FLOAT)
    throw new Error(`initializer '${t.name}' is not float32 (data_type ${t.data_type})`);
  if (t.data_location === 1)
    throw new Error(`initializer '${t.name}' uses external data, which the quantizer does not read`);
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (t.raw_data && t.raw_data.length > 0) {
    const copy = new Uint8Array(t.raw_data);
    const out = new Float32Array(copy.buffer, 0, copy.byteLength / 4);
    if (out.length !== n)
      throw new Error(`initializer '${t.name}': ${out.length} values for dims [${t.dims.join(',')}]`);
    return out;
  }
  const out = Float32Array.from(t.float_data ?? []);
  if (out.length !== n) throw new Error(`initializer '${t.name}': ${out.length} values for dims [${t.dims.join(',')}]`);
  return out;
}

export function tensorObj(name: string, dims: readonly number[], dataType: number, data: ArrayBufferView): TensorObj {
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { name, dims: [...dims], data_type: dataType, raw_data: raw };
}

export function attrInt(node: NodeObj, name: string, fallback: number): number {
  const a = node.attribute?.find((x) => x.name === name);
  return a?.i ?? fallback;
}

export function attrFloat(node: NodeObj, name: string, fallback: number): number {
  const a = node.attribute?.find((x) => x.name === name);
  return a?.f ?? fallback;
}
