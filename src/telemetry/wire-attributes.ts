import type { WireSeldonMessage, WireSeldonMessageList, WireTensorProto } from '../protocol/seldon/wire-types';
import { dtypeFromTf } from '../tensor/dtype';

/**
 * Span attributes that describe a hop's payload, read from the message objects the interceptors see. Only what is
 * O(1) to know. Seldon messages: the tensor's dtype and shape, and the bytes of the payload (tensor_content,
 * binData, ...), which dominate the message — a grpc-js interceptor sees objects, not the serialized size, and
 * re-encoding to learn it would cost as much as the hop's own serialization. FlatBuffers messages are already bytes:
 * their exact size.
 */

export type Attributes = Record<string, string | number | boolean | number[]>;

const byteLength = (b: Uint8Array | undefined): number => b?.byteLength ?? 0;

function tfDtype(tf: WireTensorProto): string {
  const raw = tf.dtype;
  if (typeof raw === 'number') return dtypeFromTf(raw) ?? `tf:${raw}`;
  if (typeof raw === 'string') {
    // proto-loader decodes enums as names (DT_FLOAT); callers build requests with numbers. Name both the same way.
    const n = raw.replace(/^DT_/, '').toLowerCase();
    return n === 'float' ? 'float32' : n === 'double' ? 'float64' : n;
  }
  return 'unknown';
}

function describeOne(m: WireSeldonMessage | undefined, prefix: string, out: Attributes): number {
  if (!m) return 0;
  const d = m.data;
  if (d?.tftensor) {
    const tf = d.tftensor;
    out[`${prefix}.encoding`] = 'tftensor';
    out[`${prefix}.dtype`] = tfDtype(tf);
    out[`${prefix}.shape`] = (tf.tensor_shape?.dim ?? []).map((x) => Number(x.size ?? 0));
    return byteLength(tf.tensor_content) || (tf.float_val?.length ?? 0) * 4 + (tf.double_val?.length ?? 0) * 8;
  }
  if (d?.tensor) {
    out[`${prefix}.encoding`] = 'tensor';
    out[`${prefix}.dtype`] = 'float64';
    out[`${prefix}.shape`] = d.tensor.shape ?? [];
    return (d.tensor.values?.length ?? 0) * 8;
  }
  if (d?.ndarray) {
    out[`${prefix}.encoding`] = 'ndarray';
    return 0;
  }
  if (m.binData) {
    out[`${prefix}.encoding`] = 'binData';
    return byteLength(m.binData);
  }
  if (m.strData !== undefined) {
    out[`${prefix}.encoding`] = 'strData';
    return Buffer.byteLength(m.strData);
  }
  if (m.jsonData) out[`${prefix}.encoding`] = 'jsonData';
  return 0;
}

/** `prefix` is e.g. infergraph.request; a SeldonMessageList (Aggregate) sums its members and names the first. */
export function payloadAttributes(message: unknown, prefix: string): Attributes {
  const out: Attributes = {};
  // The FlatBuffers codec hands grpc-js the encoded message: its size is known exactly, its contents not cheaply.
  if (message instanceof Uint8Array)
    return { [`${prefix}.encoding`]: 'flatbuffers', [`${prefix}.message_bytes`]: message.byteLength };
  if (!message || typeof message !== 'object') return out;
  const list = (message as WireSeldonMessageList).seldonMessages;
  if (Array.isArray(list)) {
    let bytes = 0;
    list.forEach((m, i) => (bytes += describeOne(m, prefix, i === 0 ? out : {})));
    out[`${prefix}.messages`] = list.length;
    out[`${prefix}.payload_bytes`] = bytes;
    return out;
  }
  out[`${prefix}.payload_bytes`] = describeOne(message, prefix, out);
  return out;
}
