import { invalidArgument } from '../../errors';
import type { DType } from '../../tensor/dtype';
import type { WireTensorContents } from './wire-types';

/**
 * Open Inference Protocol datatypes <-> our dtypes, and which InferTensorContents field carries each. UINT32, UINT64,
 * FP16 and BF16 have no dtype here (our tensors and ORT models in this project do not use them): rejected by name.
 */
export interface V2Type {
  name: string;
  dtype: DType;
  /** Typed-contents field of this datatype. */
  field: keyof WireTensorContents;
  /** Triton ModelConfig DataType enum name. */
  triton: string;
}

const ROWS: V2Type[] = [
  { name: 'BOOL', dtype: 'bool', field: 'bool_contents', triton: 'TYPE_BOOL' },
  { name: 'UINT8', dtype: 'uint8', field: 'uint_contents', triton: 'TYPE_UINT8' },
  { name: 'UINT16', dtype: 'uint16', field: 'uint_contents', triton: 'TYPE_UINT16' },
  { name: 'INT8', dtype: 'int8', field: 'int_contents', triton: 'TYPE_INT8' },
  { name: 'INT16', dtype: 'int16', field: 'int_contents', triton: 'TYPE_INT16' },
  { name: 'INT32', dtype: 'int32', field: 'int_contents', triton: 'TYPE_INT32' },
  { name: 'INT64', dtype: 'int64', field: 'int64_contents', triton: 'TYPE_INT64' },
  { name: 'FP32', dtype: 'float32', field: 'fp32_contents', triton: 'TYPE_FP32' },
  { name: 'FP64', dtype: 'float64', field: 'fp64_contents', triton: 'TYPE_FP64' },
  { name: 'BYTES', dtype: 'string', field: 'bytes_contents', triton: 'TYPE_STRING' },
];

const BY_NAME = new Map(ROWS.map((r) => [r.name, r]));
const BY_DTYPE = new Map(ROWS.map((r) => [r.dtype as string, r]));
const KNOWN_UNSUPPORTED = ['UINT32', 'UINT64', 'FP16', 'BF16'];
export const V2_DATATYPES = ROWS.map((r) => r.name);

/** The row for a request's datatype; INVALID_ARGUMENT naming the input otherwise. */
export function v2Type(datatype: string | undefined, what: string): V2Type {
  const row = BY_NAME.get(datatype ?? '');
  if (row) return row;
  if (!datatype) throw invalidArgument(`${what}: no datatype (expected one of ${V2_DATATYPES.join(', ')})`);
  if (KNOWN_UNSUPPORTED.includes(datatype)) {
    throw invalidArgument(
      `${what}: datatype ${datatype} is not supported by this server (supported: ${V2_DATATYPES.join(', ')})`,
    );
  }
  throw invalidArgument(`${what}: unknown datatype '${datatype}' (expected one of ${V2_DATATYPES.join(', ')})`);
}

export function v2TypeOf(dtype: DType): V2Type {
  return BY_DTYPE.get(dtype) as V2Type;
}

/** Component metadata datatypes (ORT names such as float32, or V2 names) as V2 names. */
export function v2DatatypeName(datatype: string): string {
  if (BY_NAME.has(datatype)) return datatype;
  const row = BY_DTYPE.get(datatype);
  if (row) return row.name;
  if (datatype === 'float16') return 'FP16';
  return datatype.toUpperCase();
}

export function tritonDataType(v2name: string): string {
  return BY_NAME.get(v2name)?.triton ?? (v2name === 'FP16' ? 'TYPE_FP16' : 'TYPE_INVALID');
}
