import type * as grpc from '@grpc/grpc-js';

/**
 * gRPC channel options every server and client of a graph derives from the manifest's message limits
 * (spec.maxMessageBytes, a node's runtime.maxMessageBytes): grpc-js's default 4 MiB is smaller than one ImageNet
 * batch, so both directions are set on both sides. Hops allow the node's limit plus the envelope the executor adds
 * (src/protocol/hop-envelope.ts); the executor's own answers may carry that envelope beyond the request limit.
 */
export function channelLimits(maxReceiveBytes: number, maxSendBytes = maxReceiveBytes): grpc.ChannelOptions {
  return {
    'grpc.max_receive_message_length': maxReceiveBytes,
    'grpc.max_send_message_length': maxSendBytes,
  };
}
