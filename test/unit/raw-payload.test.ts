import assert from 'node:assert/strict';
import type { MethodDefinition } from '@grpc/proto-loader';
import { describe, it } from 'node:test';
import { mergeMeta } from '../../src/message/meta';
import { emptyMeta, type InferMessage, type Payload } from '../../src/message/message';
import { hopServerWire, hopWire } from '../../src/protocol/hop-codec';
import { executorSeldonDefinition, seldonProto, serviceDefinition } from '../../src/protocol/seldon/proto-loader';
import { joinParts, rawDefaultDataOf, splitSeldonMessage } from '../../src/protocol/seldon/raw-payload';
import { fromWire, toWire } from '../../src/protocol/seldon/seldon-message';
import type { WireSeldonMessage } from '../../src/protocol/seldon/wire-types';
import { fromNumbers, type Tensor } from '../../src/tensor/tensor';

/**
 * The executor forwards tftensor payloads without decoding them (src/protocol/seldon/raw-payload.ts). What a node receives
 * must be exactly what the protobufjs path would have given it, and anything the fast path does not take must
 * decode (or fail) exactly as before.
 */

type Def = MethodDefinition<object, object>;
const model = (): Record<string, Def> => seldonProto().def['seldon.protos.Model'] as Record<string, Def>;
const combiner = (): Record<string, Def> => seldonProto().def['seldon.protos.Combiner'] as Record<string, Def>;
/** what a node sends back: proto-loader's serializer, no raw parts */
const nodeReply = (m: InferMessage): Buffer => hopServerWire(false, 'predict').serialize(toWire(m, 'tftensor'));
/** the executor's view of a reply */
const executorDecode = (bytes: Buffer): InferMessage => {
  const w = hopWire('tftensor', 'predict');
  return w.decode(w.deserialize(bytes));
};
/** the plain protobufjs path, as before */
const plainDecode = (bytes: Buffer): InferMessage => fromWire(model().Predict!.responseDeserialize(bytes));

const outcome = (f: () => InferMessage): unknown => {
  try {
    return { ok: f() };
  } catch {
    return 'error';
  }
};

/** The executor's decode of `b` gives what protobufjs alone gives, or fails where it fails. */
const check = (b: Buffer): void =>
  assert.deepEqual(
    outcome(() => executorDecode(b)),
    outcome(() => plainDecode(b)),
  );

/** Every byte of bytes[0, end) set to a few telling values (varint continuation bits, key bits) in turn. */
function eachByteChanged(bytes: Buffer, end: number, f: (b: Buffer) => void): void {
  for (let i = 0; i < end; i++)
    for (const v of [0x00, 0x01, 0x7f, 0x80, 0xff, (bytes[i] as number) ^ 0x08]) {
      const b = Buffer.from(bytes);
      b[i] = v;
      f(b);
    }
}

const float32 = (shape: number[]): Tensor =>
  fromNumbers(
    'float32',
    shape,
    Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i) * 100),
  );

const sample = (): InferMessage => ({
  meta: {
    ...emptyMeta('puid-1'),
    tags: { a: 1, b: 'x', nested: { l: [1, 2] } },
    requestPath: { pre: 'scale' },
    routing: { r: -1 },
    metrics: [{ key: 'k', type: 'GAUGE', value: 2.5 }],
  },
  payload: { kind: 'tensor', tensor: float32([1, 3, 8, 8]), names: ['x', 'y'] },
  status: { code: 200, info: 'i', reason: 'r', status: 'SUCCESS' },
});

const tensorOf = (p: Payload): Tensor => {
  assert.equal(p.kind, 'tensor');
  return p.tensor;
};

