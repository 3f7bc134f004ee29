import { Builder } from 'flatbuffers';
import { invalidArgument } from '../../errors';
import type { InferMessage, JsonValue, Meta, Metric, MetricType, Payload, Status } from '../../message/message';
import type { DType } from '../../tensor/dtype';
import { checkTensor, tensorBytes, viewBytes, type Tensor } from '../../tensor/tensor';

/**
 * InferMessage <-> FlatBuffers bytes, the layout of protos/infergraph/tensor.fbs (read that file first: the slot
 * numbers below are its field order, and the 3-byte preamble is explained there).
 *
 * Building uses the `flatbuffers` package's Builder, sized up front so the tensor is copied exactly once and the
 * builder never regrows. Reading is a small bounds-checked reader over a DataView instead of flatc-generated
 * accessors: a node must answer a malformed message with INVALID_ARGUMENT, never read past the buffer, and the
 * generated accessors do no checking at all.
 */

/** Preamble length we send: puts the FlatBuffer 8-aligned after grpc-js's 5-byte length prefix. */
const PREAMBLE = 3;
const MAX_PREAMBLE = 64;
const DATA_ALIGN = 8;

const DTYPE_CODES: readonly DType[] = [
  'float32',
  'float64',
  'int8',
  'int16',
  'int32',
  'int64',
  'uint8',
  'uint16',
  'bool',
  'string',
];
const DTYPE_INDEX = new Map<DType, number>(DTYPE_CODES.map((d, i) => [d, i]));
const KIND = { none: 0, tensor: 1, bin: 2, str: 3, json: 4 } as const;
const METRIC_TYPES: readonly MetricType[] = ['COUNTER', 'GAUGE', 'TIMER'];

// Vtable slots, in .fbs field order.
const T = { dtype: 0, shape: 1, data: 2, strings: 3 } as const;
const M = { meta: 0, status: 1, kind: 2, tensor: 3, names: 4, bin: 5, str: 6, json: 7 } as const;
const META = { puid: 0, tags: 1, routing: 2, requestPath: 3, metrics: 4 } as const;
const MET = { key: 0, type: 1, value: 2, tags: 3 } as const;
const ST = { code: 0, info: 1, reason: 2, failure: 3 } as const;

// ---------------------------------------------------------------------------------------------- writing

function alignedBytes(b: Builder, bytes: Uint8Array): number {
  // prep() pads so that the vector's first element lands DATA_ALIGN-aligned; createByteVector then adds none.
  b.prep(DATA_ALIGN, bytes.byteLength);
  return b.createByteVector(bytes);
}

function offsetVector(b: Builder, offsets: number[]): number {
  b.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) b.addOffset(offsets[i] as number);
  return b.endVector();
}

function writeTensor(b: Builder, t: Tensor): number {
  let data = 0;
  let strings = 0;
  if (t.dtype === 'string') {
    strings = offsetVector(
      b,
      t.data.map((s) => {
        const v = b.createByteVector(s);
        b.startObject(1);
        b.addFieldOffset(0, v, 0);
        return b.endObject();
      }),
    );
  } else {
    data = alignedBytes(b, tensorBytes(t));
  }
  b.startVector(8, t.shape.length, 8);
  for (let i = t.shape.length - 1; i >= 0; i--) b.addInt64(BigInt(t.shape[i] as number));
  const shape = b.endVector();
  b.startObject(4);
  b.addFieldInt8(T.dtype, DTYPE_INDEX.get(t.dtype) as number, 0);
  b.addFieldOffset(T.shape, shape, 0);
  if (data) b.addFieldOffset(T.data, data, 0);
  if (strings) b.addFieldOffset(T.strings, strings, 0);
  return b.endObject();
}

function entries<V>(b: Builder, rec: Record<string, V>, value: (v: V) => number, isOffset: boolean): number {
  const keys = Object.keys(rec);
  if (keys.length === 0) return 0;
  const offs = keys.map((k) => {
    const key = b.createString(k);
    const v = value(rec[k] as V);
    b.startObject(2);
    b.addFieldOffset(0, key, 0);
    if (isOffset) b.addFieldOffset(1, v, 0);
    else b.addFieldInt32(1, v, 0);
    return b.endObject();
  });
  return offsetVector(b, offs);
}

