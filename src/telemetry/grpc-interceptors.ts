import * as grpc from '@grpc/grpc-js';
import {
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';
import { Code, codeName } from '../errors';
import { jsonToValue } from '../protocol/seldon/json-value';
import type { WireSeldonMessage } from '../protocol/seldon/wire-types';
import { COMPUTE_TRAILER } from '../rpc/trailers';
import { nowHr } from './clock';
import { payloadAttributes, type Attributes } from './wire-attributes';

/**
 * Trace context over gRPC, in interceptors so the walk and the node runtime stay free of tracing code:
 *  - the server interceptor (executor and nodes) continues the caller's context from the request metadata, opens the
 *    server span and runs the handler inside it, so whatever the handler does (the walk's hops, ctx.work()) nests
 *    under it; the executor's also hands the trace id back (header/trailer x-trace-id, meta.tags.trace_id);
 *  - the client interceptor (executor → node channels) opens one span per hop and writes its context into the
 *    request metadata as W3C traceparent.
 * Every method is traced but health checks and reflection, which would bury the requests; the hop methods are
 * Seldon's or, with the FlatBuffers codec, infergraph.v1.FlatBuffersNode's.
 */

export const TRACE_ID_HEADER = 'x-trace-id';
export const TRACE_ID_TAG = 'trace_id';

const metadataGetter: TextMapGetter<grpc.Metadata> = {
  keys: (md) => Object.keys(md.getMap()),
  get: (md, key) => {
    const values = md.get(key);
    return values.length === 0 ? undefined : values.length === 1 ? String(values[0]) : values.map(String);
  },
};

const metadataSetter: TextMapSetter<grpc.Metadata> = { set: (md, key, value) => md.set(key, value) };

const UNTRACED = ['/grpc.health.', '/grpc.reflection.'];

/** '/seldon.protos.Model/Predict' → ['seldon.protos.Model', 'Predict'] */
export function splitPath(path: string): [service: string, method: string] {
  const i = path.lastIndexOf('/');
  return [path.slice(1, i), path.slice(i + 1)];
}

/** Span name and constant attributes per method path, built once: calls are hot, methods are few. */
export function perMethod<T>(make: (service: string, rpc: string) => T): (path: string) => T {
  const cache = new Map<string, T>();
  return (path) => {
    let v = cache.get(path);
    if (!v) {
      v = make(...splitPath(path));
      cache.set(path, v);
    }
    return v;
  };
}

export function endWithStatus(span: Span, code: number, details: string | undefined): void {
  span.setAttribute('rpc.grpc.status_code', code);
  if (code !== Code.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: `${codeName(code)}: ${details ?? ''}` });
  span.end(nowHr());
}

export interface ServerTracingOptions {
  tracer: Tracer;
  /** Reads traceparent and, on the executor, Jaeger's uber-trace-id. */
  propagator: TextMapPropagator;
  /** Constant attributes of this process's server spans (node name, type...). */
  attributes: Attributes;
  /** The executor returns the trace id to its clients. */
  returnTraceId: boolean;
}

