import type * as grpc from '@grpc/grpc-js';

/**
 * What a server handler needs of its call besides the request: an abort signal for the work it starts and the
 * caller's deadline in ms. Shared by the executor's Predict and the node handlers.
 */
export interface CallScope {
  /** Aborted when the caller cancels a call that has not been answered yet. */
  readonly signal: AbortSignal;
  /** The caller's deadline, ms since epoch (Date.now() clock); undefined when it sent none. */
  readonly deadline: number | undefined;
  /** Marks the call answered: a later 'cancelled' no longer aborts anything. */
  finish(): void;
}

export function callScope(call: grpc.ServerUnaryCall<unknown, unknown>): CallScope {
  const abort = new AbortController();
  // grpc-js emits 'cancelled' for every call once its stream closes, answered or not: abort only unfinished work
  // (an abort() builds a DOMException with a stack trace, measurable per call).
  let finished = false;
  call.on('cancelled', () => {
    if (!finished) abort.abort();
  });
  return {
    signal: abort.signal,
    deadline: deadlineMs(call.getDeadline()),
    finish: () => {
      finished = true;
    },
  };
}

/** grpc-js gives a Date, a number (ms) or Infinity for "none". */
export function deadlineMs(d: grpc.Deadline): number | undefined {
  const ms = d instanceof Date ? d.getTime() : Number(d);
  return Number.isFinite(ms) ? ms : undefined;
}
