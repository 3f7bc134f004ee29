/**
 * Writes tiny ONNX models by hand (protobuf wire format, no libraries): a single Identity node, so the tests of
 * onnx-model can cover metadata_props, symbolic dims and dtypes without the generator or the shared models.
 */
import { writeFileSync } from 'node:fs';

const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
};
const key = (field: number, wire: number): number[] => varint(field * 8 + wire);
const int = (field: number, n: number): number[] => [...key(field, 0), ...varint(n)];
const bytes = (field: number, b: number[]): number[] => [...key(field, 2), ...varint(b.length), ...b];
const str = (field: number, s: string): number[] => bytes(field, [...Buffer.from(s, 'utf8')]);

/** ONNX TensorProto.DataType values. */
export const ONNX_TYPES = { float32: 1, uint8: 2, int32: 6, int64: 7, float64: 11 } as const;

export interface FixtureOptions {
  elemType?: keyof typeof ONNX_TYPES;
  /** Numbers are fixed dims, strings symbolic. */
  shape?: (number | string)[];
  metadata?: Record<string, string>;
}

export function writeIdentityModel(file: string, opts: FixtureOptions = {}): void {
  const elem = ONNX_TYPES[opts.elemType ?? 'float32'];
  const shape = opts.shape ?? ['n', 4];
  const dims = shape.flatMap((d) => bytes(1, typeof d === 'number' ? int(1, d) : str(2, d)));
  const type = bytes(1, [...int(1, elem), ...bytes(2, dims)]);
  const valueInfo = (name: string): number[] => [...str(1, name), ...bytes(2, type)];
  const node = [...str(1, 'x'), ...str(2, 'y'), ...str(3, 'id'), ...str(4, 'Identity')];
  const graph = [...bytes(1, node), ...str(2, 'fixture'), ...bytes(11, valueInfo('x')), ...bytes(12, valueInfo('y'))];
  const model = [
    ...int(1, 8),
    ...str(2, 'infergraph-test'),
    ...bytes(7, graph),
    ...bytes(8, [...str(1, ''), ...int(2, 13)]),
    ...Object.entries(opts.metadata ?? {}).flatMap(([k, v]) => bytes(14, [...str(1, k), ...str(2, v)])),
  ];
  writeFileSync(file, Buffer.from(model));
}
