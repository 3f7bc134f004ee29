import { InferError } from '../errors';
import type { HopInput, HopOptions, HopReply, NodeClient, NodeMethod } from '../graph/node-client';
import type { NodeSpec } from '../graph/spec';
import type { ModelMetadata } from '../components/api';

/**
 * Sends a hop again when the node provably did none of its work (`InferError.notStarted`: a draining node refused
 * it, or it could not be sent because the node had said it was going away). Nothing else is ever resent here.
 *
 * While this executor serves, such a call is sent again until its deadline, after 25 ms doubling to 200 ms: the
 * round-robin pick of a replicated node puts it on another replica, and a node being replaced is found once its
 * successor listens (the runner restarts it on the same address). Once this executor drains, the call gets one more
 * immediate try (another replica may take it) and then fails UNAVAILABLE: nothing replaces nodes of a graph that is
 * stopping. The error that leaves here no longer says "not started": the request's other hops may have run.
 */

const FIRST_WAIT_MS = 25;
const MAX_WAIT_MS = 200;

export class ResendNotStarted implements NodeClient {
  constructor(
    private readonly inner: NodeClient,
    /** true once this executor has begun to drain */
    private readonly draining: () => boolean,
  ) {}

  async call<M extends NodeMethod>(node: NodeSpec, method: M, input: HopInput<M>, opts: HopOptions): Promise<HopReply> {
    let wait = FIRST_WAIT_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.inner.call(node, method, input, opts);
      } catch (err) {
        if (!(err instanceof InferError) || !err.notStarted) throw err;
        const draining = this.draining();
        const left = opts.deadline - Date.now();
        if (opts.signal.aborted || (draining ? attempt >= 2 : left <= wait)) throw started(err);
        if (!draining) {
          await pause(wait, opts.signal);
          wait = Math.min(2 * wait, MAX_WAIT_MS);
        }
      }
    }
  }

  metadata(node: NodeSpec, opts: HopOptions): Promise<ModelMetadata> {
    return this.inner.metadata(node, opts);
  }
}

/** The same error without the mark: what leaves the hop is a failure of the request, which may have done work. */
const started = (e: InferError): InferError =>
  new InferError(e.code, e.message, {
    cause: e,
    ...(e.node !== undefined ? { node: e.node } : {}),
    ...(e.method !== undefined ? { method: e.method } : {}),
    ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
  });

const pause = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
