import * as grpc from '@grpc/grpc-js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PREDICTOR_HEADER, type PlaneRequest } from './data-plane';

/**
 * What a front door hands the data plane about predictors: the one the caller pinned with PREDICTOR_HEADER (gRPC
 * metadata or HTTP header; to test a canary), and where to say which one walked the request (the answer's response
 * metadata or HTTP header of the same name). Seldon's executor serves one predictor and has no such header: under
 * Seldon the split happened in the service mesh in front of it.
 */
type Pin = Pick<PlaneRequest<unknown>, 'predictor' | 'served'>;

export function grpcPin(call: grpc.ServerUnaryCall<unknown, unknown>): Pin {
  const pinned = call.metadata.get(PREDICTOR_HEADER)[0];
  return {
    ...(pinned !== undefined ? { predictor: String(pinned) } : {}),
    served: (name) => {
      const md = new grpc.Metadata();
      md.set(PREDICTOR_HEADER, name);
      call.sendMetadata(md);
    },
  };
}

export function restPin(req: FastifyRequest, reply: FastifyReply): Pin {
  const pinned = req.headers[PREDICTOR_HEADER];
  return {
    ...(typeof pinned === 'string' ? { predictor: pinned } : {}),
    served: (name) => void reply.header(PREDICTOR_HEADER, name),
  };
}
