/**
 * The dtype table: one row per element type we carry, with its byte size, typed-array constructor and the
 * tensorflow.DataType enum value used by Seldon's `tftensor` payload. Names follow onnxruntime's, so a Tensor can be
 * handed to ORT without renaming.
 */
export type NumericDType = 'float32' | 'float64' | 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'bool';
export type DType = NumericDType | 'string';

export type TypedArray =
  Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array;

interface TypedArrayCtor {
  new (length: number): TypedArray;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
}

export interface DTypeInfo {
  readonly name: NumericDType;
  readonly bytes: number;
  readonly ctor: TypedArrayCtor;
  /** tensorflow.DataType enum value */
  readonly tf: number;
}

export const DTYPES: Readonly<Record<NumericDType, DTypeInfo>> = {
  float32: { name: 'float32', bytes: 4, ctor: Float32Array, tf: 1 },
  float64: { name: 'float64', bytes: 8, ctor: Float64Array, tf: 2 },
  int32: { name: 'int32', bytes: 4, ctor: Int32Array, tf: 3 },
  uint8: { name: 'uint8', bytes: 1, ctor: Uint8Array, tf: 4 },
  int16: { name: 'int16', bytes: 2, ctor: Int16Array, tf: 5 },
  int8: { name: 'int8', bytes: 1, ctor: Int8Array, tf: 6 },
  int64: { name: 'int64', bytes: 8, ctor: BigInt64Array, tf: 9 },
  bool: { name: 'bool', bytes: 1, ctor: Uint8Array, tf: 10 },
  uint16: { name: 'uint16', bytes: 2, ctor: Uint16Array, tf: 17 },
};

/** tensorflow.DataType DT_STRING */
export const TF_STRING = 7;

const BY_TF = new Map<number, DType>([
  ...Object.values(DTYPES).map((d) => [d.tf, d.name] as [number, DType]),
  [TF_STRING, 'string'],
]);

export const isDType = (s: string): s is DType => s === 'string' || Object.hasOwn(DTYPES, s);

export function dtypeFromTf(tf: number): DType | undefined {
  return BY_TF.get(tf);
}

export function tfFromDType(d: DType): number {
  return d === 'string' ? TF_STRING : DTYPES[d].tf;
}
