import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Code, InferError } from '../../src/errors';
import { emptyMeta, type InferMessage, type Payload } from '../../src/message/message';
import {
  decodeFlatMessage,
  decodeFlatMessageList,
  encodeFlatMessage,
  encodeFlatMessageList,
} from '../../src/protocol/flatbuffers/codec';
import { DTYPES, type NumericDType } from '../../src/tensor/dtype';
import { fromNumbers, toNumbers, type Tensor } from '../../src/tensor/tensor';

/** The bytes placed at `offset` inside a fresh buffer, as grpc-js hands them over (it uses offset 5). */
function at(bytes: Uint8Array, offset: number): Buffer {
  const b = Buffer.alloc(bytes.byteLength + offset + 8);
  b.set(bytes, offset);
  return b.subarray(offset, offset + bytes.byteLength);
}

/** Byte arrays as plain arrays: decoded bytes are Buffer views, the originals Uint8Arrays. */
const plain = (v: unknown): unknown =>
  v instanceof Uint8Array
    ? Array.from(v)
    : Array.isArray(v)
      ? v.map(plain)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
        : v;

const richMeta = (): InferMessage['meta'] => ({
  puid: 'p-1',
  tags: { model: 'resnet', nested: { a: [1, 'two', null, true] }, ünï: 'cödé' },
  routing: { router: 1, other: -1 },
  requestPath: { top1: 'top1-output', 'jpeg-input': 'jpeg-input' },
  metrics: [
    { key: 'calls', type: 'COUNTER', value: 1 },
    { key: 'latency', type: 'TIMER', value: 12.5, tags: { node: 'a' } },
    { key: 'g', type: 'GAUGE', value: -3 },
  ],
});

const values: Record<NumericDType, number[]> = {
  float32: [1.5, -2.25, 3 * 2 ** 40, 0],
  float64: [Math.PI, -1e-300, 1e300, 0],
  int8: [-128, 127, 0, 5],
  int16: [-32768, 32767, 1, 2],
  int32: [-(2 ** 31), 2 ** 31 - 1, 7, 8],
  int64: [-(2 ** 53) + 1, 2 ** 53 - 1, -1, 0],
  uint8: [0, 255, 1, 2],
  uint16: [0, 65535, 3, 4],
  bool: [1, 0, 1, 1],
};

