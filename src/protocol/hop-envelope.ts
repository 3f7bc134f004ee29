import { allNodes, type GraphSpec, type NodeSpec } from '../graph/spec';

/**
 * How much a hop may carry beyond the message limit, so that a request the executor accepts fits every hop it
 * makes (issue 22: a binData of 16 MiB - 64 bytes passed the executor and failed at jpeg-input, whose hop added 28
 * bytes). spec.maxMessageBytes is what a client may send, checked once, at the executor's door. On the way the
 * executor adds an envelope: the meta it merges in (a generated puid, requestPath and routing entries, the tags and
 * metrics nodes add) and the framing of the hop codec. Every hop, both directions, both ends and both transports
 * (gRPC channel options, frame readers and writers) therefore allows the node's runtime.maxMessageBytes plus this
 * bound; frame heads are outside the body a frame's limit counts. A node's answer is held to the same figure, so an
 * answer bigger than the node's input (a decoder, a type widening) fails at that node, RESOURCE_EXHAUSTED naming it,
 * once it exceeds the node's limit plus the envelope.
 */

/**
 * Message framing of either hop codec, beyond the payload's own bytes and the meta counted below: SeldonMessage field
 * keys and length varints (meta ≤ 4 bytes, binData ≤ 6, DefaultData and TensorProto wrappers a few tens), or a
 * FlatBuffer's root, vtables and alignment padding: a few tens of bytes; 256 allowed.
 */
const FRAMING_BYTES = 256;
/** A generated puid: 36 characters, its key and length, padding. */
const PUID_BYTES = 64;
/**
 * Tags and metrics that nodes add travel on to later hops next to the next node's payload. A node's own additions
 * count against its own answer's limit; what earlier nodes added is carried on top of that, up to this much.
 */
export const NODE_META_ALLOWANCE_BYTES = 16 * 1024;

/** Bound on one map entry of meta (string key, string or int value) in either codec: 3 bytes per byte + 32. */
const entryBytes = (key: string, value: string): number => 3 * (Buffer.byteLength(key) + Buffer.byteLength(value)) + 32;

/** Bytes a hop of this graph may carry beyond the receiving node's message limit. */
export function hopEnvelopeBytes(graph: GraphSpec): number {
  let meta = PUID_BYTES + NODE_META_ALLOWANCE_BYTES;
  for (const n of allNodes(graph)) {
    meta += entryBytes(n.name, n.endpoint ?? n.implementation); // requestPath
    if (n.type === 'ROUTER') meta += entryBytes(n.name, '-2147483648'); // routing
  }
  return FRAMING_BYTES + meta;
}

/** The limit of a hop to `node`, both directions, both transports: its message limit plus the envelope. */
export function hopLimitBytes(graph: GraphSpec, node: NodeSpec): number {
  return node.runtime.maxMessageBytes + hopEnvelopeBytes(graph);
}
