import type { TraceExporterKind } from './spec';

/**
 * Address checks shared by manifest validation (node endpoints, spec.tracing) and the tracing set-up (`up` flags and
 * OTEL_* variables), so one address is judged the same way wherever it comes from.
 */

/** What is wrong with a gRPC endpoint (host:port, [ipv6]:port or unix:/absolute/path), if anything. */
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

/**
 * What is wrong with a node's `endpoint`, if anything: a gRPC address as above, or `http://host:port` for a node that
 * serves Seldon's REST node API (the executor then calls /predict, /route, ... with JSON bodies).
 */
export function nodeEndpointProblem(ep: string): string | undefined {
  const m = /^http:\/\/([^/]+)\/?$/.exec(ep);
  if (ep.startsWith('http')) {
    if (!m?.[1] || m[1].startsWith('unix:')) return 'expected http://host:port (no path) for a REST node';
    return endpointProblem(m[1]);
  }
  const bad = endpointProblem(ep);
  return bad?.startsWith('expected') ? `${bad}, or http://host:port (Seldon's REST node API)` : bad;
}

/** What is wrong with a tracing endpoint for this exporter, if anything (the manifest, `up` flags and env share it). */
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