function writeMeta(b: Builder, m: Meta, tagsJson: string | undefined): number {
  const puid = m.puid ? b.createString(m.puid) : 0;
  const tags = tagsJson ? b.createString(tagsJson) : 0;
  const routing = entries(b, m.routing, (v) => v, false);
  const path = entries(b, m.requestPath, (v) => b.createString(v), true);
  const metrics = m.metrics.length
    ? offsetVector(
        b,
        m.metrics.map((x) => {
          const key = b.createString(x.key);
          const mt = x.tags && Object.keys(x.tags).length ? b.createString(JSON.stringify(x.tags)) : 0;
          b.startObject(4);
          b.addFieldOffset(MET.key, key, 0);
          b.addFieldInt8(MET.type, Math.max(0, METRIC_TYPES.indexOf(x.type)), 0);
          b.addFieldFloat64(MET.value, x.value, 0);
          if (mt) b.addFieldOffset(MET.tags, mt, 0);
          return b.endObject();
        }),
      )
    : 0;
  b.startObject(5);
  if (puid) b.addFieldOffset(META.puid, puid, 0);
  if (tags) b.addFieldOffset(META.tags, tags, 0);
  if (routing) b.addFieldOffset(META.routing, routing, 0);
  if (path) b.addFieldOffset(META.requestPath, path, 0);
  if (metrics) b.addFieldOffset(META.metrics, metrics, 0);
  return b.endObject();
}

function writeStatus(b: Builder, s: Status): number {
  const info = b.createString(s.info);
  const reason = b.createString(s.reason);
  b.startObject(4);
  b.addFieldInt32(ST.code, s.code, 0);
  b.addFieldOffset(ST.info, info, 0);
  b.addFieldOffset(ST.reason, reason, 0);
  b.addFieldInt8(ST.failure, s.status === 'FAILURE' ? 1 : 0, 0);
  return b.endObject();
}

function writeMessage(b: Builder, m: InferMessage, tagsJson: string | undefined): number {
  const p = m.payload;
  let tensor = 0;
  let names = 0;
  let bin = 0;
  let str = 0;
  let json = 0;
  // The big payload goes in first: it ends up at the end of the buffer and later growth (if the estimate was
  // short) never has to move it twice.
  if (p.kind === 'tensor') {
    tensor = writeTensor(b, p.tensor);
    if (p.names?.length)
      names = offsetVector(
        b,
        p.names.map((n) => b.createString(n)),
      );
  } else if (p.kind === 'bin') bin = alignedBytes(b, p.data);
  else if (p.kind === 'str') str = b.createString(p.data);
  else if (p.kind === 'json') json = b.createString(JSON.stringify(p.data));
  const meta = writeMeta(b, m.meta, tagsJson);
  const status = m.status ? writeStatus(b, m.status) : 0;
  b.startObject(8);
  b.addFieldOffset(M.meta, meta, 0);
  if (status) b.addFieldOffset(M.status, status, 0);
  b.addFieldInt8(M.kind, KIND[p.kind], 0);
  if (tensor) b.addFieldOffset(M.tensor, tensor, 0);
  if (names) b.addFieldOffset(M.names, names, 0);
  if (bin) b.addFieldOffset(M.bin, bin, 0);
  if (str) b.addFieldOffset(M.str, str, 0);
  if (json) b.addFieldOffset(M.json, json, 0);
  return b.endObject();
}

const tagsJsonOf = (m: Meta): string | undefined => (Object.keys(m.tags).length ? JSON.stringify(m.tags) : undefined);

/** Bytes the builder will need, generously: a regrow would copy the whole buffer. */
function estimate(m: InferMessage, tagsJson: string | undefined): number {
  const p = m.payload;
  let n = 512 + (tagsJson?.length ?? 0) * 3 + m.meta.puid.length;
  for (const [k, v] of Object.entries(m.meta.requestPath)) n += 3 * (k.length + v.length) + 32;
  n += 32 * Object.keys(m.meta.routing).length + 64 * m.meta.metrics.length;
  for (const x of m.meta.metrics) n += 3 * x.key.length + (x.tags ? 3 * JSON.stringify(x.tags).length : 0);
  if (p.kind === 'tensor') {
    n +=
      p.tensor.dtype === 'string' ? p.tensor.data.reduce((a, s) => a + s.byteLength + 16, 0) : p.tensor.data.byteLength;
    n += 8 * p.tensor.shape.length + (p.names ?? []).reduce((a, s) => a + 3 * s.length + 8, 0);
  } else if (p.kind === 'bin') n += p.data.byteLength;
  else if (p.kind === 'str') n += 3 * p.data.length;
  else if (p.kind === 'json') n += 4096;
  return n;
}

