import assert from 'node:assert/strict';
import type { MethodDefinition } from '@grpc/proto-loader';
import { Writer } from 'protobufjs';
import { describe, it } from 'node:test';
import { Code, InferError } from '../../src/errors';
import { emptyMeta, type InferMessage } from '../../src/message/message';
import { seldonProto } from '../../src/protocol/seldon/proto-loader';
import { fromWire, toWire } from '../../src/protocol/seldon/seldon-message';
import type { WireSeldonMessage } from '../../src/protocol/seldon/wire-types';
import { fromNumbers, toNumbers, viewBytes } from '../../src/tensor/tensor';
import { parseNpy } from '../../src/tensor/npy';

const predict = (): MethodDefinition<object, object> =>
  (seldonProto().def['seldon.protos.Model'] as Record<string, MethodDefinition<object, object>>)
    .Predict as MethodDefinition<object, object>;
const encode = (w: WireSeldonMessage): Buffer => predict().requestSerialize(w);
const decode = (b: Buffer): WireSeldonMessage => predict().requestDeserialize(b);
const roundTrip = (m: InferMessage, enc: 'tftensor' | 'tensor' | 'ndarray' = 'tftensor'): InferMessage =>
  fromWire(decode(encode(toWire(m, enc))));

describe('Seldon wire protocol', () => {
  it('decodes bytes written by hand with Seldon field numbers (SeldonMessage.data=3 → DefaultData.tftensor=4)', () => {
    // TensorProto: dtype=1 (DT_FLOAT=1), tensor_shape=2 {dim=2 {size=1}}, tensor_content=4
    const floats = Buffer.from(new Float32Array([1.5, -2, 3.25]).buffer);
    const shape = new Writer();
    for (const n of [1, 3])
      shape
        .uint32((2 << 3) | 2)
        .fork()
        .uint32((1 << 3) | 0)
        .int64(n)
        .ldelim();
    const tf = new Writer()
      .uint32((1 << 3) | 0)
      .int32(1)
      .uint32((2 << 3) | 2)
      .bytes(shape.finish())
      .uint32((4 << 3) | 2)
      .bytes(floats)
      .finish();
    const dd = new Writer()
      .uint32((1 << 3) | 2)
      .string('x')
      .uint32((4 << 3) | 2)
      .bytes(tf)
      .finish();
    const meta = new Writer()
      .uint32((1 << 3) | 2)
      .string('abc')
      .finish();
    const msg = new Writer()
      .uint32((2 << 3) | 2)
      .bytes(meta)
      .uint32((3 << 3) | 2)
      .bytes(dd)
      .finish();
    const m = fromWire(decode(Buffer.from(msg)));
    assert.equal(m.meta.puid, 'abc');
    assert.equal(m.payload.kind, 'tensor');
    if (m.payload.kind !== 'tensor') return;
    assert.deepEqual(m.payload.names, ['x']);
    assert.equal(m.payload.tensor.dtype, 'float32');
    assert.deepEqual(m.payload.tensor.shape, [1, 3]);
    assert.deepEqual(toNumbers(m.payload.tensor), [1.5, -2, 3.25]);
    // And what we write is byte-identical to the hand-written message.
    assert.ok(
      encode(toWire(m, 'tftensor')).equals(Buffer.from(msg)),
      're-encoding differs from the hand-written bytes',
    );
  });

  it('writes binData as field 4 and strData as field 5', () => {
    const bin = encode(toWire({ meta: emptyMeta(), payload: { kind: 'bin', data: Buffer.from([1, 2, 3]) } }));
    assert.ok(bin.includes(Buffer.from([(4 << 3) | 2, 3, 1, 2, 3])));
    const str = encode(toWire({ meta: emptyMeta(), payload: { kind: 'str', data: 'hi' } }));
    assert.ok(str.includes(Buffer.from([(5 << 3) | 2, 2, 0x68, 0x69])));
  });

  for (const dtype of ['float32', 'float64', 'int32', 'int64', 'uint8', 'int8', 'int16', 'uint16'] as const) {
    it(`tftensor round trip keeps ${dtype} values and shape`, () => {
      const t = fromNumbers(dtype, [2, 3], [0, 1, 2, 3, 4, 5]);
      const m = roundTrip({ meta: emptyMeta('p'), payload: { kind: 'tensor', tensor: t } });
      assert.ok(m.payload.kind === 'tensor');
      assert.equal(m.payload.tensor.dtype, dtype);
      assert.deepEqual(m.payload.tensor.shape, [2, 3]);
      assert.deepEqual(toNumbers(m.payload.tensor), [0, 1, 2, 3, 4, 5]);
    });
  }

  it('string tensors travel as tftensor string_val', () => {
    const enc = new TextEncoder();
    const m = roundTrip({
      meta: emptyMeta(),
      payload: { kind: 'tensor', tensor: { dtype: 'string', shape: [2], data: [enc.encode('a'), enc.encode('bc')] } },
    });
    assert.ok(m.payload.kind === 'tensor' && m.payload.tensor.dtype === 'string');
    assert.deepEqual(
      m.payload.tensor.data.map((b) => Buffer.from(b).toString()),
      ['a', 'bc'],
    );
  });

  it('Seldon tensor (packed doubles) and ndarray encodings round trip to float64', () => {
    for (const enc of ['tensor', 'ndarray'] as const) {
      const m = roundTrip(
        { meta: emptyMeta(), payload: { kind: 'tensor', tensor: fromNumbers('float32', [2, 2], [1, 2, 3, 4.5]) } },
        enc,
      );
      assert.ok(m.payload.kind === 'tensor', enc);
      assert.equal(m.payload.encoding, enc);
      assert.equal(m.payload.tensor.dtype, 'float64');
      assert.deepEqual(m.payload.tensor.shape, [2, 2]);
      assert.deepEqual(toNumbers(m.payload.tensor), [1, 2, 3, 4.5]);
    }
  });

  it('ragged ndarray stays JSON; jsonData and meta round trip', () => {
    const w: WireSeldonMessage = {
      data: { ndarray: { values: [{ listValue: { values: [{ numberValue: 1 }] } }, { stringValue: 'x' }] } },
    };
    assert.equal(fromWire(decode(encode(w))).payload.kind, 'json');
    const meta = {
      ...emptyMeta('puid-1'),
      tags: { a: 1, b: 'two', c: [true, null], d: { e: 1 } },
      routing: { r: 1 },
      requestPath: { n: 'img' },
      metrics: [{ key: 'k', type: 'TIMER' as const, value: 2.5, tags: { x: 'y' } }],
    };
    const m = roundTrip({ meta, payload: { kind: 'json', data: { hello: ['world', 1, false] } } });
    assert.deepEqual(m.meta, meta);
    assert.deepEqual(m.payload, { kind: 'json', data: { hello: ['world', 1, false] } });
  });

  it('tftensor with typed value lists (no tensor_content), including the one-value broadcast', () => {
    const m = fromWire(
      decode(encode({ data: { tftensor: { dtype: 1, tensor_shape: { dim: [{ size: 3 }] }, float_val: [7] } } })),
    );
    assert.ok(m.payload.kind === 'tensor');
    assert.deepEqual(toNumbers(m.payload.tensor), [7, 7, 7]);
  });

  it('malformed tensors are INVALID_ARGUMENT naming the problem', () => {
    const cases: [WireSeldonMessage, RegExp][] = [
      [
        { data: { tftensor: { dtype: 1, tensor_shape: { dim: [{ size: 4 }] }, tensor_content: Buffer.alloc(12) } } },
        /shape \[4\] needs 4 elements, got 3/,
      ],
      [
        { data: { tftensor: { dtype: 1, tensor_shape: { dim: [{ size: 4 }] }, tensor_content: Buffer.alloc(7) } } },
        /7 bytes is not a whole number of float32/,
      ],
      [{ data: { tftensor: { dtype: 8, tensor_shape: { dim: [{ size: 1 }] } } } }, /unsupported dtype/],
      [{ data: { tensor: { shape: [3], values: [1] } } }, /shape \[3\] needs 3 values, got 1/],
      [{ data: { names: ['x'] } }, /neither tensor, ndarray nor tftensor/],
    ];
    for (const [w, re] of cases) {
      assert.throws(
        () => fromWire(decode(encode(w))),
        (e: unknown) => e instanceof InferError && e.code === Code.INVALID_ARGUMENT && re.test(e.message),
        String(re),
      );
    }
  });

  it('unaligned bytes are copied once; aligned bytes are viewed without a copy', () => {
    const buf = Buffer.alloc(17);
    new Float32Array(buf.buffer, buf.byteOffset, 4).set([1, 2, 3, 4]);
    const aligned = viewBytes('float32', buf.subarray(0, 16));
    assert.equal(aligned.buffer, buf.buffer);
    const odd = Buffer.alloc(17);
    odd.set(buf.subarray(0, 16), 1);
    const unaligned = viewBytes('float32', odd.subarray(1));
    assert.notEqual(unaligned.buffer, odd.buffer);
    assert.deepEqual(Array.from(unaligned as Float32Array), [1, 2, 3, 4]);
  });

  it('reads .npy files', () => {
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
    const pad = 64 - ((10 + header.length + 1) % 64);
    const h = Buffer.from(header + ' '.repeat(pad) + '\n', 'latin1');
    const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8]);
    const t = parseNpy(Buffer.concat([pre, h, Buffer.from(new Float32Array([1, 2, 3, 4]).buffer)]));
    assert.deepEqual(t.shape, [2, 2]);
    assert.deepEqual(toNumbers(t), [1, 2, 3, 4]);
  });
});
