/**
 * The vocabulary of one hop, below src/graph, src/protocol and src/errors.ts so all of them can use it: the node
 * methods the walk calls and the codecs a graph can put on its hops. It imports nothing: in src/message it closed a
 * folder cycle (errors.ts -> message -> tensor -> errors.ts). src/graph/spec.ts and src/graph/node-client.ts
 * re-export it.
 */

/**
 * The Seldon node methods the executor calls: the walk's five, and sendFeedback (Seldon's SendFeedback), which the
 * feedback walk delivers along a request's recorded route.
 */
export const NODE_METHODS = [
  'predict',
  'transformInput',
  'transformOutput',
  'route',
  'aggregate',
  'sendFeedback',
] as const;
export type NodeMethod = (typeof NODE_METHODS)[number];

/**
 * Seldon DefaultData encodings over protobuf, or FlatBuffers (protos/infergraph/tensor.fbs) on its own service. The
 * one list: manifest validation, the hop wire (src/protocol/hop-codec.ts) and `bench hop --codecs` read it.
 */
export const HOP_CODECS = ['tftensor', 'tensor', 'ndarray', 'flatbuffers'] as const;
export type HopCodec = (typeof HOP_CODECS)[number];
