import { invalidArgument } from '../../errors';
import { DTYPES, dtypeFromTf, tfFromDType, type DType, type NumericDType } from '../../tensor/dtype';
import { checkTensor, fromBytes, numel, shapeToString, tensorBytes, type Tensor } from '../../tensor/tensor';
import type { WireTensorProto } from './wire-types';

/** tensorflow.TensorProto <-> Tensor. Raw `tensor_content` is the fast path in both directions. */

const TF_NAMES: Record<string, number> = {
  DT_FLOAT: 1,
  DT_DOUBLE: 2,
  DT_INT32: 3,
  DT_UINT8: 4,
  DT_INT16: 5,
  DT_INT8: 6,
  DT_STRING: 7,
  DT_INT64: 9,
  DT_BOOL: 10,
  DT_UINT16: 17,
};

/** TensorFlow's enum name of a DataType number (DT_FLOAT …), as TensorProto's JSON form spells it. */
export const tfDtypeName = (n: number): string => Object.keys(TF_NAMES).find((k) => TF_NAMES[k] === n) ?? String(n);

function dtypeOf(tf: WireTensorProto): DType {
  const raw = tf.dtype ?? 0;
  const num = typeof raw === 'number' ? raw : (TF_NAMES[raw] ?? -1);
  const d = dtypeFromTf(num);
  if (!d) throw invalidArgument(`tftensor: unsupported dtype ${String(raw)}`);
  return d;
}

export function tensorFromTf(tf: WireTensorProto): Tensor {
  const dtype = dtypeOf(tf);
  const shape = (tf.tensor_shape?.dim ?? []).map((d) => Number(d.size ?? 0));
  if (dtype === 'string') {
    return checkTensor({ dtype, shape, data: tf.string_val ?? [] }, 'tftensor');
  }
  if (tf.tensor_content && tf.tensor_content.byteLength > 0) {
    return fromBytes(dtype, shape, tf.tensor_content, 'tftensor');
  }
  const vals = typedVals(tf, dtype);
  const n = numel(shape);
  const info = DTYPES[dtype];
  const data = new info.ctor(n);
  if (vals.length === 0 && n > 0) {
    throw invalidArgument(`tftensor: shape ${shapeToString(shape)} but no tensor_content or ${dtype} values`);
  }
  // TensorFlow allows one value to stand for a whole tensor of that value.
  const broadcast = vals.length === 1 && n > 1;
  if (!broadcast && vals.length !== n) {
    throw invalidArgument(`tftensor: shape ${shapeToString(shape)} needs ${n} values, got ${vals.length}`);
  }
  for (let i = 0; i < n; i++) {
    const v = vals[broadcast ? 0 : i] as number | string | boolean;
    if (dtype === 'int64') (data as BigInt64Array)[i] = BigInt(v);
    else (data as Float32Array)[i] = Number(v);
  }
  return { dtype, shape, data };
}

function typedVals(tf: WireTensorProto, dtype: NumericDType): readonly (number | string | boolean)[] {
  switch (dtype) {
    case 'float32':
      return tf.float_val ?? [];
    case 'float64':
      return tf.double_val ?? [];
    case 'int64':
      return tf.int64_val ?? [];
    case 'bool':
      return tf.bool_val ?? [];
    default:
      return tf.int_val ?? [];
  }
}

export function tensorToTf(t: Tensor): WireTensorProto {
  const out: WireTensorProto = {
    dtype: tfFromDType(t.dtype),
    tensor_shape: { dim: t.shape.map((size) => ({ size })) },
  };
  if (t.dtype === 'string') out.string_val = t.data;
  else out.tensor_content = tensorBytes(t);
  return out;
}
