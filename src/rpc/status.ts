import * as grpc from '@grpc/grpc-js';
import { Code, InferError, toInferError, type CodeValue } from '../errors';

/**
 * The one place where errors become gRPC statuses (server side) and gRPC statuses become InferErrors (client
 * side). Unknown errors are INTERNAL with their message kept.
 */
export function toServiceError(err: unknown): Partial<grpc.StatusObject> {
  const e = toInferError(err);
  return { code: e.code, details: e.message, metadata: new grpc.Metadata() };
}

/** A failed client call, with the peer's own status code; `context` says which hop failed. */
export function fromServiceError(err: unknown, context: string): InferError {
  const se = err as Partial<grpc.ServiceError>;
  if (typeof se?.code === 'number' && se.code !== grpc.status.OK) {
    const details = se.details || se.message || 'no details';
    return new InferError(se.code as number as CodeValue, `${context}: ${details}`, { cause: err });
  }
  const e = toInferError(err);
  return new InferError(e.code === Code.OK ? Code.INTERNAL : e.code, `${context}: ${e.message}`, { cause: err });
}
