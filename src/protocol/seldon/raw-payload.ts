import type { Payload } from '../../message/message';
import { DTYPES, dtypeFromTf, type NumericDType } from '../../tensor/dtype';
import { fromBytes, numel, type Tensor } from '../../tensor/tensor';
import type { WireDefaultData, WireSeldonMessage, WireSeldonMessageList, WireTensorProto } from './wire-types';

/**
 * Tensor payloads that cross the executor without being decoded or copied.
 *
 * The executor reads the meta of every reply it forwards, but almost never the tensor: jpeg-input's 602 KB answer
 * goes on to both models as it came. So a reply whose payload is a `tftensor` with raw `tensor_content` (what every
 * infergraph node and Seldon's Python nodes send) keeps that SeldonMessage field as the bytes it arrived in
 * ({@link RawDefaultData}); its Payload decodes the tensor only when something reads it, and a hop that sends the
 * same Payload on writes those bytes again, next to the freshly encoded meta, without a copy
 * ({@link seldonMessageParts}: the framed transport hands the parts to one writev).
 *
 * Anything less plain — numbers in `float_val`, string tensors, a second payload field, a dimension that does not
 * fit, bytes that do not match the shape — is left to protobufjs, so errors read exactly as before.
 */

/** DefaultData (SeldonMessage field 3) kept as received: a valid wire object that also carries its own bytes. */
export class RawDefaultData implements WireDefaultData {
  readonly data_oneof = 'tftensor' as const;
  readonly tftensor: WireTensorProto;

  constructor(
    /** the whole field: key, length and the DefaultData bytes */
    readonly field: Buffer,
    readonly names: string[],
    readonly dtype: NumericDType,
    readonly shape: number[],
    /** tensor_content: a view into `field` */
    readonly content: Buffer,
  ) {
    this.tftensor = {
      dtype: DTYPES[dtype].tf,
      tensor_shape: { dim: shape.map((size) => ({ size })) },
      tensor_content: content,
    };
  }
}

const VARINT = 0;
const LEN = 2;

/** A cursor over protobuf fields in buf[pos, end); every read returns -1 on malformed or out-of-range input. */
class Fields {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
  ) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  /**
   * Varints of up to 5 bytes (< 2^35): keys, lengths, dtypes and any real dimension. protobufjs reads keys and lengths
   * as uint32 (at most 5 bytes, skipping the rest of a longer one), so a longer varint, however valid, is left to it:
   * -1, and the message takes the protobufjs path. A negative int64 (10 bytes) is not one either.
   */
  varint(): number {
    let value = 0;
    let mul = 1;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) return -1;
      const b = this.buf[this.pos++] as number;
      value += (b & 0x7f) * mul;
      if (b < 0x80) return value;
      mul *= 128;
    }
    return -1;
  }

  /** A field key (number << 3 | wire type); -1 when malformed. */
  key(): number {
    const k = this.varint();
    return k > 0xffffffff ? -1 : k;
  }

  /** After a LEN key: reads the length and returns the value's end (the cursor is at its start). */
  valueEnd(): number {
    const n = this.varint();
    return n < 0 || this.pos + n > this.end ? -1 : this.pos + n;
  }

  /** Skips one value of wire type `wt`; false when it cannot. */
  skip(wt: number): boolean {
    if (wt === VARINT) return this.varint() >= 0;
    if (wt === LEN) {
      const e = this.valueEnd();
      if (e < 0) return false;
      this.pos = e;
      return true;
    }
    const n = wt === 1 ? 8 : wt === 5 ? 4 : -1;
    if (n < 0 || this.pos + n > this.end) return false;
    this.pos += n;
    return true;
  }
}

/** TensorShapeProto: dims of known size only. */
function parseShape(buf: Buffer, start: number, end: number): number[] | undefined {
  const f = new Fields(buf, start, end);
  const shape: number[] = [];
  while (!f.done) {
    const key = f.key();
    if (key === ((2 << 3) | LEN)) {
      const e = f.valueEnd();
      if (e < 0) return undefined;
      const dim = new Fields(buf, f.pos, e);
      let size = 0;
      while (!dim.done) {
        const k = dim.key();
        if (k === ((1 << 3) | VARINT)) size = dim.varint();
        else if (k !== ((2 << 3) | LEN) || !dim.skip(LEN)) return undefined;
        if (size < 0) return undefined;
      }
      shape.push(size);
      f.pos = e;
    } else if (key === ((3 << 3) | VARINT)) {
      if (f.varint() !== 0) return undefined; // unknown_rank
    } else return undefined;
  }
  return shape;
}

