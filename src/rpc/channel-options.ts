import type * as grpc from '@grpc/grpc-js';

/**
 * gRPC channel options every server and client of a graph derives from the manifest's message limits
 * (spec.maxMessageBytes, a node's runtime.maxMessageBytes): grpc-js's default 4 MiB is smaller than one ImageNet
 * batch, so both directions are set on both sides.
 */
export function channelLimits(maxMessageBytes: number): grpc.ChannelOptions {
  return {
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
  };
}
