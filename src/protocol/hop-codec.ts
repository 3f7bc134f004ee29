import type { HopCodec, NodeMethod } from '../hop/vocabulary';
import type { FeedbackMessage } from '../message/feedback';
import type { InferMessage, TensorEncoding } from '../message/message';
import { feedbackToWire } from './seldon/feedback';
import { decodeFlatMessage, encodeFlatMessage, encodeFlatMessageList } from './flatbuffers/codec';
import { FLAT_RPC_METHOD, flatMethodPath, type FlatRpc } from './flatbuffers/service';
import { seldonMethod } from './seldon/proto-loader';
import { fromWire, toWire } from './seldon/seldon-message';
import { joinParts, rawAwareDeserializer, seldonListParts, seldonMessageParts } from './seldon/raw-payload';
import type { WireSeldonMessage, WireSeldonMessageList } from './seldon/wire-types';

/**
 * How the executor puts one node call on the wire for a graph's hop codec. The three Seldon codecs are protobuf
 * SeldonMessages on Seldon's method paths (differing only in how DefaultData holds the tensor); `flatbuffers` is
 * infergraph.v1.FlatBuffersNode. The steps are split the way grpc-js needs them: `encode` before the call (so an
 * unencodable input fails as the node call's own error), `serialize`/`deserialize` inside grpc-js, `decode` after
 * (so a bad reply is an InferError naming the hop rather than grpc-js's generic parse failure).
 */
export interface HopWire {
  path: string;
  encode(input: InferMessage | InferMessage[] | FeedbackMessage): unknown;
  // Properties, not methods: grpc-js calls these detached from the object.
  serialize: (request: unknown) => Buffer;
  /** The serialized request as buffers to write in order (their concatenation is `serialize`'s result), so large
   *  tensors and binData go out without a copy on transports that can write several buffers (frames). */
  serializeParts: (request: unknown) => Buffer[];
  deserialize: (bytes: Buffer) => unknown;
  decode(reply: unknown): InferMessage;
}

const SELDON: Record<NodeMethod, [service: string, rpc: string]> = {
  predict: ['seldon.protos.Model', 'Predict'],
  transformInput: ['seldon.protos.Transformer', 'TransformInput'],
  transformOutput: ['seldon.protos.OutputTransformer', 'TransformOutput'],
  route: ['seldon.protos.Router', 'Route'],
  aggregate: ['seldon.protos.Combiner', 'Aggregate'],
  // Generic: every node serves it (ours, and Seldon's Python wrapper), whatever its type; Model and Router serve
  // SendFeedback too, but a node's type would then pick the path.
  sendFeedback: ['seldon.protos.Generic', 'SendFeedback'],
};

/** FlatBuffersNode has no feedback rpc: sendFeedback travels as Seldon protobuf whatever the graph's codec. */
const FLAT = Object.fromEntries(Object.entries(FLAT_RPC_METHOD).map(([rpc, m]) => [m, rpc])) as Record<
  Exclude<NodeMethod, 'sendFeedback'>,
  FlatRpc
>;

/** Whether `method` goes as a FlatBuffer on a graph of `codec`. */
export const flatOnHop = (codec: HopCodec, method: NodeMethod): boolean =>
  codec === 'flatbuffers' && method !== 'sendFeedback';

/** The Seldon DefaultData encoding used for tensors where a Seldon message is still needed (external API, replies). */
export const seldonEncoding = (codec: HopCodec): TensorEncoding => (codec === 'flatbuffers' ? 'tftensor' : codec);

/**
 * The codec for hops to a user's Seldon-protocol container (runtime.container): Seldon's Python wrapper decodes
 * `tftensor` only when TensorFlow is installed in the image (seldon_core.imports_helper) and serves no FlatBuffers,
 * so those graphs' tensors travel to containers as `tensor` (doubles); `ndarray` and `tensor` stay as they are.
 */
export const containerCodec = (codec: HopCodec): 'tensor' | 'ndarray' => (codec === 'ndarray' ? 'ndarray' : 'tensor');

/** "Model/Predict" for messages. */
export const hopMethodLabel = (codec: HopCodec, method: NodeMethod): string =>
  method !== 'sendFeedback' && codec === 'flatbuffers'
    ? `FlatBuffersNode/${FLAT[method]}`
    : `${SELDON[method][0].replace('seldon.protos.', '')}/${SELDON[method][1]}`;

const cache: Partial<Record<HopCodec, Partial<Record<NodeMethod, HopWire>>>> = {};

export function hopWire(codec: HopCodec, method: NodeMethod): HopWire {
  const byMethod = (cache[codec] ??= {});
  if (method === 'sendFeedback') return (byMethod[method] ??= feedbackWire(seldonEncoding(codec)));
  return (byMethod[method] ??= codec === 'flatbuffers' ? flatWire(method) : seldonWire(codec, method));
}