describe('raw tftensor payloads through the executor', () => {
  it('a reply decodes to the same message as protobufjs gives, its tensor kept raw until read', () => {
    const bytes = nodeReply(sample());
    const fast = executorDecode(bytes);
    assert.ok(rawDefaultDataOf(fast.payload), 'the payload is raw');
    assert.deepEqual(fast, plainDecode(bytes));
    assert.deepEqual(tensorOf(fast.payload).data, sample().payload.kind === 'tensor' && float32([1, 3, 8, 8]).data);
  });

  it('the next hop writes the same bytes again, without a copy, and the node decodes what protobufjs would', () => {
    const bytes = nodeReply(sample());
    const reply = executorDecode(bytes);
    const next: InferMessage = { ...reply, meta: mergeMeta(reply.meta, { ...emptyMeta(), tags: { added: true } }) };
    const wire = hopWire('tftensor', 'predict');
    const parts = wire.serializeParts(wire.encode(next));
    const raw = rawDefaultDataOf(reply.payload);
    assert.ok(raw);
    assert.ok(
      parts.some((p) => p.buffer === bytes.buffer && p.byteOffset === raw.field.byteOffset),
      'the payload part is a view of the reply',
    );
    const atNode = fromWire(model().Predict!.requestDeserialize(joinParts(parts)));
    const expected = fromWire(
      model().Predict!.requestDeserialize(
        model().Predict!.requestSerialize(toWire({ ...next, payload: plainDecode(bytes).payload })),
      ),
    );
    assert.deepEqual(atNode, expected);
    assert.equal(atNode.meta.tags.added, true);
    assert.deepEqual(joinParts(parts), wire.serialize(wire.encode(next)));
  });

  it('Aggregate: a list of raw and decoded members arrives as protobufjs would send it', () => {
    const a = executorDecode(nodeReply(sample()));
    const b = executorDecode(nodeReply({ ...sample(), payload: { kind: 'tensor', tensor: float32([2, 5]) } }));
    const c: InferMessage = { meta: emptyMeta('c'), payload: { kind: 'tensor', tensor: float32([3]) } };
    const wire = hopWire('tftensor', 'aggregate');
    const parts = wire.serializeParts(wire.encode([a, b, c]));
    assert.ok(parts.length > 1, 'raw members go out as parts');
    const def = combiner().Aggregate!;
    const got = (def.requestDeserialize(joinParts(parts)) as { seldonMessages: WireSeldonMessage[] }).seldonMessages;
    const plain = [a, b, c].map((m) => ({
      ...m,
      payload: {
        kind: 'tensor' as const,
        tensor: tensorOf(m.payload),
        ...(m.payload.kind === 'tensor' && m.payload.names ? { names: m.payload.names } : {}),
      },
    }));
    const want = (
      def.requestDeserialize(def.requestSerialize({ seldonMessages: plain.map((m) => toWire(m)) })) as {
        seldonMessages: WireSeldonMessage[];
      }
    ).seldonMessages;
    assert.deepEqual(got.map(fromWire), want.map(fromWire));
  });

  it('large binData goes out as its own part, unchanged', () => {
    const data = Buffer.alloc(100_000, 7);
    const m: InferMessage = { meta: emptyMeta('j'), payload: { kind: 'bin', data } };
    const wire = hopWire('tftensor', 'transformInput');
    const parts = wire.serializeParts(wire.encode(m));
    assert.ok(parts.includes(data));
    const transformer = seldonProto().def['seldon.protos.Transformer'] as Record<string, Def>;
    const back = fromWire(transformer.TransformInput!.requestDeserialize(joinParts(parts)));
    assert.deepEqual(back, fromWire(toWire(m)));
  });

  it('a graph with another Seldon encoding re-encodes a raw tensor in it', () => {
    const reply = executorDecode(nodeReply(sample()));
    const wire = hopWire('ndarray', 'predict');
    const w = wire.encode(reply) as WireSeldonMessage;
    assert.ok(w.data?.ndarray, 'sent as ndarray');
    const back = fromWire(model().Predict!.requestDeserialize(wire.serialize(w)));
    assert.deepEqual(
      Array.from(tensorOf(back.payload).data as Float64Array),
      Array.from(tensorOf(reply.payload).data as Float32Array, (v) => v),
    );
  });

  it('payloads the fast path does not take decode as before: values, strings, binData, ndarray, empty', () => {
    const cases: InferMessage[] = [
      {
        meta: emptyMeta('s'),
        payload: {
          kind: 'tensor',
          tensor: { dtype: 'string', shape: [2], data: [Buffer.from('a'), Buffer.from('bc')] },
        },
      },
      { meta: emptyMeta('b'), payload: { kind: 'bin', data: Buffer.from([1, 2, 3]) } },
      { meta: emptyMeta('n'), payload: { kind: 'none' } },
    ];
    for (const m of cases) {
      const bytes = nodeReply(m);
      const fast = executorDecode(bytes);
      assert.equal(rawDefaultDataOf(fast.payload), undefined);
      assert.deepEqual(fast, plainDecode(bytes));
    }
    // an empty tensor is a plain one (raw, zero bytes of content)
    const empty = nodeReply({ meta: emptyMeta('z'), payload: { kind: 'tensor', tensor: float32([0, 3]) } });
    assert.deepEqual(executorDecode(empty), plainDecode(empty));
    // float_val instead of tensor_content, and ndarray
    const w = model().Predict!.responseSerialize({
      data: { tftensor: { dtype: 1, tensor_shape: { dim: [{ size: 2 }] }, float_val: [1, 2] } },
    });
    assert.equal(splitSeldonMessage(w), undefined);
    assert.deepEqual(executorDecode(w), plainDecode(w));
    const nd = hopServerWire(false, 'predict').serialize(toWire(sample(), 'ndarray'));
    assert.equal(splitSeldonMessage(nd), undefined);
    assert.deepEqual(executorDecode(nd), plainDecode(nd));
  });

  it('a tensor whose bytes do not match its shape fails with the same error as before', () => {
    const w = model().Predict!.responseSerialize({
      data: {
        tftensor: { dtype: 1, tensor_shape: { dim: [{ size: 2 }, { size: 2 }] }, tensor_content: Buffer.alloc(12) },
      },
    });
    assert.equal(splitSeldonMessage(w), undefined);
    assert.throws(() => executorDecode(w), /tftensor: shape \[2,2\] needs 4 elements, got 3/);
    assert.throws(() => plainDecode(w), /tftensor: shape \[2,2\] needs 4 elements, got 3/);
  });

  it('every truncation and every single-byte change of a reply decodes or fails exactly as protobufjs does', () => {
    const bytes = nodeReply({ ...sample(), payload: { kind: 'tensor', tensor: float32([2, 3]), names: ['n'] } });
    for (let n = 0; n < bytes.length; n++) check(bytes.subarray(0, n));
    eachByteChanged(bytes, bytes.length, check);
  });

  it('varints longer than protobufjs reads, and status or meta of the wrong wire type, are left to protobufjs', () => {
    // SeldonMessage.data = DefaultData { tftensor: TensorProto }, TensorProto given as bytes.
    const message = (tensorProto: number[], before: number[] = []): Buffer => {
      const tf = [0x22, tensorProto.length, ...tensorProto];
      return Buffer.from([...before, 0x1a, tf.length, ...tf]);
    };
    const shape2 = [0x12, 0x04, 0x12, 0x02, 0x08, 0x02]; // tensor_shape { dim { size: 2 } }
    const content = [0x22, 0x08, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]; // [1, 2] as float32
    const cases = [
      message([0x08, 0x01, ...shape2, ...content]), // plain: taken raw
      // version_number as an 8-byte varint that swallows what follows
      message([
        0x08,
        0x01,
        ...shape2,
        0x18,
        0x80,
        0x80,
        0x80,
        0x80,
        0x80,
        0x80,
        0x80,
        0x22,
        0x08,
        0x01,
        0x18,
        0x00,
        0x18,
        0x00,
        0x18,
        0x80,
        0x00,
      ]),
      message([0x08, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, ...shape2, ...content]), // dtype as a 6-byte varint
      message([0x08, 0x01, ...shape2, ...content], [0x15, 0x05, 0x00, 0x00, 0x00]), // meta as fixed32
      message([0x08, 0x01, ...shape2, ...content], [0x08, 0x01]), // status as a varint
    ];
    assert.ok(splitSeldonMessage(cases[0] as Buffer), 'the plain message is taken raw');
    for (const b of cases.slice(1)) assert.equal(splitSeldonMessage(b), undefined, b.toString('hex'));
    for (const b of cases) check(b);
  });

  it('a node writes a large tensor as header parts and the content itself; protobufjs reads the same message', () => {
    const tensor = float32([1, 3, 40, 40]);
    const content = tensor.data as Float32Array;
    const m: InferMessage = { ...sample(), payload: { kind: 'tensor', tensor, names: ['a', 'é'] } };
    const sw = hopServerWire(false, 'predict');
    const parts = sw.serializeParts(toWire(m, 'tftensor'));
    assert.ok(
      parts.some((p) => p.buffer === content.buffer),
      'the tensor content is written from the tensor itself',
    );
    const joined = joinParts(parts);
    assert.deepEqual(plainDecode(joined), plainDecode(sw.serialize(toWire(m, 'tftensor'))));
    assert.deepEqual(executorDecode(joined), plainDecode(joined));
    assert.ok(rawDefaultDataOf(executorDecode(joined).payload));
  });

  it('hand-written headers: every truncation and change in them decodes or fails as protobufjs does', () => {
    const m: InferMessage = {
      meta: emptyMeta('h'),
      payload: { kind: 'tensor', tensor: float32([4097]), names: ['n'] },
    };
    const bytes = joinParts(hopServerWire(false, 'predict').serializeParts(toWire(m, 'tftensor')));
    const head = bytes.length - 4097 * 4;
    for (let n = 0; n <= head + 8; n++) check(bytes.subarray(0, n));
    check(bytes.subarray(0, bytes.length - 1));
    eachByteChanged(bytes, head, check);
  });

  it("the executor's Predict takes a client's tensor raw and answers a raw tensor as protobufjs would", () => {
    const plain = serviceDefinition('Seldon').Predict!;
    const exec = executorSeldonDefinition().Predict!;
    assert.notEqual(plain.requestDeserialize, exec.requestDeserialize, 'the shared definition is left alone');
    const m: InferMessage = { ...sample(), payload: { kind: 'tensor', tensor: float32([1, 3, 32, 32]) } };
    const bytes = plain.requestSerialize(toWire(m));
    const got = fromWire(exec.requestDeserialize(bytes) as WireSeldonMessage);
    assert.ok(rawDefaultDataOf(got.payload), "the client's tensor is raw");
    assert.deepEqual(got, fromWire(plain.requestDeserialize(bytes) as WireSeldonMessage));
    const answer = exec.responseSerialize(toWire({ ...got, meta: { ...got.meta, puid: 'p2' } }));
    const back = fromWire(plain.responseDeserialize(answer) as WireSeldonMessage);
    assert.equal(back.meta.puid, 'p2');
    assert.deepEqual(tensorOf(back.payload).data, tensorOf(m.payload).data);
  });
});
