// Loads protos/onnx/onnx.proto (our subset of the official schema) once. Field names are kept as written in the
// .proto (snake_case), so the objects the builder hands to protobufjs read like the ONNX spec.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';

const RELATIVE_PROTO = path.join('protos', 'onnx', 'onnx.proto');

/** ONNX TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT64: 7 } as const;

/** ONNX AttributeProto.AttributeType values used here. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

export interface OnnxTypes {
  model: protobuf.Type;
  stringStringEntry: protobuf.Type;
}

let cached: OnnxTypes | undefined;

/**
 * The compiled module lives in dist/src/modelgen and the source in src/modelgen, so the schema is found by walking
 * up to the project root rather than by a fixed number of '..'.
 */
function findProto(): string {
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, RELATIVE_PROTO);
    if (fs.existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find ${RELATIVE_PROTO} above ${__dirname}`);
    dir = parent;
  }
}

export function onnxTypes(): OnnxTypes {
  if (cached === undefined) {
    const root = new protobuf.Root();
    root.loadSync(findProto(), { keepCase: true });
    root.resolveAll();
    cached = {
      model: root.lookupType('onnx.ModelProto'),
      stringStringEntry: root.lookupType('onnx.StringStringEntryProto'),
    };
  }
  return cached;
}
