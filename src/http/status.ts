import { Code, type CodeValue } from '../errors';

/**
 * The one mapping of our errors' gRPC codes to HTTP statuses, for every REST front door (Seldon and V2): the
 * mapping gRPC-gateway and Google's APIs use, so a REST client sees what a gRPC client of the same call would.
 */
const HTTP_STATUS: Record<CodeValue, number> = {
  [Code.OK]: 200,
  [Code.CANCELLED]: 499,
  [Code.UNKNOWN]: 500,
  [Code.INVALID_ARGUMENT]: 400,
  [Code.DEADLINE_EXCEEDED]: 504,
  [Code.NOT_FOUND]: 404,
  [Code.ALREADY_EXISTS]: 409,
  [Code.PERMISSION_DENIED]: 403,
  [Code.RESOURCE_EXHAUSTED]: 429,
  [Code.FAILED_PRECONDITION]: 400,
  [Code.ABORTED]: 409,
  [Code.OUT_OF_RANGE]: 400,
  [Code.UNIMPLEMENTED]: 501,
  [Code.INTERNAL]: 500,
  [Code.UNAVAILABLE]: 503,
  [Code.DATA_LOSS]: 500,
  [Code.UNAUTHENTICATED]: 401,
};

export const httpStatusOf = (code: number): number => HTTP_STATUS[code as CodeValue] ?? 500;

/** Retry-After for a refusal's pushback: whole seconds, rounded up (RFC 9110 delay-seconds), at least 1. */
export const retryAfterSeconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

/**
 * The other way, for the executor's calls to a node's REST API (Seldon's Python wrapper): a failed node call keeps
 * the meaning of its HTTP status. 400 is the wrapper's "bad data" (SeldonMicroserviceException), so the caller's
 * input is at fault; 404/405 mean the node does not serve that method; anything else 5xx is the node's own failure.
 */
export function codeOfHttpStatus(status: number): CodeValue {
  switch (status) {
    case 400:
    case 422:
      return Code.INVALID_ARGUMENT;
    case 401:
      return Code.UNAUTHENTICATED;
    case 403:
      return Code.PERMISSION_DENIED;
    case 404:
    case 405:
    case 501:
      return Code.UNIMPLEMENTED;
    case 408:
    case 504:
      return Code.DEADLINE_EXCEEDED;
    case 409:
      return Code.ABORTED;
    case 413:
    case 429:
      return Code.RESOURCE_EXHAUSTED;
    case 499:
      return Code.CANCELLED;
    case 502:
    case 503:
      return Code.UNAVAILABLE;
    default:
      return status >= 500 ? Code.INTERNAL : Code.UNKNOWN;
  }
}