function finish(b: Builder, root: number): Buffer {
  b.finish(root);
  const bb = b.dataBuffer();
  const pos = bb.position();
  const bytes = bb.bytes();
  const len = bytes.byteLength - pos;
  if (pos >= PREAMBLE) {
    // Written into the builder's spare room in front of the FlatBuffer: no copy.
    bytes[pos - PREAMBLE] = PREAMBLE;
    bytes.fill(0, pos - PREAMBLE + 1, pos);
    return Buffer.from(bytes.buffer, bytes.byteOffset + pos - PREAMBLE, len + PREAMBLE);
  }
  const out = Buffer.alloc(len + PREAMBLE);
  out[0] = PREAMBLE;
  out.set(bytes.subarray(pos), PREAMBLE);
  return out;
}

export function encodeFlatMessage(m: InferMessage): Buffer {
  const tagsJson = tagsJsonOf(m.meta);
  const b = new Builder(estimate(m, tagsJson) + PREAMBLE);
  return finish(b, writeMessage(b, m, tagsJson));
}

export function encodeFlatMessageList(ms: readonly InferMessage[]): Buffer {
  const tags = ms.map((m) => tagsJsonOf(m.meta));
  const b = new Builder(ms.reduce((n, m, i) => n + estimate(m, tags[i]), 64) + PREAMBLE);
  const offs = ms.map((m, i) => writeMessage(b, m, tags[i]));
  const list = offsetVector(b, offs);
  b.startObject(1);
  b.addFieldOffset(0, list, 0);
  return finish(b, b.endObject());
}

// ---------------------------------------------------------------------------------------------- reading

class Reader {
  private readonly dv: DataView;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: false });

  constructor(readonly bytes: Uint8Array) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Absolute position of the table's field in `slot`, or 0 when absent. (DataView throws on out-of-range reads.) */
  field(table: number, slot: number): number {
    const vt = table - this.dv.getInt32(table, true);
    const vtLen = this.dv.getUint16(vt, true);
    const vo = 4 + 2 * slot;
    if (vo + 2 > vtLen) return 0;
    const off = this.dv.getUint16(vt + vo, true);
    return off ? table + off : 0;
  }

  /** Follows the uoffset stored at `pos` (a table, vector or string). */
  deref(pos: number): number {
    return pos + this.dv.getUint32(pos, true);
  }

  u8(table: number, slot: number, dflt = 0): number {
    const p = this.field(table, slot);
    return p ? this.dv.getUint8(p) : dflt;
  }

  i32(table: number, slot: number): number {
    const p = this.field(table, slot);
    return p ? this.dv.getInt32(p, true) : 0;
  }

  f64(table: number, slot: number): number {
    const p = this.field(table, slot);
    return p ? this.dv.getFloat64(p, true) : 0;
  }

  table(table: number, slot: number): number {
    const p = this.field(table, slot);
    return p ? this.deref(p) : 0;
  }

  /** [start, length] of the vector in `slot` (elements of `size` bytes), checked against the buffer. */
  vector(table: number, slot: number, size: number): [number, number] {
    const p = this.field(table, slot);
    if (!p) return [0, 0];
    const v = this.deref(p);
    const n = this.dv.getUint32(v, true);
    if (v + 4 + n * size > this.bytes.byteLength) throw new RangeError(`vector of ${n} elements runs past the message`);
    return [v + 4, n];
  }

  bytesAt(table: number, slot: number): Uint8Array {
    const [start, n] = this.vector(table, slot, 1);
    return this.bytes.subarray(start, start + n);
  }

  string(table: number, slot: number): string | undefined {
    if (!this.field(table, slot)) return undefined;
    return this.utf8.decode(this.bytesAt(table, slot));
  }

  /** The string at `pos` (its length prefix), e.g. an element of a vector of strings. */
  stringAt(pos: number): string {
    const n = this.dv.getUint32(pos, true);
    if (pos + 4 + n > this.bytes.byteLength) throw new RangeError(`string of ${n} bytes runs past the message`);
    return this.utf8.decode(this.bytes.subarray(pos + 4, pos + 4 + n));
  }

  /** Tables of a vector of offsets. */
  tables(table: number, slot: number): number[] {
    const [start, n] = this.vector(table, slot, 4);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = this.deref(start + 4 * i);
    return out;
  }

  longs(table: number, slot: number): number[] {
    const [start, n] = this.vector(table, slot, 8);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = Number(this.dv.getBigInt64(start + 8 * i, true));
    return out;
  }
}

