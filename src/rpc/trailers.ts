/** Trailer in which a node reports its server-side time for the call (µs): compute versus transport. */
export const COMPUTE_TRAILER = 'infergraph-compute-us';

/** Trailers naming the hop a failed call's error comes from (InferError's node and method fields). */
export const ERROR_NODE_TRAILER = 'infergraph-error-node';
export const ERROR_METHOD_TRAILER = 'infergraph-error-method';