export function serverTracingInterceptor(opts: ServerTracingOptions): grpc.ServerInterceptor {
  const { tracer, propagator } = opts;
  const describe = perMethod((service, rpc) => ({
    name: `${service}/${rpc}`,
    attributes: { ...opts.attributes, 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': rpc },
    // The Predict reply is a SeldonMessage the trace id can ride in; other methods (metadata) are left alone.
    tagReply: opts.returnTraceId && service === 'seldon.protos.Seldon' && rpc === 'Predict',
  }));
  return (method, call) => {
    if (UNTRACED.some((p) => method.path.startsWith(p))) return new grpc.ServerInterceptingCall(call);
    const { name, attributes, tagReply } = describe(method.path);
    let span: Span | undefined;
    let ctx: Context = ROOT_CONTEXT;
    let ended = false;
    const finish = (code: number, details: string | undefined): void => {
      if (ended || !span) return;
      ended = true;
      endWithStatus(span, code, details);
    };
    const traceId = (): string | undefined => span?.spanContext().traceId;
    return new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, nextMd) {
            // Events reach the server in whatever async context grpc-js is in: start from the root, not active().
            const parent = propagator.extract(ROOT_CONTEXT, metadata, metadataGetter);
            span = tracer.startSpan(name, { kind: SpanKind.SERVER, startTime: nowHr(), attributes }, parent);
            ctx = trace.setSpan(parent, span);
            nextMd(metadata);
          },
          onReceiveMessage(message, nextMsg) {
            if (span?.isRecording()) span.setAttributes(payloadAttributes(message, 'infergraph.request'));
            nextMsg(message);
          },
          // grpc-js calls a unary handler from here (once the request is complete): it, and all it awaits, runs with
          // the server span active. Entering the context costs; the events before need none.
          onReceiveHalfClose(nextHc) {
            context.with(ctx, nextHc);
          },
          onCancel() {
            const deadline = call.getDeadline();
            const passed =
              deadline instanceof Date
                ? deadline.getTime() <= Date.now()
                : Number.isFinite(deadline) && Number(deadline) <= Date.now();
            finish(
              passed ? grpc.status.DEADLINE_EXCEEDED : grpc.status.CANCELLED,
              passed ? 'deadline exceeded' : 'cancelled by the caller',
            );
          },
        });
      },
      sendMetadata(metadata, next) {
        const id = traceId();
        if (opts.returnTraceId && id) metadata.set(TRACE_ID_HEADER, id);
        next(metadata);
      },
      sendMessage(message, next) {
        if (span?.isRecording()) span.setAttributes(payloadAttributes(message, 'infergraph.response'));
        const id = traceId();
        next(tagReply && id ? withTraceTag(message as WireSeldonMessage, id) : message);
      },
      sendStatus(status, next) {
        const id = traceId();
        // An error reply may go out trailers-only, without the header: the id rides in the trailer then.
        if (opts.returnTraceId && id && status.code !== grpc.status.OK) {
          const md = status.metadata ?? new grpc.Metadata();
          md.set(TRACE_ID_HEADER, id);
          status = { ...status, metadata: md };
        }
        finish(status.code ?? grpc.status.UNKNOWN, status.details);
        next(status);
      },
    });
  };
}

function withTraceTag(m: WireSeldonMessage, traceId: string): WireSeldonMessage {
  const meta = m.meta ?? {};
  return { ...m, meta: { ...meta, tags: { ...(meta.tags ?? {}), [TRACE_ID_TAG]: jsonToValue(traceId) } } };
}

export interface ClientTracingOptions {
  tracer: Tracer;
  /** Writes W3C traceparent. */
  propagator: TextMapPropagator;
  node: string;
  attributes: Attributes;
}

/** One span per hop: the node's server span becomes its child through the traceparent written here. */
export function clientTracingInterceptor(opts: ClientTracingOptions): grpc.Interceptor {
  const { tracer, propagator, node } = opts;
  const describe = perMethod((service, rpc) => ({
    name: `hop ${node} ${service.slice(service.lastIndexOf('.') + 1)}/${rpc}`,
    attributes: { ...opts.attributes, 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': rpc },
  }));
  return (options, nextCall) => {
    const { name, attributes } = describe(options.method_definition.path);
    const parent = context.active();
    const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, startTime: nowHr(), attributes }, parent);
    const t0 = performance.now();
    const ctx = trace.setSpan(parent, span);
    return new grpc.InterceptingCall(nextCall(options), {
      start(metadata, _listener, next) {
        propagator.inject(ctx, metadata, metadataSetter);
        next(metadata, {
          onReceiveMessage(message, nextMsg) {
            if (span.isRecording()) span.setAttributes(payloadAttributes(message, 'infergraph.response'));
            nextMsg(message);
          },
          onReceiveStatus(status, nextStatus) {
            if (span.isRecording()) {
              // The node's own time for the call (decode → component → encode): the rest of the hop is transport.
              const v = status.metadata?.get(COMPUTE_TRAILER)[0];
              const computeUs = v === undefined ? NaN : Number(v);
              if (Number.isFinite(computeUs)) {
                const totalUs = Math.round((performance.now() - t0) * 1000);
                span.setAttributes({
                  'infergraph.node.compute_us': computeUs,
                  'infergraph.hop.transport_us': Math.max(0, totalUs - computeUs),
                });
              }
            }
            endWithStatus(span, status.code, status.details);
            nextStatus(status);
          },
        });
      },
      sendMessage(message, next) {
        if (span.isRecording()) span.setAttributes(payloadAttributes(message, 'infergraph.request'));
        next(message);
      },
    });
  };
}
