/**
 * The frame format of the framed hop transport (see README "Hop transports"). One frame:
 *
 *   u32 bodyLength | u16 headLength | u8 type | u8 version | u32 requestId | head (headLength bytes) | body
 *
 * little-endian. The fixed prefix is 12 bytes; `head` holds the type's small fields and `body` the message bytes
 * (exactly what the gRPC hop carries: a serialized SeldonMessage / SeldonMessageList, or a FlatBuffer). The body's
 * length comes first so a receiver can refuse a frame over its message limit before buffering a byte of it.
 *
 *   REQUEST  head: u8 method | u8 codec | f64 deadline (ms since epoch, 0 none) | u8 n + traceparent | u16 n + tracestate
 *   RESPONSE head: f64 compute µs (NaN when the node did not measure); body: the reply message
 *   ERROR    head: u8 status code | u8 flags | u32 retry-after ms (pushback of a refusal; 0xffffffff none) | utf-8 message
 *            flags bit 0, NOT_STARTED: the node refused the call before doing any of its work (it is draining), so
 *            the caller may send it again elsewhere
 *   CANCEL   no head, no body: the caller gave up on `requestId`
 *   GOAWAY   node → caller, request id 0, head: utf-8 reason, no body: the node is draining. Calls it already
 *            received are answered; any REQUEST that reaches it after this frame is refused with NOT_STARTED; the
 *            node closes the connection once it owes no answer. The caller connects afresh for new calls.
 *
 * Nothing here touches sockets; reader.ts parses a byte stream into these frames.
 */

/** 2: ERROR frames carry a refusal's pushback. 3: GOAWAY, and ERROR's flags (NOT_STARTED). */
export const FRAME_VERSION = 3;
export const PREFIX_BYTES = 12;
/** Head fields are small and bounded: a longer head is a malformed frame, not a big message. */
export const MAX_HEAD_BYTES = 0xffff;

export const FrameType = { REQUEST: 1, RESPONSE: 2, ERROR: 3, CANCEL: 4, GOAWAY: 5 } as const;
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

/** Node methods by wire number; the order is the protocol: append only. */
export const METHODS = ['predict', 'transformInput', 'transformOutput', 'route', 'aggregate', 'sendFeedback'] as const;
export type FrameMethod = (typeof METHODS)[number];
const METHOD_NUMBER: Record<FrameMethod, number> = {
  predict: 0,
  transformInput: 1,
  transformOutput: 2,
  route: 3,
  aggregate: 4,
  sendFeedback: 5,
};

/** How the body is encoded: a Seldon protobuf message (the tftensor / tensor / ndarray codecs) or a FlatBuffer. */
export const BODY_CODECS = ['seldon', 'flatbuffers'] as const;
export type BodyCodec = (typeof BODY_CODECS)[number];

export interface RequestFrame {
  type: typeof FrameType.REQUEST;
  id: number;
  method: FrameMethod;
  codec: BodyCodec;
  /** ms since epoch; undefined: none */
  deadline: number | undefined;
  traceparent: string | undefined;
  tracestate: string | undefined;
  body: Buffer;
}

export interface ResponseFrame {
  type: typeof FrameType.RESPONSE;
  id: number;
  computeUs: number | undefined;
  body: Buffer;
}

export interface ErrorFrame {
  type: typeof FrameType.ERROR;
  id: number;
  code: number;
  message: string;
  /** A refusal's pushback (grpc-retry-pushback-ms on gRPC), ms. */
  retryAfterMs?: number;
  /** The node did none of the call's work (refused while draining): safe to send again. */
  notStarted?: true;
}

export interface CancelFrame {
  type: typeof FrameType.CANCEL;
  id: number;
}

export interface GoawayFrame {
  type: typeof FrameType.GOAWAY;
  id: 0;
  reason: string;
}

export type Frame = RequestFrame | ResponseFrame | ErrorFrame | CancelFrame | GoawayFrame;

/** A frame the peer sent that this side cannot parse: the connection is closed with this reason. */
export class FrameFormatError extends Error {
  override readonly name = 'FrameFormatError';
}

function prefix(type: FrameTypeValue, id: number, headLength: number, bodyLength: number): Buffer {
  const b = Buffer.allocUnsafe(PREFIX_BYTES + headLength);
  b.writeUInt32LE(bodyLength, 0);
  b.writeUInt16LE(headLength, 4);
  b.writeUInt8(type, 6);
  b.writeUInt8(FRAME_VERSION, 7);
  b.writeUInt32LE(id >>> 0, 8);
  return b;
}