describe('FlatBuffers hop codec', () => {
  for (const dtype of Object.keys(DTYPES) as NumericDType[]) {
    it(`round-trips a ${dtype} tensor with names and meta, from aligned and unaligned buffers`, () => {
      const tensor = fromNumbers(dtype, [2, 2], values[dtype]);
      const msg: InferMessage = { meta: richMeta(), payload: { kind: 'tensor', tensor, names: ['a', 'b'] } };
      const bytes = encodeFlatMessage(msg);
      for (const offset of [0, 1, 3, 5, 6, 7]) {
        const back = decodeFlatMessage(at(bytes, offset));
        assert.deepEqual(back.meta, msg.meta);
        assert.equal(back.payload.kind, 'tensor');
        if (back.payload.kind !== 'tensor') return;
        assert.deepEqual(back.payload.names, ['a', 'b']);
        assert.equal(back.payload.tensor.dtype, dtype);
        assert.deepEqual(back.payload.tensor.shape, [2, 2]);
        assert.deepEqual(toNumbers(back.payload.tensor), values[dtype], `offset ${offset}`);
        assert.equal(back.payload.tensor.data.byteOffset % DTYPES[dtype].bytes, 0);
      }
    });
  }

  it('reads the tensor in place (no copy) at the offset grpc-js uses, and copies once anywhere else', () => {
    const tensor = fromNumbers(
      'float32',
      [1, 3, 224, 224],
      new Float32Array(3 * 224 * 224).map((_, i) => i % 251),
    );
    const bytes = encodeFlatMessage({ meta: emptyMeta('x'), payload: { kind: 'tensor', tensor } });
    const inPlace = at(bytes, 5);
    const back = decodeFlatMessage(inPlace);
    assert.ok(back.payload.kind === 'tensor');
    if (back.payload.kind !== 'tensor') return;
    const data = back.payload.tensor.data as Float32Array;
    assert.equal(data.buffer, inPlace.buffer, 'expected a view into the received buffer');
    const elsewhere = at(bytes, 6);
    const copied = decodeFlatMessage(elsewhere);
    assert.ok(copied.payload.kind === 'tensor');
    if (copied.payload.kind !== 'tensor') return;
    assert.notEqual((copied.payload.tensor.data as Float32Array).buffer, elsewhere.buffer);
    assert.deepEqual(copied.payload.tensor.data, tensor.data);
  });

  it('round-trips string tensors, empty tensors, scalars and every other payload kind', () => {
    const enc = new TextEncoder();
    const strings: Tensor = {
      dtype: 'string',
      shape: [3],
      data: ['cat', '', 'ünï'].map((s) => enc.encode(s)).concat([]),
    };
    const bytesEl: Tensor = { dtype: 'string', shape: [1], data: [new Uint8Array([0, 255, 1])] };
    const payloads: Payload[] = [
      { kind: 'tensor', tensor: strings },
      { kind: 'tensor', tensor: bytesEl },
      { kind: 'tensor', tensor: fromNumbers('float32', [0, 4], []) },
      { kind: 'tensor', tensor: fromNumbers('float64', [], [42]) },
      { kind: 'bin', data: new Uint8Array([0xff, 0xd8, 0xff, 0, 1, 2]) },
      { kind: 'bin', data: new Uint8Array(0) },
      { kind: 'str', data: 'hello ünï' },
      { kind: 'json', data: { predictions: [{ index: 3, score: 0.5, label: 'x' }], note: null } },
      { kind: 'none' },
    ];
    for (const payload of payloads) {
      const msg: InferMessage = { meta: emptyMeta(), payload };
      const back = decodeFlatMessage(at(encodeFlatMessage(msg), 5));
      assert.deepEqual(plain(back), plain(msg));
    }
    const withStatus: InferMessage = {
      meta: emptyMeta('s'),
      payload: { kind: 'none' },
      status: { code: 3, info: 'bad', reason: 'why', status: 'FAILURE' },
    };
    assert.deepEqual(decodeFlatMessage(encodeFlatMessage(withStatus)), withStatus);
  });

  it('round-trips a message list (combiner input)', () => {
    const list: InferMessage[] = [1, 2, 3].map((k) => ({
      meta: { ...richMeta(), puid: `p${k}` },
      payload: { kind: 'tensor', tensor: fromNumbers('float32', [1, k], new Array(k).fill(k)) },
    }));
    const back = decodeFlatMessageList(at(encodeFlatMessageList(list), 5));
    assert.deepEqual(back, list);
    assert.deepEqual(decodeFlatMessageList(encodeFlatMessageList([])), []);
  });

  it('rejects malformed bytes with INVALID_ARGUMENT instead of reading past the buffer', () => {
    const good = encodeFlatMessage({
      meta: richMeta(),
      payload: { kind: 'tensor', tensor: fromNumbers('float32', [1, 64], new Array(64).fill(1)) },
    });
    const bad: Uint8Array[] = [
      new Uint8Array(0),
      new Uint8Array([0, 1, 2]),
      new Uint8Array([3, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]),
      good.subarray(0, good.length / 2),
    ];
    // Every truncation and a few corrupted bytes must fail cleanly (or, for harmless bytes, decode).
    for (let cut = 4; cut < good.length; cut += 37) bad.push(good.subarray(0, cut));
    for (const b of bad) {
      assert.throws(
        () => decodeFlatMessage(b),
        (e: unknown) => e instanceof InferError && e.code === Code.INVALID_ARGUMENT,
        `${b.length} bytes`,
      );
    }
    for (let i = 3; i < good.length; i += 13) {
      const c = Buffer.from(good);
      c[i] = (c[i] as number) ^ 0xa5;
      try {
        decodeFlatMessage(c);
      } catch (e) {
        assert.ok(e instanceof InferError && e.code === Code.INVALID_ARGUMENT, `byte ${i}: ${String(e)}`);
      }
    }
  });
});
