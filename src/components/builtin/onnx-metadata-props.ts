/**
 * Reads ModelProto.metadata_props (field 14) of an .onnx file. onnxruntime-node exposes no custom metadata map, and
 * components must not depend on protobuf libraries, so this walks the top-level protobuf fields by hand with
 * positional reads, seeking past the (possibly huge) graph instead of reading it.
 */
import { open } from 'node:fs/promises';

const FIELD_METADATA_PROPS = 14;
const HEADER = 20; // a tag and a length prefix, at most 10 bytes each
const MAX_ENTRY = 1 << 20;

interface Cursor {
  buf: Uint8Array;
  at: number;
}

function varint(c: Cursor): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const byte = c.buf[c.at++];
    if (byte === undefined) throw new Error('truncated varint');
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 128;
  }
  throw new Error('malformed varint');
}

/** StringStringEntryProto { string key = 1; string value = 2; } */
function decodeEntry(buf: Uint8Array): [string, string] | undefined {
  const c: Cursor = { buf, at: 0 };
  let key: string | undefined;
  let value = '';
  while (c.at < buf.length) {
    const tag = varint(c);
    const wire = tag & 7;
    if (wire !== 2) {
      if (wire === 0) varint(c);
      else if (wire === 1) c.at += 8;
      else if (wire === 5) c.at += 4;
      else throw new Error(`wire type ${wire} in metadata entry`);
      continue;
    }
    const len = varint(c);
    const text = Buffer.from(buf.buffer, buf.byteOffset + c.at, len).toString('utf8');
    c.at += len;
    if (tag >>> 3 === 1) key = text;
    else if (tag >>> 3 === 2) value = text;
  }
  return key === undefined ? undefined : [key, value];
}

/** metadata_props as a map (last value wins). Throws if the file is not a protobuf message at the top level. */
export async function readMetadataProps(file: string): Promise<Record<string, string>> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const props: Record<string, string> = {};
    const header = Buffer.alloc(HEADER);
    let pos = 0;
    while (pos < size) {
      const { bytesRead } = await fh.read(header, 0, HEADER, pos);
      const c: Cursor = { buf: header.subarray(0, bytesRead), at: 0 };
      const tag = varint(c);
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      if (wire === 0) {
        varint(c);
        pos += c.at;
      } else if (wire === 1 || wire === 5) {
        pos += c.at + (wire === 1 ? 8 : 4);
      } else if (wire === 2) {
        const len = varint(c);
        const start = pos + c.at;
        if (start + len > size) throw new Error(`truncated field ${field} at byte ${pos}`);
        if (field === FIELD_METADATA_PROPS && len <= MAX_ENTRY) {
          const entry = Buffer.alloc(len);
          await fh.read(entry, 0, len, start);
          const kv = decodeEntry(entry);
          if (kv) props[kv[0]] = kv[1];
        }
        pos = start + len;
      } else {
        throw new Error(`not an ONNX model: wire type ${wire} at byte ${pos}`);
      }
    }
    return props;
  } finally {
    await fh.close();
  }
}