/**
 * Encodes a request's prefix and head; the body (`bodyLength` bytes, one or more buffers) goes out as its own writes
 * after it (no copy of the payload). Trace context that does not fit its length field is dropped rather than
 * truncated into something invalid.
 */
export function encodeRequestHead(f: Omit<RequestFrame, 'type' | 'body'> & { bodyLength: number }): Buffer {
  const tp = f.traceparent && f.traceparent.length <= 0xff ? Buffer.from(f.traceparent, 'latin1') : undefined;
  const ts = f.tracestate && Buffer.byteLength(f.tracestate) <= 0x7fff ? Buffer.from(f.tracestate, 'utf8') : undefined;
  const headLength = 1 + 1 + 8 + 1 + (tp?.length ?? 0) + 2 + (ts?.length ?? 0);
  const b = prefix(FrameType.REQUEST, f.id, headLength, f.bodyLength);
  let o = PREFIX_BYTES;
  o = b.writeUInt8(METHOD_NUMBER[f.method], o);
  o = b.writeUInt8(f.codec === 'flatbuffers' ? 1 : 0, o);
  o = b.writeDoubleLE(f.deadline ?? 0, o);
  o = b.writeUInt8(tp?.length ?? 0, o);
  if (tp) o += tp.copy(b, o);
  o = b.writeUInt16LE(ts?.length ?? 0, o);
  if (ts) ts.copy(b, o);
  return b;
}

export function encodeResponseHead(id: number, computeUs: number | undefined, bodyLength: number): Buffer {
  const b = prefix(FrameType.RESPONSE, id, 8, bodyLength);
  b.writeDoubleLE(computeUs ?? NaN, PREFIX_BYTES);
  return b;
}

/** The whole error frame. Messages are cut to fit the head (they are for people, and 64 KB is plenty). */
export function encodeError(
  id: number,
  code: number,
  message: string,
  retryAfterMs?: number,
  opts: { notStarted?: boolean } = {},
): Buffer {
  const text = headText(message, ERROR_FIXED_HEAD);
  const b = prefix(FrameType.ERROR, id, ERROR_FIXED_HEAD + text.length, 0);
  b.writeUInt8(code & 0xff, PREFIX_BYTES);
  b.writeUInt8(opts.notStarted ? FLAG_NOT_STARTED : 0, PREFIX_BYTES + 1);
  const retry = retryAfterMs === undefined ? NO_RETRY_AFTER : Math.min(NO_RETRY_AFTER - 1, Math.max(0, retryAfterMs));
  b.writeUInt32LE(Math.round(retry), PREFIX_BYTES + 2);
  text.copy(b, PREFIX_BYTES + ERROR_FIXED_HEAD);
  return b;
}

/** An ERROR head's fixed fields: status code, flags and retry-after. */
const ERROR_FIXED_HEAD = 6;
const NO_RETRY_AFTER = 0xffffffff;
const FLAG_NOT_STARTED = 1;

const headText = (message: string, fixed: number): Buffer => {
  const text = Buffer.from(message, 'utf8');
  return text.length > MAX_HEAD_BYTES - fixed ? text.subarray(0, MAX_HEAD_BYTES - fixed) : text;
};

export function encodeGoaway(reason: string): Buffer {
  const text = headText(reason, 0);
  const b = prefix(FrameType.GOAWAY, 0, text.length, 0);
  text.copy(b, PREFIX_BYTES);
  return b;
}

export function encodeCancel(id: number): Buffer {
  return prefix(FrameType.CANCEL, id, 0, 0);
}

/** The fixed prefix, parsed; checked for what can be checked before the rest arrives. */
export interface FramePrefix {
  bodyLength: number;
  headLength: number;
  type: FrameTypeValue;
  id: number;
}

