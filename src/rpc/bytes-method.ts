import type * as grpc from '@grpc/grpc-js';

/** A (de)serializer that hands grpc-js the bytes as they are: the message was encoded, or is decoded, elsewhere. */
export const passBytes = (b: Buffer): Buffer => b;

/** A unary method whose messages are raw bytes both ways (FlatBuffers nodes, load generators, echo servers). */
export const bytesUnaryMethod = (path: string, originalName?: string): grpc.MethodDefinition<Buffer, Buffer> => ({
  path,
  requestStream: false,
  responseStream: false,
  requestSerialize: passBytes,
  requestDeserialize: passBytes,
  responseSerialize: passBytes,
  responseDeserialize: passBytes,
  ...(originalName ? { originalName } : {}),
});
