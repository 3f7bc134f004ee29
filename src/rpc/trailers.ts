/** Trailer in which a node reports its server-side time for the call (µs): compute versus transport. */
export const COMPUTE_TRAILER = 'infergraph-compute-us';

/** Trailers naming the hop a failed call's error comes from (InferError's node and method fields). */
export const ERROR_NODE_TRAILER = 'infergraph-error-node';
export const ERROR_METHOD_TRAILER = 'infergraph-error-method';

/**
 * gRPC's standard server pushback (gRFC A6): on a refusal, how many ms the client should wait before its next
 * attempt. grpc-js, grpc-java and grpc-python honour it when the call has a retry policy for the status.
 */
export const RETRY_PUSHBACK_TRAILER = 'grpc-retry-pushback-ms';

/** On an UNAVAILABLE from a draining node: '1' when it did none of the call's work, so the caller may send it again. */
export const NOT_STARTED_TRAILER = 'infergraph-not-started';

/**
 * Sent by a gRPC client with a retry policy on every attempt after the first (gRFC A6): how many came before. The
 * executor's admission lets such retries wait for a slot ahead of new calls (src/util/admission-door.ts).
 */
export const PREVIOUS_ATTEMPTS_HEADER = 'grpc-previous-rpc-attempts';
