import { codeName, toInferError } from '../errors';
import { httpStatusOf } from '../http/status';
import type { InferMessage, JsonValue, Payload } from '../message/message';
import { seldonErrorJson, seldonToJson } from '../protocol/seldon/json';
import { answerOutputs, type V2Output } from '../protocol/v2/infer';
import { v2TypeOf } from '../protocol/v2/datatype';
import { byteLength, toNumbers, type Tensor } from '../tensor/tensor';

/**
 * A logged message's body: the payload as it travelled, in the JSON of the protocol it travelled in — Seldon's
 * SeldonMessage JSON (tensors in the encoding they carried: tftensor bytes base64, or tensor/ndarray values) or the
 * Open Inference Protocol's JSON (V2 front doors). Binary data (a JPEG) is base64, its media type sniffed from its
 * first bytes. A payload above the logger's cap is cut to its first `maxBytes` bytes (a tensor to its first elements,
 * flattened) and the event says so. Nothing here runs on the request path: the sender encodes after the answer.
 */

export type BodyProtocol = 'seldon' | 'v2';

export interface EncodedBody {
  /** The JSON body of the event. */
  data: Record<string, unknown>;
  /** Bytes of the payload before any cut (tensor data, binData bytes, string bytes). */
  payloadBytes: number;
  truncated: boolean;
  /** A binData payload's media type (image/jpeg …), sniffed; undefined for other payloads. */
  binaryType?: string;
}

/** The media type of binary data from its magic bytes; application/octet-stream when unknown. */
export function sniffMediaType(b: Uint8Array): string {
  const at = (i: number): number => b[i] ?? -1;
  if (at(0) === 0xff && at(1) === 0xd8 && at(2) === 0xff) return 'image/jpeg';
  if (at(0) === 0x89 && at(1) === 0x50 && at(2) === 0x4e && at(3) === 0x47) return 'image/png';
  if (at(0) === 0x47 && at(1) === 0x49 && at(2) === 0x46 && at(3) === 0x38) return 'image/gif';
  if (at(0) === 0x52 && at(1) === 0x49 && at(2) === 0x46 && at(3) === 0x46 && at(8) === 0x57 && at(9) === 0x45)
    return 'image/webp';
  return 'application/octet-stream';
}

export function payloadBytes(p: Payload): number {
  switch (p.kind) {
    case 'tensor':
      return byteLength(p.tensor);
    case 'bin':
      return p.data.byteLength;
    case 'str':
      return Buffer.byteLength(p.data);
    case 'json':
      return Buffer.byteLength(JSON.stringify(p.data));
    case 'none':
      return 0;
  }
}

/** The payload cut to about `maxBytes` bytes: a tensor to its first elements (flat), bytes and text to their start. */
export function truncatePayload(p: Payload, maxBytes: number): Payload {
  switch (p.kind) {
    case 'tensor':
      return { ...p, tensor: headOfTensor(p.tensor, maxBytes) };
    case 'bin':
      return { kind: 'bin', data: p.data.subarray(0, maxBytes) };
    case 'str':
      return { kind: 'str', data: Buffer.from(p.data).subarray(0, maxBytes).toString('utf8') };
    case 'json':
      // JSON cannot be cut and stay JSON: its text's start travels as strData.
      return { kind: 'str', data: Buffer.from(JSON.stringify(p.data)).subarray(0, maxBytes).toString('utf8') };
    case 'none':
      return p;
  }
}

function headOfTensor(t: Tensor, maxBytes: number): Tensor {
  if (t.dtype === 'string') {
    const data: Uint8Array[] = [];
    let left = maxBytes;
    for (const s of t.data) {
      if (left <= 0) break;
      data.push(s.subarray(0, left));
      left -= s.byteLength;
    }
    return { dtype: 'string', shape: [data.length], data };
  }
  const n = Math.min(t.data.length, Math.floor(maxBytes / t.data.BYTES_PER_ELEMENT));
  return { dtype: t.dtype, shape: [n], data: t.data.subarray(0, n) };
}

/** A message (or a combiner's list of them) as the event's body, cut to `maxBytes` of payload. */
export function encodeBody(
  msg: InferMessage | InferMessage[],
  protocol: BodyProtocol,
  maxBytes: number,
  role: 'request' | 'response',
): EncodedBody {
  const list = Array.isArray(msg) ? msg : [msg];
  let left = maxBytes;
  let total = 0;
  let truncated = false;
  let binaryType: string | undefined;
  const cut = list.map((m) => {
    const n = payloadBytes(m.payload);
    total += n;
    if (m.payload.kind === 'bin') binaryType ??= sniffMediaType(m.payload.data);
    if (n <= left) {
      left -= n;
      return m;
    }
    truncated = true;
    const payload = truncatePayload(m.payload, Math.max(0, left));
    left = 0;
    return { ...m, payload };
  });
  const data = Array.isArray(msg)
    ? { seldonMessages: cut.map((m) => seldonJson(m)) }
    : protocol === 'v2'
      ? v2Json(cut[0] as InferMessage, role)
      : seldonJson(cut[0] as InferMessage);
  return { data, payloadBytes: total, truncated, ...(binaryType ? { binaryType } : {}) };
}

const seldonJson = (m: InferMessage): Record<string, unknown> =>
  seldonToJson(m, m.payload.kind === 'tensor' ? (m.payload.encoding ?? 'tftensor') : 'tftensor');

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** BYTES elements as text when they are UTF-8, else base64 (the tensor's parameters say content_type base64). */
function bytesData(data: Uint8Array[]): { data: string[]; base64: boolean } {
  try {
    return { data: data.map((b) => UTF8.decode(b)), base64: false };
  } catch {
    return { data: data.map((b) => Buffer.from(b).toString('base64')), base64: true };
  }
}

function v2Tensor(o: V2Output, binaryType?: string): Record<string, unknown> {
  const t = o.tensor;
  const head = { name: o.name, datatype: v2TypeOf(t.dtype).name, shape: t.shape };
  if (t.dtype !== 'string') {
    const values: JsonValue[] = t.dtype === 'bool' ? toNumbers(t).map(Boolean) : toNumbers(t);
    return { ...head, data: values };
  }
  const b = bytesData(t.data);
  const parameters: Record<string, string> = {};
  if (b.base64) parameters.content_type = 'base64';
  if (binaryType) parameters.media_type = binaryType;
  return { ...head, ...(Object.keys(parameters).length ? { parameters } : {}), data: b.data };
}

/** The Open Inference Protocol's JSON: a request's inputs, or an answer's outputs, id = the puid. */
function v2Json(m: InferMessage, role: 'request' | 'response'): Record<string, unknown> {
  const binaryType = m.payload.kind === 'bin' ? sniffMediaType(m.payload.data) : undefined;
  const tensors = answerOutputs(m).map((o) =>
    v2Tensor(role === 'request' ? { ...o, name: inputName(m) } : o, binaryType),
  );
  return role === 'request' ? { id: m.meta.puid, inputs: tensors } : { id: m.meta.puid, outputs: tensors };
}

const inputName = (m: InferMessage): string =>
  (m.payload.kind === 'tensor' ? m.payload.names?.[0] : undefined) ?? 'input';

/** A failed request's response body: Seldon's failure status, or V2's {error}. */
export function errorBody(err: unknown, protocol: BodyProtocol): Record<string, unknown> {
  const e = toInferError(err);
  return protocol === 'v2' ? { error: e.message } : seldonErrorJson(httpStatusOf(e.code), e.message, codeName(e.code));
}
