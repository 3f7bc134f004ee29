import type { ModelMetadata } from '../components/api';
import { codeName, toInferError } from '../errors';
import type { HopInput, HopOptions, HopReply, NodeClient, NodeMethod } from '../graph/node-client';
import type { NodeSpec } from '../graph/spec';

/**
 * The per-request hop timeline behind `infergraph predict --trace`, for people without Jaeger at hand. A client asks
 * for it with the request metadata `x-infergraph-timeline: 1`; the executor then walks that one request through a
 * TimelineRecorder wrapped around its node client and returns the hops in meta.tags.infergraph_timeline. It needs
 * no tracing SDK, and a request that does not ask pays nothing: the recorder exists only for the requests that do.
 * Compute is the node's own time for the call (its `infergraph-compute-us` trailer); transport is the rest of the
 * hop as the executor saw it: (de)serialization on both sides, the wire (HTTP/2 or frames), the event loops.
 */

export const TIMELINE_HEADER = 'x-infergraph-timeline';
export const TIMELINE_TAG = 'infergraph_timeline';

export interface TimelineHop {
  node: string;
  method: NodeMethod;
  /** ms from the start of the walk */
  start_ms: number;
  duration_ms: number;
  /** absent when the node sent no compute trailer (a foreign Seldon node) */
  compute_ms?: number;
  transport_ms?: number;
  /** gRPC status name when the hop failed */
  status?: string;
}

export interface Timeline {
  /** the walk, first hop to answer, ms */
  total_ms: number;
  hops: TimelineHop[];
}

/** The value of the request's TIMELINE_HEADER (gRPC metadata or HTTP header) asks for the timeline. */
export const wantsTimeline = (v: unknown): boolean => {
  const s: unknown = Array.isArray(v) ? v[0] : v;
  if (s === undefined) return false;
  return typeof s === 'string' ? s !== '0' && s !== '' : true;
};

const ms = (x: number): number => Math.round(x * 1000) / 1000;

export class TimelineRecorder implements NodeClient {
  private readonly t0 = performance.now();
  private readonly hops: TimelineHop[] = [];

  constructor(private readonly inner: NodeClient) {}

  metadata(node: NodeSpec, opts: HopOptions): Promise<ModelMetadata> {
    return this.inner.metadata(node, opts);
  }

  call<M extends NodeMethod>(node: NodeSpec, method: M, input: HopInput<M>, opts: HopOptions): Promise<HopReply> {
    const start = performance.now();
    const record = (computeUs: number | undefined, status?: string): void => {
      const duration = performance.now() - start;
      const hop: TimelineHop = { node: node.name, method, start_ms: ms(start - this.t0), duration_ms: ms(duration) };
      if (computeUs !== undefined && Number.isFinite(computeUs)) {
        hop.compute_ms = ms(computeUs / 1000);
        hop.transport_ms = ms(Math.max(0, duration - computeUs / 1000));
      }
      if (status) hop.status = status;
      this.hops.push(hop);
    };
    return this.inner.call(node, method, input, opts).then(
      (reply) => (record(reply.computeUs), reply),
      (err: unknown) => {
        const e = toInferError(err);
        record(e.computeUs, codeName(e.code));
        throw err;
      },
    );
  }

  finish(): Timeline {
    const hops = [...this.hops].sort((a, b) => a.start_ms - b.start_ms);
    return { total_ms: ms(performance.now() - this.t0), hops };
  }
}
