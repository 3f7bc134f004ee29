import type * as grpc from '@grpc/grpc-js';
import type { NodeMethod } from '../../hop/vocabulary';
import { bytesUnaryMethod } from '../../rpc/bytes-method';

/**
 * The gRPC service that carries FlatBuffers hop messages (protos/infergraph/tensor.fbs): infergraph.v1.FlatBuffersNode.
 * Its own method paths, not Seldon's, so one node port serves both codecs and a Seldon client can never be handed
 * a FlatBuffer. The (de)serialisers pass bytes through: decoding happens in the handler, where a malformed message
 * becomes INVALID_ARGUMENT naming the problem (a failing deserialiser would only give grpc-js's generic INTERNAL).
 */
export const FLAT_SERVICE = 'infergraph.v1.FlatBuffersNode';

export const FLAT_RPCS = ['Predict', 'TransformInput', 'TransformOutput', 'Route', 'Aggregate'] as const;
export type FlatRpc = (typeof FLAT_RPCS)[number];

/** The walk's node method each rpc carries. */
export const FLAT_RPC_METHOD: Readonly<Record<FlatRpc, Exclude<NodeMethod, 'sendFeedback'>>> = {
  Predict: 'predict',
  TransformInput: 'transformInput',
  TransformOutput: 'transformOutput',
  Route: 'route',
  Aggregate: 'aggregate',
};

export const flatMethodPath = (rpc: FlatRpc): string => `/${FLAT_SERVICE}/${rpc}`;

export function flatNodeService(): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
  for (const rpc of FLAT_RPCS) {
    def[rpc] = bytesUnaryMethod(flatMethodPath(rpc), rpc);
  }
  return def;
}
