import type { MethodDefinition } from '@grpc/proto-loader';
import type { HopCodec, NodeMethod } from '../message/hop';
import type { InferMessage, TensorEncoding } from '../message/message';
import { decodeFlatMessage, encodeFlatMessage, encodeFlatMessageList } from './flatbuffers';
import { FLAT_RPC_METHOD, flatMethodPath, type FlatRpc } from './flatbuffers-service';
import { seldonProto } from './proto-loader';
import { fromWire, toWire } from './seldon-message';
import type { WireSeldonMessage } from './wire-types';

/**
 * How the executor puts one node call on the wire for a graph's hop codec. The three Seldon codecs are protobuf
 * SeldonMessages on Seldon's method paths (differing only in how DefaultData holds the tensor); `flatbuffers` is
 * infergraph.v1.FlatBuffersNode. The steps are split the way grpc-js needs them: `encode` before the call (so an
 * unencodable input fails as the node call's own error), `serialize`/`deserialize` inside grpc-js, `decode` after
 * (so a bad reply is an InferError naming the hop rather than grpc-js's generic parse failure).
 */
export interface HopWire {
  path: string;
  encode(input: InferMessage | InferMessage[]): unknown;
  // Properties, not methods: grpc-js calls these detached from the object.
  serialize: (request: unknown) => Buffer;
  deserialize: (bytes: Buffer) => unknown;
  decode(reply: unknown): InferMessage;
}

const SELDON: Record<NodeMethod, [service: string, rpc: string]> = {
  predict: ['seldon.protos.Model', 'Predict'],
  transformInput: ['seldon.protos.Transformer', 'TransformInput'],
  transformOutput: ['seldon.protos.OutputTransformer', 'TransformOutput'],
  route: ['seldon.protos.Router', 'Route'],
  aggregate: ['seldon.protos.Combiner', 'Aggregate'],
};

const FLAT = Object.fromEntries(Object.entries(FLAT_RPC_METHOD).map(([rpc, m]) => [m, rpc])) as Record<
  NodeMethod,
  FlatRpc
>;

/** The Seldon DefaultData encoding used for tensors where a Seldon message is still needed (external API, replies). */
export const seldonEncoding = (codec: HopCodec): TensorEncoding => (codec === 'flatbuffers' ? 'tftensor' : codec);

/** "Model/Predict" for messages. */
export const hopMethodLabel = (codec: HopCodec, method: NodeMethod): string =>
  codec === 'flatbuffers'
    ? `FlatBuffersNode/${FLAT[method]}`
    : `${SELDON[method][0].replace('seldon.protos.', '')}/${SELDON[method][1]}`;

const cache = new Map<string, HopWire>();

export function hopWire(codec: HopCodec, method: NodeMethod): HopWire {
  const key = `${codec}:${method}`;
  let w = cache.get(key);
  if (!w) {
    w = codec === 'flatbuffers' ? flatWire(method) : seldonWire(codec, method);
    cache.set(key, w);
  }
  return w;
}

function flatWire(method: NodeMethod): HopWire {
  const pass = (b: unknown): Buffer => b as Buffer;
  return {
    path: flatMethodPath(FLAT[method]),
    encode: (input) => (Array.isArray(input) ? encodeFlatMessageList(input) : encodeFlatMessage(input)),
    serialize: pass,
    deserialize: pass,
    decode: (reply) => decodeFlatMessage(reply as Buffer),
  };
}

function seldonWire(encoding: TensorEncoding, method: NodeMethod): HopWire {
  const [service, rpc] = SELDON[method];
  const def = (seldonProto().def[service] as Record<string, MethodDefinition<object, object>>)[rpc] as MethodDefinition<
    object,
    object
  >;
  return {
    path: def.path,
    encode: (input) =>
      Array.isArray(input) ? { seldonMessages: input.map((m) => toWire(m, encoding)) } : toWire(input, encoding),
    serialize: def.requestSerialize as (request: unknown) => Buffer,
    deserialize: def.responseDeserialize,
    decode: (reply) => fromWire(reply as WireSeldonMessage),
  };
}

/**
 * Seldon.Predict on the executor's external API, for load generators: encode and serialize once, then send the same
 * bytes many times so the client spends its CPU on the calls and not on re-encoding (it shares the cores).
 */
export function executorPredictWire(encoding: TensorEncoding = 'tftensor'): HopWire {
  const def = (seldonProto().def['seldon.protos.Seldon'] as Record<string, MethodDefinition<object, object>>)
    .Predict as MethodDefinition<object, object>;
  return {
    path: def.path,
    encode: (input) => toWire(input as InferMessage, encoding),
    serialize: def.requestSerialize as (request: unknown) => Buffer,
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
}

const serverCache = new Map<string, HopServerWire>();

export function hopServerWire(flat: boolean, method: NodeMethod): HopServerWire {
  const key = `${flat}:${method}`;
  let w = serverCache.get(key);
  if (!w) {
    if (flat) {
      const pass = (b: unknown): Buffer => b as Buffer;
      w = { path: flatMethodPath(FLAT[method]), deserialize: pass, serialize: pass };
    } else {
      const [service, rpc] = SELDON[method];
      type Def = MethodDefinition<object, object>;
      const def = (seldonProto().def[service] as Record<string, Def>)[rpc] as Def;
      w = {
        path: def.path,
        deserialize: def.requestDeserialize,
        serialize: def.responseSerialize,
      };
    }
    serverCache.set(key, w);
  }
  return w;
}
