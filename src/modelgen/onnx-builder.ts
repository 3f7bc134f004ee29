// A small ONNX graph builder: collects nodes and float32 initializers, counts parameters, and encodes a ModelProto.
// Initializer data is kept as the Float32Array the caller filled and handed to protobufjs as a Buffer view over the
// same memory, so a 100 MB model is held once as weights plus once as the encoded file, never more.
import * as os from 'node:os';
import { AttributeType, DataType, onnxTypes } from './onnx-proto';

export const OPSET_VERSION = 13;
/** IR version 7 is what ONNX 1.8 (opset 13) writes; every ORT since 1.6 reads it. */
export const IR_VERSION = 7;

export type Attribute =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'ints'; readonly value: readonly number[] }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string };

export const attr = {
  int: (value: number): Attribute => ({ kind: 'int', value }),
  ints: (value: readonly number[]): Attribute => ({ kind: 'ints', value: [...value] }),
  float: (value: number): Attribute => ({ kind: 'float', value }),
  string: (value: string): Attribute => ({ kind: 'string', value }),
};

/** A dimension is a fixed size or a symbolic name such as 'batch_size'. */
export type Dim = number | string;

export interface ModelInfo {
  producerName: string;
  producerVersion: string;
  docString: string;
  /** Written as ModelProto.metadata_props, in the order given. */
  metadata: ReadonlyArray<readonly [string, string]>;
}

interface Initializer {
  name: string;
  dims: readonly number[];
  data: Float32Array;
}

interface ValueInfo {
  name: string;
  dims: readonly Dim[];
}

interface Node {
  name: string;
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes: Readonly<Record<string, Attribute>>;
}

const LITTLE_ENDIAN = os.endianness() === 'LE';

export class OnnxGraphBuilder {
  private readonly nodes: Node[] = [];
  private readonly initializers: Initializer[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly names = new Set<string>();
  private trainable = 0;
  private buffers = 0;

  constructor(readonly graphName: string) {}

  /** Trainable parameters as PyTorch counts them: everything added with `trainable: true`. */
  get trainableParams(): number {
    return this.trainable;
  }

  /** Non-trainable elements, e.g. BatchNorm running statistics (PyTorch buffers). */
  get bufferElements(): number {
    return this.buffers;
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  addInput(name: string, dims: readonly Dim[]): string {
    this.claim(name);
    this.inputs.push({ name, dims: [...dims] });
    return name;
  }

  /** Declares a graph output; the value itself must be produced by a node. */
  addOutput(name: string, dims: readonly Dim[]): string {
    this.outputs.push({ name, dims: [...dims] });
    return name;
  }

  addInitializer(name: string, dims: readonly number[], data: Float32Array, opts: { trainable: boolean }): string {
    const elements = dims.reduce((a, b) => a * b, 1);
    if (elements !== data.length) {
      throw new Error(`initializer ${name}: dims [${dims.join(',')}] need ${elements} values, got ${data.length}`);
    }
    this.claim(name);
    this.initializers.push({ name, dims: [...dims], data });
    if (opts.trainable) this.trainable += elements;
    else this.buffers += elements;
    return name;
  }

  /** Adds a node; its output names must be new. Returns the first output's name for chaining. */
  addNode(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attributes: Readonly<Record<string, Attribute>> = {},
    name?: string,
  ): string {
    for (const input of inputs) {
      if (!this.names.has(input)) throw new Error(`${opType} ${name ?? ''}: unknown input '${input}'`);
    }
    for (const output of outputs) this.claim(output);
    const first = outputs[0];
    if (first === undefined) throw new Error(`${opType} ${name ?? ''}: a node needs at least one output`);
    // Copied: callers build input lists incrementally and must not be able to rewrite a node already added.
    this.nodes.push({
      name: name ?? first,
      opType,
      inputs: [...inputs],
      outputs: [...outputs],
      attributes: { ...attributes },
    });
    return first;
  }

  encode(info: ModelInfo): Buffer {
    for (const output of this.outputs) {
      if (!this.names.has(output.name)) throw new Error(`graph output '${output.name}' is never produced`);
    }
    const { model } = onnxTypes();
    const message = {
      ir_version: IR_VERSION,
      opset_import: [{ domain: '', version: OPSET_VERSION }],
      producer_name: info.producerName,
      producer_version: info.producerVersion,
      doc_string: info.docString,
      graph: {
        name: this.graphName,
        doc_string: info.docString,
        node: this.nodes.map(encodeNode),
        initializer: this.initializers.map(encodeInitializer),
        input: this.inputs.map(encodeValueInfo),
        output: this.outputs.map(encodeValueInfo),
      },
      metadata_props: info.metadata.map(([key, value]) => ({ key, value })),
    };
    // encode() takes plain objects; skipping fromObject/verify avoids a second walk over 100 MB of weights.
    const bytes = model.encode(message).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`duplicate value name '${name}'`);
    this.names.add(name);
  }
}

function encodeNode(node: Node): object {
  return {
    name: node.name,
    op_type: node.opType,
    input: node.inputs,
    output: node.outputs,
    attribute: Object.entries(node.attributes).map(([name, a]) => encodeAttribute(name, a)),
  };
}

function encodeAttribute(name: string, a: Attribute): object {
  switch (a.kind) {
    case 'int':
      return { name, type: AttributeType.INT, i: a.value };
    case 'ints':
      return { name, type: AttributeType.INTS, ints: a.value };
    case 'float':
      return { name, type: AttributeType.FLOAT, f: a.value };
    case 'string':
      return { name, type: AttributeType.STRING, s: Buffer.from(a.value, 'utf8') };
  }
}

function encodeInitializer(init: Initializer): object {
  return { name: init.name, dims: init.dims, data_type: DataType.FLOAT, raw_data: littleEndianBytes(init.data) };
}

/** ONNX raw_data is little-endian; on the (rare) big-endian host the bytes are swapped into a copy. */
function littleEndianBytes(data: Float32Array): Buffer {
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return LITTLE_ENDIAN ? view : Buffer.from(view).swap32();
}

function encodeValueInfo(value: ValueInfo): object {
  return {
    name: value.name,
    type: {
      tensor_type: {
        elem_type: DataType.FLOAT,
        shape: { dim: value.dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}