function feedbackWire(encoding: TensorEncoding): HopWire {
  const def = seldonMethod(...SELDON.sendFeedback);
  const serialize = def.requestSerialize as (r: unknown) => Buffer;
  return {
    path: def.path,
    encode: (input) => feedbackToWire(input as FeedbackMessage, encoding),
    serialize,
    serializeParts: (r) => [serialize(r)],
    deserialize: rawAwareDeserializer(def.responseDeserialize),
    decode: (reply) => fromWire(reply as WireSeldonMessage),
  };
}

function flatWire(method: Exclude<NodeMethod, 'sendFeedback'>): HopWire {
  const pass = (b: unknown): Buffer => b as Buffer;
  return {
    path: flatMethodPath(FLAT[method]),
    encode: (input) => (Array.isArray(input) ? encodeFlatMessageList(input) : encodeFlatMessage(input as InferMessage)),
    serialize: pass,
    serializeParts: (b) => [b as Buffer],
    deserialize: pass,
    decode: (reply) => decodeFlatMessage(reply as Buffer),
  };
}

function seldonWire(encoding: TensorEncoding, method: Exclude<NodeMethod, 'sendFeedback'>): HopWire {
  const [service, rpc] = SELDON[method];
  const def = seldonMethod(service, rpc);
  const serialize = def.requestSerialize;
  // protobufjs's SeldonMessage serializer (Model/Predict's request type), for the members of an Aggregate list
  const one = seldonMethod('seldon.protos.Model', 'Predict').requestSerialize;
  const serializeParts =
    method === 'aggregate'
      ? (r: unknown): Buffer[] => seldonListParts(r as WireSeldonMessageList, serialize, one)
      : (r: unknown): Buffer[] => seldonMessageParts(r as WireSeldonMessage, serialize);
  return {
    path: def.path,
    encode: (input) =>
      Array.isArray(input)
        ? { seldonMessages: input.map((m) => toWire(m, encoding)) }
        : toWire(input as InferMessage, encoding),
    serialize: (r) => joinParts(serializeParts(r)),
    serializeParts,
    // Replies are SeldonMessages; a plain tftensor payload stays raw until something reads it (seldon/raw-payload.ts).
    deserialize: rawAwareDeserializer(def.responseDeserialize),
    decode: (reply) => fromWire(reply as WireSeldonMessage),
  };
}

/**
 * Seldon.Predict on the executor's external API, for load generators: encode and serialize once, then send the same
 * bytes many times so the client spends its CPU on the calls and not on re-encoding (it shares the cores).
 */
export function executorPredictWire(encoding: TensorEncoding = 'tftensor'): HopWire {
  const def = seldonMethod('seldon.protos.Seldon', 'Predict');
  return {
    path: def.path,
    encode: (input) => toWire(input as InferMessage, encoding),
    serialize: def.requestSerialize as (request: unknown) => Buffer,
    serializeParts: (r) => [def.requestSerialize(r as object)],
    deserialize: def.responseDeserialize,
    decode: (reply) => fromWire(reply as WireSeldonMessage),
  };
}

/**
 * The node's side of one hop method outside gRPC (the framed transport): request bytes to the wire object the gRPC
 * service would have received, and the reply object to bytes, so both transports carry identical messages.
 */
export interface HopServerWire {
  /** the gRPC method path, for span names */
  path: string;
  deserialize(bytes: Buffer): unknown;
  serialize(reply: unknown): Buffer;
  /** the reply as buffers to write in order, a large tensor uncopied (see HopWire.serializeParts) */
  serializeParts(reply: unknown): Buffer[];
}

// Looked up on every request a node answers: by codec, then method, without building a key.
const serverCache: Record<'flat' | 'seldon', Partial<Record<NodeMethod, HopServerWire>>> = { flat: {}, seldon: {} };

export function hopServerWire(flat: boolean, method: NodeMethod): HopServerWire {
  const byMethod = serverCache[flat ? 'flat' : 'seldon'];
  return (byMethod[method] ??= flat && method !== 'sendFeedback' ? flatServerWire(method) : seldonServerWire(method));
}

function flatServerWire(method: Exclude<NodeMethod, 'sendFeedback'>): HopServerWire {
  const pass = (b: unknown): Buffer => b as Buffer;
  return { path: flatMethodPath(FLAT[method]), deserialize: pass, serialize: pass, serializeParts: (b) => [pass(b)] };
}

function seldonServerWire(method: NodeMethod): HopServerWire {
  const def = seldonMethod(...SELDON[method]);
  const serialize = def.responseSerialize;
  return {
    path: def.path,
    deserialize: def.requestDeserialize,
    serialize,
    serializeParts: (r) => seldonMessageParts(r as WireSeldonMessage, serialize),
  };
}
