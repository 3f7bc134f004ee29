import type * as grpc from '@grpc/grpc-js';
import { diag, DiagLogLevel, trace } from '@opentelemetry/api';
import { CompositePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { JaegerPropagator } from '@opentelemetry/propagator-jaeger';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { NodeSpec } from '../graph/spec';
import type { Logger } from '../util/logger';
import type { TracingConfig } from './config';
import { frameClientTracer, frameServerTracer } from './frame-tracing';
import { httpServerSpans } from './http-tracing';
import { clientTracingInterceptor, serverTracingInterceptor } from './grpc-interceptors';
import type { ProcessIdentity, Tracing } from './types';
import { spanWork } from './work';

/**
 * The OpenTelemetry SDK of one process. Loaded only when tracing is on (src/telemetry/index.ts imports this file
 * lazily), so a graph without tracing never loads it, registers no context manager and installs no interceptor.
 */

const TRACER = 'infergraph';

export async function startSdk(cfg: TracingConfig, id: ProcessIdentity, logger: Logger): Promise<Tracing> {
  forwardDiagnostics(logger);
  const { graph, node } = id;
  const serviceName = node ? node.name : `${graph.name}-executor`;
  const processAttributes: Record<string, string | number> = {
    'service.name': serviceName,
    'infergraph.graph': graph.name,
    'infergraph.node.type': node ? node.type : 'EXECUTOR',
    'infergraph.node.implementation': node ? node.implementation : 'executor',
    'process.pid': process.pid,
  };
  if (graph.namespace) processAttributes['service.namespace'] = graph.namespace;
  const exporter = await createExporter(cfg, processAttributes);
  const provider = new NodeTracerProvider({
    resource: defaultResource().merge(resourceFromAttributes(processAttributes)),
    // Parent-based everywhere: the executor decides (or honours the caller's decision), every node follows, so a
    // trace is either complete or absent.
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(cfg.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor(exporter, cfg.batch)],
  });
  // Hops carry W3C traceparent only; the executor also accepts a client's Jaeger uber-trace-id.
  const w3c = new W3CTraceContextPropagator();
  const fromClients = new CompositePropagator({ propagators: [w3c, new JaegerPropagator()] });
  provider.register({ propagator: fromClients });
  const tracer = trace.getTracer(TRACER);
  const self = { 'infergraph.node': serviceName };

  return {
    config: cfg,
    serverInterceptors: [
      serverTracingInterceptor({
        tracer,
        propagator: node ? w3c : fromClients,
        attributes: self,
        returnTraceId: !node,
      }),
    ],
    currentTraceId: () => trace.getActiveSpan()?.spanContext().traceId,
    currentTraceparent: () => {
      const c = trace.getActiveSpan()?.spanContext();
      return c ? `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 1).toString(16).padStart(2, '0')}` : undefined;
    },
    clientInterceptors(target: NodeSpec, address: string): grpc.Interceptor[] {
      return [
        clientTracingInterceptor({
          tracer,
          propagator: w3c,
          node: target.name,
          attributes: {
            'infergraph.node': target.name,
            'infergraph.node.type': target.type,
            'server.address': address,
          },
        }),
      ];
    },
    // Nodes continue the executor's W3C context only; the executor takes no framed calls.
    frameServerTracer: frameServerTracer({ tracer, propagator: w3c, attributes: self }),
    frameClientTracer(target: NodeSpec, address: string) {
      return frameClientTracer({
        tracer,
        propagator: w3c,
        node: target.name,
        attributes: { 'infergraph.node': target.name, 'infergraph.node.type': target.type, 'server.address': address },
      });
    },
    httpServerSpan: httpServerSpans(tracer, node ? w3c : fromClients, self),
    work: spanWork(tracer, self),
    async shutdown() {
      // Flush first: the Jaeger exporter drops what is still buffered at shutdown without a word. A failed export
      // is worth a line in the log, not a failed shutdown.
      await provider
        .forceFlush()
        .catch((err: unknown) =>
          logger.warn({ err: describeFailure(err) }, 'some spans could not be exported at shutdown'),
        );
      await provider
        .shutdown()
        .catch((err: unknown) => logger.warn({ err: describeFailure(err) }, 'tracing shutdown failed'));
    },
  };
}

async function createExporter(
  cfg: TracingConfig,
  processAttributes: Record<string, string | number>,
): Promise<SpanExporter> {
  switch (cfg.exporter) {
    case 'otlp-grpc': {
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-grpc');
      return new OTLPTraceExporter({ url: cfg.endpoint });
    }
    case 'otlp-http': {
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
      return new OTLPTraceExporter({ url: cfg.endpoint });
    }
    case 'jaeger': {
      const { JaegerExporter } = await import('@opentelemetry/exporter-jaeger');
      // Jaeger shows process tags per service; the resource attributes are what tell the processes apart.
      const tags = Object.entries(processAttributes)
        .filter(([k]) => k !== 'service.name')
        .map(([key, value]) => ({ key, value }));
      if (/^https?:\/\//.test(cfg.endpoint)) return new JaegerExporter({ endpoint: cfg.endpoint, tags });
      const i = cfg.endpoint.lastIndexOf(':');
      return new JaegerExporter({ host: cfg.endpoint.slice(0, i), port: Number(cfg.endpoint.slice(i + 1)), tags });
    }
  }
}

/** Exporters reject with gRPC status objects, or arrays of them (one per span processor). */
function describeFailure(err: unknown): string {
  if (Array.isArray(err)) return err.map(describeFailure).join('; ');
  if (err instanceof Error) return err.message;
  const details = (err as { details?: unknown } | null)?.details;
  return typeof details === 'string' ? details : String(err);
}

/** OpenTelemetry reports export failures through `diag`; say each distinct one once instead of never or always. */
function forwardDiagnostics(logger: Logger): void {
  const seen = new Set<string>();
  const once =
    (level: 'warn' | 'error') =>
    (message: string, ...args: unknown[]): void => {
      const text = [message, ...args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : ''))]
        .join(' ')
        .trim();
      if (seen.has(text) || seen.size > 100) return;
      seen.add(text);
      logger[level]({ otel: true }, text);
    };
  const quiet = (): void => undefined;
  diag.setLogger(
    { error: once('error'), warn: once('warn'), info: quiet, debug: quiet, verbose: quiet },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
}
