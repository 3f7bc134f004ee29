import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  encodeCancel,
  encodeError,
  encodeGoaway,
  FRAME_VERSION,
  encodeRequestHead,
  encodeResponseHead,
  FrameFormatError,
  FrameType,
  PREFIX_BYTES,
  type Frame,
  type FramePrefix,
} from '../../../src/transport/frame';
import { FrameReader } from '../../../src/transport/reader';

/** The frame codec and the stream reader: round trips, any chunking, limits from the prefix, malformed input. */

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function collect(max = 1 << 20): { reader: FrameReader; frames: Frame[]; oversized: FramePrefix[] } {
  const frames: Frame[] = [];
  const oversized: FramePrefix[] = [];
  const reader = new FrameReader(max, { frame: (f) => frames.push(f), oversized: (p) => oversized.push(p) });
  return { reader, frames, oversized };
}

const request = (id: number, body: Buffer, extra: Partial<Parameters<typeof encodeRequestHead>[0]> = {}): Buffer =>
  Buffer.concat([
    encodeRequestHead({
      id,
      method: 'aggregate',
      codec: 'flatbuffers',
      deadline: 1_800_000_000_123.5,
      traceparent: TRACEPARENT,
      tracestate: 'k=v,a=b',
      bodyLength: body.length,
      ...extra,
    }),
    body,
  ]);

