/** Trailer in which a node reports its server-side time for the call (µs): compute versus transport. */
export const COMPUTE_TRAILER = 'infergraph-compute-us';
