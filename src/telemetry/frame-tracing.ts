import {
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  type Span,
  type TextMapPropagator,
  type Tracer,
} from '@opentelemetry/api';
import type { FrameClientTracer, FrameServerTracer, FrameSpan } from '../transport/tracing';
import { nowHr } from './clock';
import { endWithStatus, perMethod } from './grpc-interceptors';
import { payloadAttributes, type Attributes } from './wire-attributes';

/**
 * Spans of framed hops (src/transport), made to look exactly like the gRPC interceptors' (grpc-interceptors.ts): the
 * same names, kinds, parents, status attribute and payload attributes, so a trace and the timeline read the same
 * whichever transport carried the hop. Only `rpc.system` says which one did.
 */

const RPC_SYSTEM = 'infergraph-frames';

class OtelFrameSpan implements FrameSpan {
  private readonly t0 = performance.now();
  private ended = false;

  constructor(
    readonly span: Span,
    private readonly ctx = trace.setSpan(context.active(), span),
  ) {}

  run<T>(fn: () => T): T {
    return context.with(this.ctx, fn);
  }

  request(wire: unknown): void {
    if (this.span.isRecording()) this.span.setAttributes(payloadAttributes(wire, 'infergraph.request'));
  }

  response(wire: unknown): void {
    if (this.span.isRecording()) this.span.setAttributes(payloadAttributes(wire, 'infergraph.response'));
  }

  end(code: number, details?: string, computeUs?: number): void {
    if (this.ended) return;
    this.ended = true;
    if (computeUs !== undefined && this.span.isRecording()) {
      // The node's own time for the call; the rest of the hop is transport (as the gRPC client interceptor says).
      const totalUs = Math.round((performance.now() - this.t0) * 1000);
      this.span.setAttributes({
        'infergraph.node.compute_us': computeUs,
        'infergraph.hop.transport_us': Math.max(0, totalUs - computeUs),
      });
    }
    endWithStatus(this.span, code, details);
  }
}

export function frameServerTracer(opts: {
  tracer: Tracer;
  propagator: TextMapPropagator;
  attributes: Attributes;
}): FrameServerTracer {
  const describe = perMethod((service, rpc) => ({
    name: `${service}/${rpc}`,
    attributes: { ...opts.attributes, 'rpc.system': RPC_SYSTEM, 'rpc.service': service, 'rpc.method': rpc },
  }));
  return {
    start(methodPath, traceparent, tracestate) {
      const { name, attributes } = describe(`/${methodPath.replace(/^\//, '')}`);
      const carrier: Record<string, string> = {};
      if (traceparent) carrier.traceparent = traceparent;
      if (tracestate) carrier.tracestate = tracestate;
      const parent = opts.propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
      const span = opts.tracer.startSpan(name, { kind: SpanKind.SERVER, startTime: nowHr(), attributes }, parent);
      return new OtelFrameSpan(span, trace.setSpan(parent, span));
    },
  };
}

export function frameClientTracer(opts: {
  tracer: Tracer;
  propagator: TextMapPropagator;
  node: string;
  attributes: Attributes;
}): FrameClientTracer {
  const describe = perMethod((service, rpc) => ({
    name: `hop ${opts.node} ${service.slice(service.lastIndexOf('.') + 1)}/${rpc}`,
    attributes: { ...opts.attributes, 'rpc.system': RPC_SYSTEM, 'rpc.service': service, 'rpc.method': rpc },
  }));
  return {
    start(methodPath) {
      const { name, attributes } = describe(methodPath);
      const parent = context.active();
      const span = opts.tracer.startSpan(name, { kind: SpanKind.CLIENT, startTime: nowHr(), attributes }, parent);
      const ctx = trace.setSpan(parent, span);
      const carrier: Record<string, string> = {};
      opts.propagator.inject(ctx, carrier, defaultTextMapSetter);
      return { span: new OtelFrameSpan(span, ctx), ...carrier };
    },
  };
}