function parseDefaultData(buf: Buffer, field: Buffer, start: number, end: number): RawDefaultData | undefined {
  const f = new Fields(buf, start, end);
  const names: string[] = [];
  let tf: [number, number] | undefined;
  while (!f.done) {
    const key = f.key();
    if (key < 0 || (key & 7) !== LEN) return undefined;
    const e = f.valueEnd();
    if (e < 0) return undefined;
    if (key >>> 3 === 1) names.push(buf.toString('utf8', f.pos, e));
    else if (key >>> 3 === 4 && !tf) tf = [f.pos, e];
    else return undefined;
    f.pos = e;
  }
  if (!tf) return undefined;
  const t = new Fields(buf, tf[0], tf[1]);
  let dtypeNumber = 0;
  let shape: number[] | undefined;
  let content: Buffer | undefined;
  while (!t.done) {
    const key = t.key();
    if (key === ((1 << 3) | VARINT)) dtypeNumber = t.varint();
    else if (key === ((3 << 3) | VARINT))
      t.varint(); // version_number
    else if ((key === ((2 << 3) | LEN) && !shape) || (key === ((4 << 3) | LEN) && !content)) {
      const e = t.valueEnd();
      if (e < 0) return undefined;
      if (key >>> 3 === 2) shape = parseShape(buf, t.pos, e);
      else content = buf.subarray(t.pos, e);
      if (!shape && key >>> 3 === 2) return undefined;
      t.pos = e;
    } else return undefined;
    if (dtypeNumber < 0) return undefined;
  }
  const dtype = dtypeFromTf(dtypeNumber);
  if (!dtype || dtype === 'string' || !content || !shape) return undefined;
  if (content.length !== numel(shape) * DTYPES[dtype].bytes) return undefined;
  return new RawDefaultData(field, names, dtype, shape, content);
}

/**
 * A SeldonMessage whose payload is a plain tftensor: its other fields (status, meta) as bytes for protobufjs, and
 * the payload field kept raw. undefined for anything else, which the caller decodes as a whole.
 */
export function splitSeldonMessage(buf: Buffer): { rest: Buffer; data: RawDefaultData } | undefined {
  const f = new Fields(buf, 0, buf.length);
  const rest: Buffer[] = [];
  let data: RawDefaultData | undefined;
  while (!f.done) {
    const start = f.pos;
    const key = f.key();
    if (key < 0) return undefined;
    const field = key >>> 3;
    if (field === 3 && (key & 7) === LEN && !data) {
      const e = f.valueEnd();
      if (e < 0) return undefined;
      data = parseDefaultData(buf, buf.subarray(start, e), f.pos, e);
      if (!data) return undefined;
      f.pos = e;
    } else if (field >= 3 && field <= 7) {
      return undefined; // another payload of the oneof: protobufjs decides which one wins
    } else if ((field === 1 || field === 2) && (key & 7) !== LEN) {
      return undefined; // status or meta with a wrong wire type: protobufjs reads it by field number and fails its way
    } else {
      if (!f.skip(key & 7)) return undefined;
      rest.push(buf.subarray(start, f.pos));
    }
  }
  if (!data) return undefined;
  return { rest: rest.length === 1 ? (rest[0] as Buffer) : Buffer.concat(rest), data };
}

/**
 * Wraps a SeldonMessage deserializer (proto-loader's): a plain tftensor payload stays raw, everything else is
 * decoded as the wrapped function decodes it.
 */
export function rawAwareDeserializer(deserialize: (bytes: Buffer) => unknown): (bytes: Buffer) => unknown {
  return (bytes) => {
    const split = splitSeldonMessage(bytes);
    if (!split) return deserialize(bytes);
    const w = deserialize(split.rest) as WireSeldonMessage;
    w.data = split.data;
    w.data_oneof = 'data';
    return w;
  };
}

const RAW = new WeakMap<Payload, RawDefaultData>();

/** The Payload of a raw DefaultData: its tensor is decoded on first read (one copy when the bytes are unaligned). */
export function rawTensorPayload(d: RawDefaultData): Payload {
  let tensor: Tensor | undefined;
  const decode = (): Tensor => (tensor ??= fromBytes(d.dtype, d.shape, d.content, 'tftensor'));
  // Object literals with an accessor: an own, enumerable `tensor` like any other payload's (spreads, deepEqual and
  // JSON see it), at a fraction of Object.defineProperty's cost.
  const payload: Payload = d.names.length
    ? {
        kind: 'tensor',
        encoding: 'tftensor',
        names: d.names,
        get tensor() {
          return decode();
        },
      }
    : {
        kind: 'tensor',
        encoding: 'tftensor',
        get tensor() {
          return decode();
        },
      };
  RAW.set(payload, d);
  return payload;
}

/** The raw field a Payload was made from, when it was. */
export const rawDefaultDataOf = (p: Payload): RawDefaultData | undefined => RAW.get(p);

/** Payloads at least this large go out as their own buffer rather than through protobufjs's writer (a copy). */
const ZERO_COPY_BYTES = 16 * 1024;

/** Little protobuf writer for the few headers written by hand here. */
class Bytes {
  private readonly out: number[] = [];

  varint(v: number): this {
    for (; v >= 0x80; v = Math.floor(v / 128)) this.out.push((v % 128) | 0x80);
    this.out.push(v);
    return this;
  }

