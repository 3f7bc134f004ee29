import type { TraceExporterKind } from './spec';

/** Syntax of node endpoints and tracing endpoints (the manifest, `up` flags and the OTEL_* environment share it). */

export function endpointProblem(ep: string): string | undefined {
  if (ep.startsWith('unix:')) {
    const file = ep.slice(5).replace(/^\/\/(?=\/)/, '');
    return file.startsWith('/') ? undefined : 'a unix socket endpoint needs an absolute path (unix:/path/to.sock)';
  }
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d+)$/.exec(ep);
  if (!m) return 'expected host:port, [ipv6]:port or unix:/absolute/path';
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return `port ${port} is out of range 1-65535`;
  return undefined;
}

/** What is wrong with a tracing endpoint for this exporter, if anything. */
export function traceEndpointProblem(exporter: TraceExporterKind, ep: string): string | undefined {
  const isUrl = /^https?:\/\/[^/\s]+/.test(ep);
  if (exporter === 'jaeger') {
    if (isUrl) return undefined;
    // The Jaeger agent takes spans over UDP: host:port, no scheme.
    return !ep.startsWith('unix:') && endpointProblem(ep) === undefined
      ? undefined
      : 'expected a collector URL (http://host:14268/api/traces) or an agent host:port (UDP)';
  }
  if (exporter === 'otlp-grpc' || exporter === 'otlp-http') return isUrl ? undefined : 'expected an http(s):// URL';
  return undefined;
}
