// Reads ModelProto.doc_string and metadata_props from an .onnx file without loading the graph. protobufjs writes
// fields in field-number order, so metadata_props (14) comes after the ~100 MB graph (7); walking the top-level
// fields with positional reads and seeking past the graph costs a few small reads instead of the whole file.
import * as fs from 'node:fs/promises';
import { onnxTypes } from './onnx-proto';

export interface OnnxModelInfo {
  docString?: string;
  producerName?: string;
  /** metadata_props as a map; a repeated key keeps its last value. */
  metadata: Record<string, string>;
}

const FIELD_PRODUCER_NAME = 2;
const FIELD_DOC_STRING = 6;
const FIELD_METADATA_PROPS = 14;
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;
/** A tag plus a length prefix take at most 10 + 10 bytes. */
const HEADER_READ = 20;
/** Top-level strings we decode are short; anything larger is not ours and not worth reading. */
const MAX_STRING_FIELD = 1 << 20;

/** Throws if the file is not a protobuf message at the top level (e.g. truncated or not ONNX). */
export async function readOnnxMetadata(file: string): Promise<OnnxModelInfo> {
  const handle = await fs.open(file, 'r');
  try {
    const { size } = await handle.stat();
    const info: OnnxModelInfo = { metadata: {} };
    const header = Buffer.alloc(HEADER_READ);
    let pos = 0;
    while (pos < size) {
      const { bytesRead } = await handle.read(header, 0, HEADER_READ, pos);
      const cursor = { buf: header.subarray(0, bytesRead), at: 0 };
      const tag = readVarint(cursor, file);
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      if (wire === WIRE_VARINT) {
        readVarint(cursor, file);
        pos += cursor.at;
      } else if (wire === WIRE_FIXED64 || wire === WIRE_FIXED32) {
        pos += cursor.at + (wire === WIRE_FIXED64 ? 8 : 4);
      } else if (wire === WIRE_LENGTH_DELIMITED) {
        const length = readVarint(cursor, file);
        const start = pos + cursor.at;
        if (start + length > size) throw new Error(`${file}: truncated protobuf field ${field}`);
        const wanted = field === FIELD_METADATA_PROPS || field === FIELD_DOC_STRING || field === FIELD_PRODUCER_NAME;
        if (wanted && length <= MAX_STRING_FIELD) {
          const payload = Buffer.alloc(length);
          await handle.read(payload, 0, length, start);
          if (field === FIELD_METADATA_PROPS) {
            const entry = onnxTypes().stringStringEntry.decode(payload) as unknown as { key?: string; value?: string };
            if (entry.key !== undefined) info.metadata[entry.key] = entry.value ?? '';
          } else if (field === FIELD_DOC_STRING) {
            info.docString = payload.toString('utf8');
          } else {
            info.producerName = payload.toString('utf8');
          }
        }
        pos = start + length;
      } else {
        throw new Error(`${file}: not an ONNX model (wire type ${wire} at byte ${pos})`);
      }
    }
    return info;
  } finally {
    await handle.close();
  }
}

function readVarint(cursor: { buf: Buffer; at: number }, file: string): number {
  let value = 0;
  let scale = 1;
  for (;;) {
    const byte = cursor.buf[cursor.at];
    if (byte === undefined) throw new Error(`${file}: truncated protobuf varint`);
    cursor.at++;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 128;
    if (scale > 2 ** 63) throw new Error(`${file}: malformed protobuf varint`);
  }
}
