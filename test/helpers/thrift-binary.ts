/**
 * A reader for Apache Thrift's binary protocol (TBinaryProtocol), enough to decode what Jaeger clients send: structs
 * with their field ids kept (the caller maps them with the IDL), lists, sets, maps, and the strict message header of
 * an agent's emitBatch call. Written from the protocol description, independent of the encoder under test.
 */

export const T = {
  STOP: 0,
  BOOL: 2,
  BYTE: 3,
  DOUBLE: 4,
  I16: 6,
  I32: 8,
  I64: 10,
  STRING: 11,
  STRUCT: 12,
  MAP: 13,
  SET: 14,
  LIST: 15,
} as const;

export type ThriftValue =
  boolean | number | bigint | Buffer | ThriftStruct | ThriftValue[] | Map<ThriftValue, ThriftValue>;
/** field id → value */
export type ThriftStruct = Map<number, ThriftValue>;

export class ThriftReader {
  private pos = 0;

  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length)
      throw new Error(`thrift: need ${n} bytes at offset ${this.pos}, have ${this.remaining}`);
  }

  private i8(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }

  private i16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  private i32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  private binary(): Buffer {
    const n = this.i32();
    if (n < 0) throw new Error(`thrift: negative length ${n}`);
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** Strict message header (version 1): what an agent's UDP packet starts with. */
  readMessageBegin(): { name: string; type: number; seqid: number } {
    const word = this.i32();
    if ((word & 0xffff0000) !== (0x80010000 | 0))
      throw new Error(`thrift: not a strict binary message (0x${(word >>> 0).toString(16)})`);
    const name = this.binary().toString('utf8');
    return { name, type: word & 0xff, seqid: this.i32() };
  }

  readValue(type: number): ThriftValue {
    switch (type) {
      case T.BOOL:
        return this.i8() !== 0;
      case T.BYTE:
        return this.i8();
      case T.I16:
        return this.i16();
      case T.I32:
        return this.i32();
      case T.I64: {
        this.need(8);
        const v = this.buf.readBigInt64BE(this.pos);
        this.pos += 8;
        return v;
      }
      case T.DOUBLE: {
        this.need(8);
        const v = this.buf.readDoubleBE(this.pos);
        this.pos += 8;
        return v;
      }
      case T.STRING:
        return this.binary();
      case T.STRUCT:
        return this.readStruct();
      case T.LIST:
      case T.SET: {
        const elem = this.i8();
        const n = this.i32();
        const out: ThriftValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.readValue(elem));
        return out;
      }
      case T.MAP: {
        const k = this.i8();
        const v = this.i8();
        const n = this.i32();
        const out = new Map<ThriftValue, ThriftValue>();
        for (let i = 0; i < n; i++) out.set(this.readValue(k), this.readValue(v));
        return out;
      }
      default:
        throw new Error(`thrift: unknown type ${type} at offset ${this.pos}`);
    }
  }

  readStruct(): ThriftStruct {
    const out: ThriftStruct = new Map();
    for (;;) {
      const type = this.i8();
      if (type === T.STOP) return out;
      const id = this.i16();
      out.set(id, this.readValue(type));
    }
  }
}

/** Typed access to a decoded struct's fields, failing with the field id when the shape is not the IDL's. */
export const field = {
  struct(s: ThriftStruct, id: number): ThriftStruct {
    const v = s.get(id);
    if (!(v instanceof Map)) throw new Error(`thrift: field ${id} is not a struct`);
    return v as ThriftStruct;
  },
  list(s: ThriftStruct, id: number): ThriftValue[] {
    const v = s.get(id);
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw new Error(`thrift: field ${id} is not a list`);
    return v;
  },
  string(s: ThriftStruct, id: number): string | undefined {
    const v = s.get(id);
    if (v === undefined) return undefined;
    if (!Buffer.isBuffer(v)) throw new Error(`thrift: field ${id} is not a string`);
    return v.toString('utf8');
  },
  i64(s: ThriftStruct, id: number): bigint | undefined {
    const v = s.get(id);
    if (v === undefined) return undefined;
    if (typeof v !== 'bigint') throw new Error(`thrift: field ${id} is not an i64`);
    return v;
  },
  num(s: ThriftStruct, id: number): number | undefined {
    const v = s.get(id);
    if (v === undefined) return undefined;
    if (typeof v !== 'number') throw new Error(`thrift: field ${id} is not a number`);
    return v;
  },
};
