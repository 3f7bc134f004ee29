import { Code, InferError, type HopFields } from '../errors';
import type { HopInput, HopOptions, HopReply, NodeClient, NodeMethod } from '../graph/node-client';
import type { GraphSpec, NodeSpec } from '../graph/spec';
import type { InferMessage } from '../message/message';
import { flatOnHop, hopMethodLabel, hopWire } from '../protocol/hop-codec';
import { fromServiceError } from '../rpc/status';
import { FrameChannel } from '../transport/client';
import type { FrameClientTracer } from '../transport/tracing';
import { hopLimitBytes } from '../protocol/hop-envelope';

/**
 * NodeClient over the framed transport (src/transport): one FrameChannel per node, many calls in flight on it. The
 * hop carries exactly what the gRPC hop carries — the graph's hop codec serialises the message — and fails the same
 * way: an InferError with the node's own status, the message prefixed with the hop (node and method); the reply
 * frame's compute time comes back with the message.
 */
export class FramedNodeClient implements Pick<NodeClient, 'call'> {
  private readonly channels = new Map<string, FrameChannel>();
  private readonly tracers = new Map<string, FrameClientTracer>();

  constructor(
    private readonly graph: GraphSpec,
    /** node name → frame address (unix:/path or host:port) */
    private readonly addresses: Record<string, string>,
    /** Tracing: a client span per hop, W3C context in the request frame; none when tracing is off. */
    private readonly tracer?: (node: NodeSpec, address: string) => FrameClientTracer,
  ) {}

  call<M extends NodeMethod>(node: NodeSpec, method: M, input: HopInput<M>, opts: HopOptions): Promise<HopReply> {
    const { codec } = this.graph;
    // Only errors read it: built on the way out, not on every call.
    const context = (): string => `node '${node.name}' (${hopMethodLabel(codec, method)})`;
    const hop: HopFields = { node: node.name, method };
    if (opts.signal.aborted) {
      return Promise.reject(new InferError(Code.CANCELLED, `${context()}: cancelled before the call`, hop));
    }
    const wire = hopWire(codec, method);
    let request: unknown;
    let body: Buffer[];
    let channel: FrameChannel;
    try {
      request = wire.encode(input);
      body = wire.serializeParts(request);
      channel = this.channel(node);
    } catch (err) {
      return Promise.reject(fromServiceError(err, context(), hop));
    }
    const traced = this.tracerOf(node, channel.address)?.start(wire.path);
    traced?.span.request(request);
    return channel
      .call(method, flatOnHop(codec, method) ? 'flatbuffers' : 'seldon', body, {
        deadline: opts.deadline,
        signal: opts.signal,
        ...(traced?.traceparent ? { traceparent: traced.traceparent } : {}),
        ...(traced?.tracestate ? { tracestate: traced.tracestate } : {}),
      })
      .then(
        (r): HopReply => {
          let message: InferMessage;
          try {
            const reply = wire.deserialize(r.body);
            traced?.span.response(reply);
            message = wire.decode(reply);
          } catch (err) {
            const e = fromServiceError(err, `${context()}: bad reply`, { ...hop, computeUs: r.computeUs });
            traced?.span.end(e.code, e.message, r.computeUs);
            throw e;
          }
          traced?.span.end(Code.OK, undefined, r.computeUs);
          return { message, computeUs: r.computeUs };
        },
        (err: unknown) => {
          const e = fromServiceError(err, context(), hop);
          traced?.span.end(e.code, err instanceof Error ? err.message : String(err));
          throw e;
        },
      );
  }

  private tracerOf(node: NodeSpec, address: string): FrameClientTracer | undefined {
    if (!this.tracer) return undefined;
    let t = this.tracers.get(node.name);
    if (!t) this.tracers.set(node.name, (t = this.tracer(node, address)));
    return t;
  }

  private channel(node: NodeSpec): FrameChannel {
    let c = this.channels.get(node.name);
    if (!c) {
      const address = this.addresses[node.name];
      if (!address) throw new InferError(Code.FAILED_PRECONDITION, `no frame address known for node '${node.name}'`);
      // A node the runner restarts is back within a second or so, and a failed connect costs next to nothing: look
      // again often rather than leave a restarted node unused for up to a second (issue 22: restart times).
      c = new FrameChannel(address, {
        maxMessageBytes: hopLimitBytes(this.graph, node),
        initialBackoffMs: 25,
        maxBackoffMs: 200,
      });
      this.channels.set(node.name, c);
    }
    return c;
  }

  close(): void {
    for (const c of this.channels.values()) c.close();
    this.channels.clear();
  }
}