describe('frame codec', () => {
  it('round-trips every frame type with all their fields', () => {
    const body = Buffer.from('hello tensor bytes');
    const { reader, frames } = collect();
    reader.push(
      Buffer.concat([
        request(7, body),
        request(8, Buffer.alloc(0), {
          method: 'predict',
          codec: 'seldon',
          deadline: undefined,
          traceparent: undefined,
          tracestate: undefined,
        }),
        encodeResponseHead(9, 1234, 3),
        Buffer.from([1, 2, 3]),
        encodeResponseHead(10, undefined, 0),
        encodeError(11, 8, 'über the limit'),
        encodeError(12, 8, 'queue full', 250),
        encodeError(13, 14, 'draining', undefined, { notStarted: true }),
        encodeCancel(0xffffffff),
        encodeGoaway('node shutting down'),
      ]),
    );
    assert.deepEqual(frames, [
      {
        type: FrameType.REQUEST,
        id: 7,
        method: 'aggregate',
        codec: 'flatbuffers',
        deadline: 1_800_000_000_123.5,
        traceparent: TRACEPARENT,
        tracestate: 'k=v,a=b',
        body,
      },
      {
        type: FrameType.REQUEST,
        id: 8,
        method: 'predict',
        codec: 'seldon',
        deadline: undefined,
        traceparent: undefined,
        tracestate: undefined,
        body: Buffer.alloc(0),
      },
      { type: FrameType.RESPONSE, id: 9, computeUs: 1234, body: Buffer.from([1, 2, 3]) },
      { type: FrameType.RESPONSE, id: 10, computeUs: undefined, body: Buffer.alloc(0) },
      { type: FrameType.ERROR, id: 11, code: 8, message: 'über the limit' },
      { type: FrameType.ERROR, id: 12, code: 8, message: 'queue full', retryAfterMs: 250 },
      { type: FrameType.ERROR, id: 13, code: 14, message: 'draining', notStarted: true },
      { type: FrameType.CANCEL, id: 0xffffffff },
      { type: FrameType.GOAWAY, id: 0, reason: 'node shutting down' },
    ]);
  });

  it('parses the same frames whatever the chunking, one byte at a time included', () => {
    const bodies = [Buffer.alloc(100_000, 7), Buffer.from('x'), Buffer.alloc(5000, 1)];
    const stream = Buffer.concat(bodies.map((b, i) => request(i + 1, b)));
    for (const size of [1, 3, 12, 13, 4096, 65536, stream.length]) {
      const { reader, frames } = collect();
      for (let o = 0; o < stream.length; o += size) reader.push(stream.subarray(o, o + size));
      assert.equal(frames.length, 3, `chunk size ${size}`);
      frames.forEach((f, i) =>
        assert.ok(f.type === FrameType.REQUEST && f.body.equals(bodies[i] as Buffer), `chunk size ${size}, frame ${i}`),
      );
      assert.equal(reader.pending, 0);
    }
  });

  it('hands out a body inside one chunk as a view, without copying it', () => {
    const body = Buffer.alloc(600_000, 3);
    const chunk = request(1, body);
    const { reader, frames } = collect();
    reader.push(chunk);
    const f = frames[0];
    assert.ok(f?.type === FrameType.REQUEST);
    assert.equal(f.body.buffer, chunk.buffer, 'the body was copied');
  });

  it('refuses a body over the limit from its prefix, skips it unbuffered, and goes on', () => {
    const { reader, frames, oversized } = collect(1000);
    const big = request(5, Buffer.alloc(5000, 9));
    // The prefix alone is enough to refuse it: nothing of the body has arrived yet.
    reader.push(big.subarray(0, PREFIX_BYTES));
    assert.deepEqual(
      oversized.map((p) => [p.id, p.bodyLength, p.type]),
      [[5, 5000, FrameType.REQUEST]],
    );
    for (let o = PREFIX_BYTES; o < big.length; o += 700) reader.push(big.subarray(o, o + 700));
    reader.push(request(6, Buffer.from('small')));
    assert.equal(frames.length, 1);
    assert.ok(frames[0]?.type === FrameType.REQUEST && frames[0].id === 6 && frames[0].body.toString() === 'small');
    assert.equal(oversized.length, 1);
  });

  it('reports a truncated frame as pending bytes', () => {
    const { reader, frames } = collect();
    const f = request(1, Buffer.alloc(100));
    reader.push(f.subarray(0, f.length - 1));
    assert.equal(frames.length, 0);
    assert.equal(reader.pending, f.length - 1);
  });

  const malformed: [string, Buffer, RegExp][] = [
    ['an unknown version', Buffer.from([0, 0, 0, 0, 0, 0, 4, 9, 1, 0, 0, 0]), /frame version 9/],
    ['an unknown type', Buffer.from([0, 0, 0, 0, 0, 0, 77, FRAME_VERSION, 1, 0, 0, 0]), /unknown frame type 77/],
    [
      'a CANCEL with a body',
      Buffer.from([5, 0, 0, 0, 0, 0, 4, FRAME_VERSION, 1, 0, 0, 0]),
      /CANCEL frame with a 5-byte body/,
    ],
    [
      'a RESPONSE with a short head',
      Buffer.from([0, 0, 0, 0, 3, 0, 2, FRAME_VERSION, 1, 0, 0, 0, 1, 2, 3]),
      /RESPONSE head of 3 bytes/,
    ],
    ['an ERROR with status 0', Buffer.concat([encodeError(1, 0, 'x')]), /status code 0/],
    [
      'an ERROR with unknown flags',
      (() => {
        const b = encodeError(1, 14, 'x');
        b[PREFIX_BYTES + 1] = 6;
        return b;
      })(),
      /unknown flags 6/,
    ],
    [
      'a GOAWAY with a request id',
      Buffer.from([0, 0, 0, 0, 0, 0, 5, FRAME_VERSION, 3, 0, 0, 0]),
      /GOAWAY frame with request id 3/,
    ],
    [
      'an ERROR head without its retry-after field',
      Buffer.from([0, 0, 0, 0, 4, 0, 3, FRAME_VERSION, 1, 0, 0, 0, 8, 0, 0, 0]),
      /ERROR head of 4 bytes, shorter than its fixed fields/,
    ],
    [
      'a REQUEST with an unknown method',
      (() => {
        const b = request(1, Buffer.alloc(0));
        b[PREFIX_BYTES] = 42;
        return b;
      })(),
      /unknown method 42/,
    ],
    [
      'a REQUEST whose head lengths disagree',
      (() => {
        const b = request(1, Buffer.alloc(0));
        b.writeUInt8(200, PREFIX_BYTES + 10);
        return b;
      })(),
      /traceparent runs past the head/,
    ],
    ['a REQUEST with a negative deadline', request(1, Buffer.alloc(0), { deadline: -5 }), /deadline -5/],
  ];
  for (const [what, bytes, re] of malformed) {
    it(`throws FrameFormatError for ${what}`, () => {
      const { reader } = collect();
      assert.throws(
        () => reader.push(bytes),
        (e: unknown) => e instanceof FrameFormatError && re.test(e.message),
      );
    });
  }
});
