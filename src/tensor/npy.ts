import { invalidArgument } from '../errors';
import type { NumericDType } from './dtype';
import { fromBytes, type Tensor } from './tensor';

/** Reads NumPy .npy (v1/v2/v3, little-endian, C order) into a Tensor. */

const DESCR: Record<string, NumericDType> = {
  '<f4': 'float32',
  '<f8': 'float64',
  '<i4': 'int32',
  '<i8': 'int64',
  '|u1': 'uint8',
  '|i1': 'int8',
  '<i2': 'int16',
  '<u2': 'uint16',
  '|b1': 'bool',
};

export function parseNpy(buf: Uint8Array, what = '.npy'): Tensor {
  const magic = Buffer.from(buf.subarray(0, 6)).toString('latin1');
  if (magic !== '\x93NUMPY') throw invalidArgument(`${what}: not a .npy file (bad magic)`);
  const major = buf[6] ?? 0;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = major >= 2 ? view.getUint32(8, true) : view.getUint16(8, true);
  const start = major >= 2 ? 12 : 10;
  const header = Buffer.from(buf.subarray(start, start + headerLen)).toString(major >= 3 ? 'utf8' : 'latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeStr === undefined)
    throw invalidArgument(`${what}: cannot parse header ${header.trim()}`);
  const dtype = DESCR[descr];
  if (!dtype)
    throw invalidArgument(`${what}: unsupported dtype '${descr}' (supported: ${Object.keys(DESCR).join(' ')})`);
  if (fortran === 'True') throw invalidArgument(`${what}: Fortran-order arrays are not supported`);
  const shape = shapeStr
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  return fromBytes(dtype, shape, buf.subarray(start + headerLen), what);
}
