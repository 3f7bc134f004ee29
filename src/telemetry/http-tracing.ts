import {
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type TextMapGetter,
  type TextMapPropagator,
  type Tracer,
} from '@opentelemetry/api';
import { nowHr } from './clock';
import type { Attributes } from './wire-attributes';

/**
 * Server spans for the executor's REST front doors, as serverTracingInterceptor opens them for gRPC: the caller's
 * context continued from its headers (W3C traceparent, Jaeger uber-trace-id), one SERVER span per request from its
 * headers to its answer, the walk's hops nested under it. Framework-free: src/executor/rest-server.ts drives it
 * from fastify's hooks.
 */

export type HttpHeaders = Record<string, string | string[] | undefined>;

export interface HttpServerSpan {
  /** The span's trace id (32 hex), for the x-trace-id answer header. */
  readonly traceId: string;
  /** Runs `fn` (the route handler and everything it awaits) with the span active. */
  run<T>(fn: () => T): T;
  /** Ends the span with the answer's HTTP status (5xx marks an error, as OpenTelemetry's HTTP conventions say). */
  end(status: number, message?: string): void;
}

const headerGetter: TextMapGetter<HttpHeaders> = {
  keys: (h) => Object.keys(h),
  get: (h, key) => h[key.toLowerCase()],
};

export function httpServerSpans(
  tracer: Tracer,
  propagator: TextMapPropagator,
  attributes: Attributes,
): (method: string, route: string, headers: HttpHeaders) => HttpServerSpan {
  return (method, route, headers) => {
    const parent = propagator.extract(ROOT_CONTEXT, headers, headerGetter);
    const span = tracer.startSpan(
      `${method} ${route}`,
      {
        kind: SpanKind.SERVER,
        startTime: nowHr(),
        attributes: { ...attributes, 'http.request.method': method, 'http.route': route },
      },
      parent,
    );
    const ctx: Context = trace.setSpan(parent, span);
    let ended = false;
    return {
      traceId: span.spanContext().traceId,
      run: (fn) => context.with(ctx, fn),
      end(status, message) {
        if (ended) return;
        ended = true;
        span.setAttribute('http.response.status_code', status);
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: message ?? `HTTP ${status}` });
        span.end(nowHr());
      },
    };
  };
}
