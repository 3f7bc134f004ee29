import type * as grpc from '@grpc/grpc-js';
import type { WorkRunner } from '../components/call-context';
import type { GraphSpec, NodeSpec } from '../graph/spec';
import type { FrameClientTracer, FrameServerTracer } from '../transport/tracing';
import type { TracingConfig } from './config';
import type { HttpHeaders, HttpServerSpan } from './http-tracing';

/** Which process this is: the executor of `graph` (no node) or one of its nodes. Names the service and resource. */
export interface ProcessIdentity {
  graph: GraphSpec;
  node?: NodeSpec;
}

/**
 * What a process needs from tracing, in gRPC and component terms only — the servers and the GrpcNodeClient take
 * these without knowing OpenTelemetry.
 */
export interface Tracing {
  readonly config: TracingConfig;
  /** For the process's grpc.Server: continue the caller's trace, open the server span. */
  readonly serverInterceptors: grpc.ServerInterceptor[];
  /** For the executor's channel to `node`: a client span per hop, traceparent in the metadata. */
  clientInterceptors(node: NodeSpec, address: string): grpc.Interceptor[];
  /** The node's framed listener: the same server spans as serverInterceptors open for gRPC calls. */
  readonly frameServerTracer: FrameServerTracer;
  /** The executor's framed hops to `node`: the same client spans as clientInterceptors, traceparent in the frame. */
  frameClientTracer(node: NodeSpec, address: string): FrameClientTracer;
  /** The executor's REST front doors: a server span per request, the caller's context continued from its headers. */
  httpServerSpan(method: string, route: string, headers: HttpHeaders): HttpServerSpan;
  /** ctx.work() as spans. */
  readonly work: WorkRunner;
  /** The trace id of the active server span (inside a handler), for answers that carry it (V2 parameters). */
  currentTraceId(): string | undefined;
  /** The W3C traceparent of the active span (inside a handler): request-log events carry it. */
  currentTraceparent(): string | undefined;
  /** forceFlush, then shutdown: every finished span reaches the exporter before the process exits. */
  shutdown(): Promise<void>;
}