export function parsePrefix(b: Buffer, o = 0): FramePrefix {
  const bodyLength = b.readUInt32LE(o);
  const headLength = b.readUInt16LE(o + 4);
  const type = b.readUInt8(o + 6);
  const version = b.readUInt8(o + 7);
  const id = b.readUInt32LE(o + 8);
  if (version !== FRAME_VERSION) throw new FrameFormatError(`frame version ${version}, expected ${FRAME_VERSION}`);
  if (type < FrameType.REQUEST || type > FrameType.GOAWAY) throw new FrameFormatError(`unknown frame type ${type}`);
  if (type !== FrameType.REQUEST && type !== FrameType.RESPONSE && bodyLength !== 0) {
    throw new FrameFormatError(`${TYPE_NAMES[type]} frame with a ${bodyLength}-byte body`);
  }
  if (type === FrameType.GOAWAY && id !== 0) throw new FrameFormatError(`GOAWAY frame with request id ${id}`);
  if (type === FrameType.CANCEL && headLength !== 0)
    throw new FrameFormatError(`CANCEL frame with a ${headLength}-byte head`);
  if (type === FrameType.RESPONSE && headLength !== 8)
    throw new FrameFormatError(`RESPONSE head of ${headLength} bytes, expected 8`);
  if (type === FrameType.ERROR && headLength < ERROR_FIXED_HEAD)
    throw new FrameFormatError(`ERROR head of ${headLength} bytes, shorter than its fixed fields`);
  if (type === FrameType.REQUEST && headLength < 13)
    throw new FrameFormatError(`REQUEST head of ${headLength} bytes, shorter than its fixed fields`);
  return { bodyLength, headLength, type: type as FrameTypeValue, id };
}

const TYPE_NAMES: Record<number, string> = { 3: 'ERROR', 4: 'CANCEL', 5: 'GOAWAY' };

/** The frame from its parsed prefix, head bytes and body. */
export function parseFrame(p: FramePrefix, head: Buffer, body: Buffer): Frame {
  switch (p.type) {
    case FrameType.REQUEST:
      return parseRequest(p, head, body);
    case FrameType.RESPONSE:
      return { type: FrameType.RESPONSE, id: p.id, computeUs: finite(head.readDoubleLE(0)), body };
    case FrameType.ERROR: {
      const code = head.readUInt8(0);
      if (code === 0 || code > 16) throw new FrameFormatError(`ERROR frame with status code ${code}`);
      const flags = head.readUInt8(1);
      if (flags & ~FLAG_NOT_STARTED) throw new FrameFormatError(`ERROR frame with unknown flags ${flags}`);
      const retry = head.readUInt32LE(2);
      const message = head.toString('utf8', ERROR_FIXED_HEAD);
      const f: ErrorFrame = { type: FrameType.ERROR, id: p.id, code, message };
      if (retry !== NO_RETRY_AFTER) f.retryAfterMs = retry;
      if (flags & FLAG_NOT_STARTED) f.notStarted = true;
      return f;
    }
    case FrameType.CANCEL:
      return { type: FrameType.CANCEL, id: p.id };
    case FrameType.GOAWAY:
      return { type: FrameType.GOAWAY, id: 0, reason: head.toString('utf8') };
  }
}

const finite = (x: number): number | undefined => (Number.isFinite(x) ? x : undefined);

function parseRequest(p: FramePrefix, head: Buffer, body: Buffer): RequestFrame {
  const m = head.readUInt8(0);
  const method = METHODS[m];
  if (method === undefined) throw new FrameFormatError(`REQUEST with unknown method ${m}`);
  const c = head.readUInt8(1);
  if (c > 1) throw new FrameFormatError(`REQUEST with unknown body codec ${c}`);
  const deadline = head.readDoubleLE(2);
  if (!(deadline >= 0)) throw new FrameFormatError(`REQUEST with deadline ${deadline}`);
  let o = 10;
  const tpLen = head.readUInt8(o++);
  if (o + tpLen + 2 > head.length) throw new FrameFormatError('REQUEST traceparent runs past the head');
  const traceparent = tpLen ? head.toString('latin1', o, o + tpLen) : undefined;
  o += tpLen;
  const tsLen = head.readUInt16LE(o);
  o += 2;
  if (o + tsLen !== head.length)
    throw new FrameFormatError(`REQUEST head of ${head.length} bytes does not match its fields (${o + tsLen})`);
  const tracestate = tsLen ? head.toString('utf8', o, o + tsLen) : undefined;
  return {
    type: FrameType.REQUEST,
    id: p.id,
    method,
    codec: BODY_CODECS[c] as BodyCodec,
    deadline: deadline === 0 ? undefined : deadline,
    traceparent,
    tracestate,
    body,
  };
}
