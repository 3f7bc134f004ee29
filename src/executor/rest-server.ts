import { createHttpServer, parseHostPort } from '../http/server';
import type { HttpServerSpan } from '../telemetry/http-tracing';
import { TRACE_ID_HEADER } from '../telemetry/grpc-interceptors';
import type { Tracing } from '../telemetry/types';
import type { Logger } from '../util/logger';
import type { DataPlane } from './data-plane';
import type { RestDoor, RouteConfig } from './rest-door';
import { seldonRest } from './seldon-rest';
import { v2Rest } from './v2-rest';

/**
 * The executor's REST front doors on their own port: Seldon's (/api/v1.0, /api/v0.1) and the Open Inference
 * Protocol's (/v2). Like the gRPC services they only decode, call the data plane and encode; what they
 * share is in rest-door.ts.
 */

export interface RestServerOptions {
  plane: DataPlane;
  /** host:port, port 0 = any. */
  address: string;
  ready: () => boolean;
  logger: Logger;
  /** Server spans for the requests that walk the graph (the gRPC doors get theirs from interceptors). */
  tracing?: Pick<Tracing, 'httpServerSpan'>;
}

export interface RunningRest {
  /** http://host:port */
  url: string;
  close(): Promise<void>;
}

export async function startRestServer(o: RestServerOptions): Promise<RunningRest> {
  const { plane } = o;
  const graph = plane.graph;
  // A JSON body carries tensors as base64 (4/3 of their bytes): the limit leaves room for that around maxMessageBytes.
  const app = createHttpServer({
    maxBodyBytes: Math.ceil((graph.maxMessageBytes * 4) / 3) + 64 * 1024,
    requestTimeoutMs: graph.deadlineMs + 30_000,
  });
  const door: RestDoor = { plane, ready: o.ready, logger: o.logger };
  const tracing = o.tracing;
  if (tracing) {
    // From the headers (an early refusal included) to the answer; the handler and its walk run inside the span.
    const spans = new WeakMap<object, HttpServerSpan>();
    app.addHook('onRequest', (req, reply, done) => {
      if (!(req.routeOptions.config as RouteConfig | undefined)?.walk) return done();
      const span = tracing.httpServerSpan(req.method, req.routeOptions.url ?? req.url, req.headers);
      spans.set(req, span);
      void reply.header(TRACE_ID_HEADER, span.traceId);
      done();
    });
    app.addHook('preHandler', (req, _reply, done) => {
      const span = spans.get(req);
      if (span) span.run(done);
      else done();
    });
    app.addHook('onResponse', (req, reply, done) => {
      spans.get(req)?.end(reply.statusCode);
      done();
    });
    app.addHook('onRequestAbort', (req, done) => {
      spans.get(req)?.end(499, 'the client closed the connection');
      done();
    });
  }
  await app.register((scope, _opts, done) => (seldonRest(scope, door), done()));
  await app.register((scope, _opts, done) => (v2Rest(scope, door), done()));
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` });
  });
  const { host, port } = parseHostPort(o.address);
  await app.listen({ host, port });
  const addr = app.server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
  return { url, close: () => app.close() };
}
