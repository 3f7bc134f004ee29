import { invalidArgument } from '../errors';
import { DTYPES, type DType, type NumericDType, type TypedArray } from './dtype';

/**
 * A dense tensor. Numeric data is a typed array of exactly `numel(shape)` elements; string tensors carry one byte
 * string per element (tftensor `string_val`, ONNX string tensors).
 */
export type Tensor =
  { dtype: NumericDType; shape: number[]; data: TypedArray } | { dtype: 'string'; shape: number[]; data: Uint8Array[] };

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export const shapeToString = (shape: readonly (number | string)[]): string => `[${shape.join(',')}]`;

export function byteLength(t: Tensor): number {
  return t.dtype === 'string' ? t.data.reduce((n, s) => n + s.byteLength, 0) : t.data.byteLength;
}

/** Checks shape and data length agree; the error names both. */
export function checkTensor(t: Tensor, what = 'tensor'): Tensor {
  for (const d of t.shape) {
    if (!Number.isInteger(d) || d < 0)
      throw invalidArgument(`${what}: bad dimension ${d} in shape ${shapeToString(t.shape)}`);
  }
  const n = numel(t.shape);
  if (t.data.length !== n) {
    throw invalidArgument(`${what}: shape ${shapeToString(t.shape)} needs ${n} elements, got ${t.data.length}`);
  }
  return t;
}

/**
 * A typed view over raw little-endian bytes: zero-copy when the offset is aligned for the element size, one copy
 * when it is not (grpc-js hands out `bytes` fields at arbitrary offsets inside the frame buffer).
 */
export function viewBytes(dtype: NumericDType, bytes: Uint8Array, what = 'tensor'): TypedArray {
  const info = DTYPES[dtype];
  if (bytes.byteLength % info.bytes !== 0) {
    throw invalidArgument(
      `${what}: ${bytes.byteLength} bytes is not a whole number of ${dtype} elements (${info.bytes} bytes each)`,
    );
  }
  const n = bytes.byteLength / info.bytes;
  if (bytes.byteOffset % info.bytes === 0) return new info.ctor(bytes.buffer, bytes.byteOffset, n);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new info.ctor(copy.buffer, 0, n);
}

/** The raw bytes of a numeric tensor's data, without copying. */
export function tensorBytes(t: Tensor & { dtype: NumericDType }): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

export function fromBytes(dtype: NumericDType, shape: number[], bytes: Uint8Array, what = 'tensor'): Tensor {
  return checkTensor({ dtype, shape, data: viewBytes(dtype, bytes, what) }, what);
}

/** Builds a numeric tensor from plain numbers (ndarray / Seldon `tensor` payloads, JSON files). */
export function fromNumbers(dtype: NumericDType, shape: number[], values: ArrayLike<number>): Tensor {
  const info = DTYPES[dtype];
  const data = new info.ctor(values.length);
  if (dtype === 'int64') {
    const d = data as BigInt64Array;
    for (let i = 0; i < values.length; i++) d[i] = BigInt(Math.trunc(values[i] as number));
  } else {
    (data as Exclude<TypedArray, BigInt64Array>).set(values);
  }
  return checkTensor({ dtype, shape, data });
}

/** Elements as JS numbers (for small tensors: ndarray encoding, printing). */
export function toNumbers(t: Tensor): number[] {
  if (t.dtype === 'string') throw invalidArgument('string tensor has no numeric values');
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

export function isDTypeOf<D extends DType>(t: Tensor, d: D): t is Extract<Tensor, { dtype: D }> & { dtype: D } {
  return t.dtype === d;
}
