import { createServer, type Server } from 'node:http';
import type * as promClient from 'prom-client';
import type { Registry } from 'prom-client';

/**
 * Prometheus metrics of one process: its own registry (process and Node.js metrics included) served as text
 * exposition on GET /metrics from a small HTTP server. What each process records lives in grpc-metrics.ts.
 * prom-client is loaded only when metrics are on: it loads @opentelemetry/api, which tracing-off processes otherwise
 * never load (test/unit/telemetry.test.ts).
 */

export type PromClient = typeof promClient;

export interface ProcessMetrics {
  prom: PromClient;
  registry: Registry;
}

export interface MetricsEndpoint extends ProcessMetrics {
  /** http://host:port/metrics */
  url: string;
  close(): Promise<void>;
}

/** How often the event-loop lag metrics (nodejs_eventloop_lag_*) take a sample. */
export const LAG_SAMPLE_MS = 100;

export async function createMetrics(): Promise<ProcessMetrics> {
  const prom = await import('prom-client');
  const registry = new prom.Registry();
  // The event-loop lag histogram samples with a libuv timer; at prom-client's default 10 ms that timer wakes every
  // process 100 times a second, which was most of an idle graph's CPU: 5.6 % of a core for the ImageNet ensemble's
  // six processes, 1.4 % at 100 ms (docs/performance.md). Lags are still measured to the nanosecond, ten times a second.
  prom.collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: LAG_SAMPLE_MS });
  return { prom, registry };
}

/**
 * `host:port` (port 0 picks a free one) or `none`/`off` for no metrics. An IPv6 host goes in brackets: [::1]:9464.
 */
export function parseMetricsAddress(s: string): { host: string; port: number } | undefined {
  if (s === 'none' || s === 'off') return undefined;
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535))
    throw new Error(`--metrics-address must be host:port (port 0 = any) or none, got '${s}'`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

export async function serveMetrics(
  metrics: ProcessMetrics,
  address: { host: string; port: number },
): Promise<MetricsEndpoint> {
  const { registry } = metrics;
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new Error(`cannot serve metrics on ${address.host}:${address.port}: ${err.message}`)),
    );
    server.listen(address.port, address.host, () => resolve());
  });
  // Keep-alive scrapers must not hold the process open at shutdown.
  server.unref();
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : address.port;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return {
    ...metrics,
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
