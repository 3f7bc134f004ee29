/**
 * Tracing hooks of the framed transport, in transport terms only: src/telemetry implements them with OpenTelemetry
 * (frame-tracing.ts), so this folder never imports it and a process without tracing passes none.
 */

/** One span of a framed call. Wire messages are the decoded protobuf objects or FlatBuffer bytes of the hop codec. */
export interface FrameSpan {
  /** Runs fn with this span as the active context (server side: the component's work spans nest under it). */
  run<T>(fn: () => T): T;
  request(wire: unknown): void;
  response(wire: unknown): void;
  /** Status code as gRPC numbers it; computeUs: the node's reported compute time (client side). */
  end(code: number, details?: string, computeUs?: number): void;
}

export interface FrameServerTracer {
  /** The server span of one request, continuing the caller's W3C trace context. */
  start(methodPath: string, traceparent: string | undefined, tracestate: string | undefined): FrameSpan;
}

export interface FrameClientTracer {
  /** The client span of one hop and the W3C context to send with it (absent when the span is not sampled). */
  start(methodPath: string): { span: FrameSpan; traceparent?: string; tracestate?: string };
}
