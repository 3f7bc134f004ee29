import Fastify, { type FastifyInstance } from 'fastify';

/**
 * The executor's HTTP server (fastify), its limits set on purpose rather than left at the framework's defaults:
 *  - body: at most `maxBodyBytes`, refused with 413 as soon as Content-Length says more (or the stream passes it);
 *  - content types: JSON and octet-stream only, both handed to the routes as Buffers (the routes parse JSON
 *    themselves, so a malformed body is a 400 naming the problem in the door's own error body); anything else 415;
 *  - keep-alive: idle connections kept 65 s (longer than the 60 s idle timeout of common load balancers, as Seldon's
 *    executor does, so the balancer closes first and never sends on a socket we are closing);
 *  - headers must arrive within 10 s and the whole request within `requestTimeoutMs`, so a slow client cannot hold
 *    a socket and its buffers for ever.
 */

export interface HttpLimits {
  maxBodyBytes: number;
  requestTimeoutMs: number;
}

export const KEEP_ALIVE_MS = 65_000;
export const HEADERS_TIMEOUT_MS = 10_000;

export function createHttpServer(limits: HttpLimits): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: limits.maxBodyBytes,
    keepAliveTimeout: KEEP_ALIVE_MS,
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: 0,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    http: { headersTimeout: HEADERS_TIMEOUT_MS },
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    ['application/json', 'application/octet-stream'],
    { parseAs: 'buffer' },
    (_req, body, done) => done(null, body),
  );
  return app;
}

/** host:port (port 0 = any) -> listen options. */
export function parseHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(i + 1));
  if (i < 1 || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`REST address '${address}': expected host:port (port 0 = any)`);
  return { host, port };
}