function readTensor(r: Reader, t: number): Tensor {
  const code = r.u8(t, T.dtype);
  const dtype = DTYPE_CODES[code];
  if (!dtype) throw invalidArgument(`flatbuffers: unknown tensor dtype code ${code}`);
  const shape = r.longs(t, T.shape);
  if (dtype === 'string') {
    const data = r.tables(t, T.strings).map((s) => r.bytesAt(s, 0));
    return checkTensor({ dtype, shape, data }, 'flatbuffers tensor');
  }
  // Zero-copy when the sender's preamble did its job; one copy otherwise (viewBytes).
  const data = viewBytes(dtype, r.bytesAt(t, T.data), 'flatbuffers tensor');
  return checkTensor({ dtype, shape, data }, 'flatbuffers tensor');
}

function parseJson(text: string, what: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    throw invalidArgument(`flatbuffers: ${what} is not valid JSON: ${(err as Error).message}`);
  }
}

function readMeta(r: Reader, m: number): Meta {
  if (!m) return { puid: '', tags: {}, routing: {}, requestPath: {}, metrics: [] };
  const tagsText = r.string(m, META.tags);
  const tags = tagsText ? parseJson(tagsText, 'meta tags') : {};
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags))
    throw invalidArgument('flatbuffers: meta tags must be a JSON object');
  const routing: Record<string, number> = {};
  for (const e of r.tables(m, META.routing)) routing[r.string(e, 0) ?? ''] = r.i32(e, 1);
  const requestPath: Record<string, string> = {};
  for (const e of r.tables(m, META.requestPath)) requestPath[r.string(e, 0) ?? ''] = r.string(e, 1) ?? '';
  const metrics = r.tables(m, META.metrics).map((x): Metric => {
    const metric: Metric = {
      key: r.string(x, MET.key) ?? '',
      type: METRIC_TYPES[r.u8(x, MET.type)] ?? 'COUNTER',
      value: r.f64(x, MET.value),
    };
    const t = r.string(x, MET.tags);
    if (t) metric.tags = parseJson(t, 'metric tags') as Record<string, string>;
    return metric;
  });
  return { puid: r.string(m, META.puid) ?? '', tags, routing, requestPath, metrics };
}

function readMessage(r: Reader, m: number): InferMessage {
  const kind = r.u8(m, M.kind);
  let payload: Payload;
  switch (kind) {
    case KIND.tensor: {
      const t = r.table(m, M.tensor);
      if (!t) throw invalidArgument('flatbuffers: tensor payload without a tensor');
      const names = r.tables(m, M.names).map((s) => r.stringAt(s));
      payload = names.length
        ? { kind: 'tensor', tensor: readTensor(r, t), names }
        : { kind: 'tensor', tensor: readTensor(r, t) };
      break;
    }
    case KIND.bin:
      payload = { kind: 'bin', data: r.bytesAt(m, M.bin) };
      break;
    case KIND.str:
      payload = { kind: 'str', data: r.string(m, M.str) ?? '' };
      break;
    case KIND.json:
      payload = { kind: 'json', data: parseJson(r.string(m, M.json) ?? 'null', 'jsonData') };
      break;
    case KIND.none:
      payload = { kind: 'none' };
      break;
    default:
      throw invalidArgument(`flatbuffers: unknown payload kind ${kind}`);
  }
  const msg: InferMessage = { meta: readMeta(r, r.table(m, M.meta)), payload };
  const s = r.table(m, M.status);
  if (s)
    msg.status = {
      code: r.i32(s, ST.code),
      info: r.string(s, ST.info) ?? '',
      reason: r.string(s, ST.reason) ?? '',
      status: r.u8(s, ST.failure) ? 'FAILURE' : 'SUCCESS',
    };
  return msg;
}

function root(bytes: Uint8Array): [Reader, number] {
  const pad = bytes[0];
  if (pad === undefined || pad < 1 || pad > MAX_PREAMBLE || bytes.byteLength < pad + 8) {
    throw invalidArgument(
      `flatbuffers: not an infergraph FlatBuffers message (${bytes.byteLength} bytes, preamble ${pad ?? 'missing'})`,
    );
  }
  const r = new Reader(bytes.subarray(pad));
  return [r, r.deref(0)];
}

function guarded<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RangeError) throw invalidArgument(`flatbuffers: malformed ${what}: ${err.message}`, err);
    throw err;
  }
}

export function decodeFlatMessage(bytes: Uint8Array): InferMessage {
  return guarded('Message', () => {
    const [r, m] = root(bytes);
    return readMessage(r, m);
  });
}

export function decodeFlatMessageList(bytes: Uint8Array): InferMessage[] {
  return guarded('MessageList', () => {
    const [r, list] = root(bytes);
    return r.tables(list, 0).map((m) => readMessage(r, m));
  });
}