  key(field: number, wireType: number): this {
    return this.varint(field * 8 + wireType);
  }

  raw(bytes: Uint8Array | readonly number[]): this {
    for (const b of bytes) this.out.push(b);
    return this;
  }

  get length(): number {
    return this.out.length;
  }

  buffer(): Buffer {
    return Buffer.from(this.out);
  }
}

function keyAndLength(field: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(11);
  let o = 0;
  b[o++] = field * 8 + LEN; // fields 1 and 4 only: a one-byte key
  let v = length;
  for (; v >= 0x80; v = Math.floor(v / 128)) b[o++] = (v % 128) | 0x80;
  b[o++] = v;
  return b.subarray(0, o);
}

/**
 * DefaultData with a large tftensor of raw `tensor_content` (what toWire makes of a numeric tensor) as two parts:
 * the field's key, lengths, names, dtype and shape written here, then the content itself, uncopied. undefined for
 * anything else.
 */
function tftensorFieldParts(d: WireDefaultData): Buffer[] | undefined {
  const tf = d.tftensor;
  const content = tf?.tensor_content;
  if (!tf || d.tensor || d.ndarray || !content || content.byteLength < ZERO_COPY_BYTES) return undefined;
  if (typeof tf.dtype !== 'number' || tf.version_number || tf.tensor_shape?.unknown_rank) return undefined;
  if (tf.float_val?.length || tf.double_val?.length || tf.int_val?.length || tf.int64_val?.length) return undefined;
  if (tf.bool_val?.length || tf.string_val?.length) return undefined;
  const shape = new Bytes();
  for (const dim of tf.tensor_shape?.dim ?? []) {
    const size = Number(dim.size ?? 0);
    if (dim.name || !Number.isSafeInteger(size) || size < 0) return undefined;
    const one = new Bytes().key(1, VARINT).varint(size);
    shape.key(2, LEN).varint(one.length).raw(one.buffer());
  }
  const tfHead = new Bytes().key(1, VARINT).varint(tf.dtype).key(2, LEN).varint(shape.length).raw(shape.buffer());
  tfHead.key(4, LEN).varint(content.byteLength);
  const dd = new Bytes();
  for (const name of d.names ?? []) {
    const utf8 = Buffer.from(name, 'utf8');
    dd.key(1, LEN).varint(utf8.length).raw(utf8);
  }
  dd.key(4, LEN)
    .varint(tfHead.length + content.byteLength)
    .raw(tfHead.buffer());
  const field = new Bytes()
    .key(3, LEN)
    .varint(dd.length + content.byteLength)
    .raw(dd.buffer());
  const bytes = Buffer.isBuffer(content)
    ? content
    : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  return [field.buffer(), bytes];
}

/**
 * A SeldonMessage as buffers to write one after the other: a raw payload field as it came, a large tensor's content
 * or binData after their keys and lengths; everything else through `serialize` (proto-loader's). Concatenated, the
 * parts are the message.
 */
export function seldonMessageParts(w: WireSeldonMessage, serialize: (o: object) => Buffer): Buffer[] {
  if (w.data instanceof RawDefaultData) {
    const { data, data_oneof: _, ...rest } = w;
    return [serialize(rest), data.field];
  }
  const tensor = w.data && tftensorFieldParts(w.data);
  if (tensor) {
    const { data: _, data_oneof: __, ...rest } = w;
    return [serialize(rest), ...tensor];
  }
  if (w.binData && w.binData.byteLength >= ZERO_COPY_BYTES) {
    const { binData, data_oneof: _, ...rest } = w;
    const bytes = Buffer.isBuffer(binData)
      ? binData
      : Buffer.from(binData.buffer, binData.byteOffset, binData.byteLength);
    return [serialize(rest), keyAndLength(4, bytes.length), bytes];
  }
  return [serialize(w)];
}

/** SeldonMessageList (Aggregate) as parts: each member as {@link seldonMessageParts}, behind its key and length. */
export function seldonListParts(
  list: WireSeldonMessageList,
  serializeList: (o: object) => Buffer,
  serializeOne: (o: object) => Buffer,
): Buffer[] {
  const members = list.seldonMessages ?? [];
  const large = (m: WireSeldonMessage): boolean =>
    m.data instanceof RawDefaultData ||
    (m.data?.tftensor?.tensor_content?.byteLength ?? 0) >= ZERO_COPY_BYTES ||
    (m.binData?.byteLength ?? 0) >= ZERO_COPY_BYTES;
  if (!members.some(large)) return [serializeList(list)];
  const out: Buffer[] = [];
  for (const m of members) {
    const parts = seldonMessageParts(m, serializeOne);
    out.push(
      keyAndLength(
        1,
        parts.reduce((n, p) => n + p.length, 0),
      ),
      ...parts,
    );
  }
  return out;
}

export const joinParts = (parts: readonly Buffer[]): Buffer =>
  parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
