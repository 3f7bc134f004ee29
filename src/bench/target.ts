import * as grpc from '@grpc/grpc-js';
import { codeName } from '../errors';
import { DEFAULTS } from '../graph/manifest';
import { emptyMeta, type InferMessage, type Payload } from '../message/message';
import { executorPredictWire } from '../protocol/hop-codec';
import { channelLimits } from '../rpc/channel-options';
import { retryPushbackMs } from '../rpc/status';
import { TIMELINE_HEADER, TIMELINE_TAG, type Timeline } from '../telemetry/timeline';
import { parseTimeline } from '../telemetry/waterfall';
import { logEvent } from '../util/event-log';
import { passBytes } from '../rpc/bytes-method';
import { PREVIOUS_ATTEMPTS_HEADER } from '../rpc/trailers';

/** What the load generator drives: the graph's executor over gRPC, or the same graph in-process (baseline). */
export interface BenchTarget {
  readonly label: string;
  /** `retryOf` > 0: the call retries one refused that many times (a gRPC target marks it so: see ExecutorTarget). */
  send(retryOf?: number): Promise<Sample>;
  /** The first successful answer, for the report (proves the bench measured real answers). */
  firstReply(): InferMessage | undefined;
  close(): Promise<void>;
}

export interface Sample {
  ok: boolean;
  /** end-to-end latency seen by the client, ms */
  ms: number;
  error?: string;
  /** the executor's per-hop timeline (x-infergraph-timeline), when it sent one */
  timeline?: Timeline;
  /** on a refusal: the server's pushback (grpc-retry-pushback-ms), ms */
  retryAfterMs?: number;
}

/**
 * Seldon.Predict against a running executor. The request is encoded once. Calls ask for the hop timeline, which the
 * executor records per request (src/telemetry/timeline.ts) and returns in meta.tags: every call, or with
 * `timelineIntervalMs` at most one call per that many ms. Recording, encoding and decoding a timeline costs ~0.07 ms
 * a request (the test ensemble at c=1), a twentieth of a graph of tiny nodes: the samples measure the breakdown, the
 * calls without one measure what a client without it sees.
 */
export class ExecutorTarget implements BenchTarget {
  readonly label: string;
  private readonly client: grpc.Client;
  private readonly wire = executorPredictWire('tftensor');
  private readonly request: Buffer;
  private first: InferMessage | undefined;
  private lastTimeline = -Infinity;

  constructor(
    readonly address: string,
    payload: Payload,
    private readonly opts: {
      timeoutMs: number;
      timeline: boolean;
      /** ask for the timeline at most once per this many ms (0: every call) */
      timelineIntervalMs?: number;
      maxMessageBytes?: number;
    },
  ) {
    this.label = `executor ${address}`;
    const limits = channelLimits(opts.maxMessageBytes ?? DEFAULTS.maxMessageBytes);
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), limits);
    this.request = this.wire.serialize(this.wire.encode({ meta: emptyMeta(), payload }));
  }

  /**
   * `retryOf` > 0 marks the call as a retry after that many refused attempts, with the header a gRPC client's retry
   * policy sends (grpc-previous-rpc-attempts): the executor lets retries wait for a slot ahead of new calls.
   */
  send(retryOf = 0): Promise<Sample> {
    const md = new grpc.Metadata();
    if (retryOf > 0) md.set(PREVIOUS_ATTEMPTS_HEADER, String(retryOf));
    const t0 = performance.now();
    if (this.opts.timeline && t0 - this.lastTimeline >= (this.opts.timelineIntervalMs ?? 0)) {
      md.set(TIMELINE_HEADER, '1');
      this.lastTimeline = t0;
    }
    logEvent('b.send', 0);
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(
        this.wire.path,
        passBytes,
        this.wire.deserialize,
        this.request,
        md,
        { deadline: Date.now() + this.opts.timeoutMs },
        (err, reply) => {
          const ms = performance.now() - t0;
          logEvent('b.recv', 0);
          if (err || reply === undefined) {
            const retryAfterMs = retryPushbackMs(err);
            const error = err ? `${codeName(err.code)}: ${err.details}` : 'empty reply';
            resolve(retryAfterMs === undefined ? { ok: false, ms, error } : { ok: false, ms, error, retryAfterMs });
            return;
          }
          try {
            const msg = this.wire.decode(reply);
            const timeline = parseTimeline(msg.meta.tags[TIMELINE_TAG]);
            if (!this.first) {
              const { [TIMELINE_TAG]: _t, ...tags } = msg.meta.tags;
              this.first = { ...msg, meta: { ...msg.meta, tags } };
            }
            resolve(timeline ? { ok: true, ms, timeline } : { ok: true, ms });
          } catch (e) {
            resolve({ ok: false, ms, error: `bad reply: ${(e as Error).message}` });
          }
        },
      );
    });
  }

  firstReply(): InferMessage | undefined {
    return this.first;
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
