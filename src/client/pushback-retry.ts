import { Code, isInferError } from '../errors';

export interface PushbackRetryOptions {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** No new attempt starts after this (Date.now() ms). */
  until?: number;
  /** For tests: how to wait. */
  sleep?: (ms: number) => Promise<void>;
}

const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `attempt` again after a refusal that carries the server's pushback (RESOURCE_EXHAUSTED with
 * `grpc-retry-pushback-ms`, surfaced as InferError.retryAfterMs), waiting that long first, as a gRPC retry policy
 * would. Any other error, a refusal without a pushback, the last attempt's refusal, or a wait that would end after
 * `until` is thrown as it is.
 */
export async function withPushbackRetry<T>(attempt: () => Promise<T>, o: PushbackRetryOptions): Promise<T> {
  const sleep = o.sleep ?? sleepMs;
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      const wait = isInferError(err) && err.code === Code.RESOURCE_EXHAUSTED ? err.retryAfterMs : undefined;
      if (wait === undefined || n >= o.maxAttempts || (o.until !== undefined && Date.now() + wait > o.until)) {
        throw err;
      }
      await sleep(wait);
    }
  }
}
