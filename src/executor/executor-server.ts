import type { NodeClient } from '../graph/node-client';
import { allNodes, inExecutor, type GraphSpec } from '../graph/spec';
import { seldonProto } from '../protocol/seldon/proto-loader';
import { v2Proto, V2_SERVICE } from '../protocol/v2/proto';
import { bind, createServer, shutdown } from '../rpc/server';
import { executorServerCredentials } from '../rpc/tls';
import { hopEnvelopeBytes } from '../protocol/hop-envelope';
import type { Tracing } from '../telemetry/types';
import { Limiter } from '../util/limiter';
import type { Logger } from '../util/logger';
import { admissionInterceptor } from './admission-interceptor';
import { DataPlane, type PredictorSet, type RequestLogger, type RequestMeter } from './data-plane';
import { HopClient } from './hop-client';
import { LocalNodeClient } from './local-node-client';
import { TrafficSplit } from './predictors';
import { ResendNotStarted } from './resend-not-started';
import { watchGraphNodes } from './node-health';
import { startRestServer, type RunningRest } from './rest-server';
import { addSeldonService, SELDON_PREDICT } from './seldon-service';
import { addV2Service, V2_MODEL_INFER } from './v2-service';

/**
 * The executor process, assembled: the node client (HopClient picks frames or gRPC per node), the data plane that
 * every front door calls, the gRPC server (Seldon and V2 services on the graph's external address) and the REST
 * server (Seldon and V2 over HTTP on its own port). The client's deadline, or the graph's default, bounds every hop.
 */

/** Telemetry of the executor, as one bundle from the composition root (src/cli/commands/serve.ts). */
export interface ExecutorTelemetry {
  /** Tracing (src/telemetry): server interceptors, client interceptors and frame tracers per node, the trace id. */
  tracing?: Pick<
    Tracing,
    'serverInterceptors' | 'clientInterceptors' | 'frameClientTracer' | 'currentTraceId' | 'work' | 'httpServerSpan'
  >;
  /** Metrics (src/telemetry/graph-metrics.ts executorMetrics). */
  metrics?: {
    /** Every request, whatever its front door: observed by the data plane. */
    requests: RequestMeter;
    /** Wraps the node client: one observation per hop. */
    hops: (client: NodeClient) => NodeClient;
    /** Reads the in-flight bound's counts at scrape time. */
    admission: (admission: Limiter) => void;
  };
}

export interface ExecutorOptions {
  graph: GraphSpec;
  /** node name -> address for nodes without a manifest endpoint. */
  addresses: Record<string, string>;
  /** node name -> frame address, for nodes that listen for frames (used when the graph's hopTransport is frames) */
  framesAddresses?: Record<string, string>;
  address: string;
  /** Where the REST front doors listen (host:port, port 0 = any); absent: no REST. */
  restAddress?: string;
  logger: Logger;
  telemetry?: ExecutorTelemetry;
  /** Seams for request logging (#21) and tests: the predictors default to spec.predictors' TrafficSplit. */
  predictors?: PredictorSet;
  requestLogger?: RequestLogger;
  /** Node-level payload logging (#21, src/request-log): wraps the node client the walk goes through. */
  hopLogger?: (client: NodeClient) => NodeClient;
}

export interface RunningExecutor {
  address: string;
  /** http://host:port of the REST front doors, when they listen. */
  restUrl?: string;
  /** The in-flight bound (its counts feed metrics and tests). */
  admission: Limiter;
  close(): Promise<void>;
}

const withHopLogger = (c: NodeClient, wrap?: (c: NodeClient) => NodeClient): NodeClient => (wrap ? wrap(c) : c);

export async function startExecutorServer(opts: ExecutorOptions): Promise<RunningExecutor> {
  const { graph, logger } = opts;
  const tracing = opts.telemetry?.tracing;
  const metrics = opts.telemetry?.metrics;
  // Nodes placed in the executor (runtime.placement: executor) are created here and called in this process.
  const placed = allNodes(graph).filter(inExecutor);
  const local = placed.length
    ? await LocalNodeClient.create(graph, { logger, ...(tracing?.work ? { work: tracing.work } : {}) }, placed)
    : undefined;
  const client = new HopClient({
    graph,
    ...(local ? { local } : {}),
    addresses: opts.addresses,
    ...(opts.framesAddresses ? { framesAddresses: opts.framesAddresses } : {}),
    ...(tracing ? { grpcInterceptors: (n, a) => tracing.clientInterceptors(n, a) } : {}),
    ...(tracing ? { frameTracer: (n, a) => tracing.frameClientTracer(n, a) } : {}),
  });
  // One bound for every front door: a request beyond spec.maxInFlight is refused at once (RESOURCE_EXHAUSTED) rather
  // than queued, since a queue in front of busy nodes only turns into deadline failures (issue 11, bench/overload.ts).
  const admission = new Limiter({
    maxConcurrency: graph.maxInFlight,
    maxQueue: 0,
    what: 'executor',
    limitName: `spec.maxInFlight ${graph.maxInFlight}`,
    maxPushbackMs: graph.deadlineMs,
  });
  // Admission when the headers arrive (src/util/admission-door.ts): a retried call waits up to a fifth of the
  // deadline for a slot ahead of new calls; a new call beyond its connection's refusal rate is held at most until
  // the deadline.
  const door = admission.door({ maxRetryWaitMs: graph.deadlineMs / 5, maxHoldMs: graph.deadlineMs });
  metrics?.admission(admission);
  let draining = false;
  // A hop a draining node refused before starting it goes again (to another replica, or to the node's successor).
  const resending = new ResendNotStarted(client, () => draining);
  const hops = withHopLogger(metrics ? metrics.hops(resending) : resending, opts.hopLogger);
  const plane = new DataPlane({
    graph,
    hops,
    admission,
    ...(metrics ? { meter: metrics.requests } : {}),
    predictors:
      opts.predictors ?? new TrafficSplit(graph, hops, { ...(metrics ? { meter: metrics.requests } : {}), logger }),
    ...(opts.requestLogger ? { requestLogger: opts.requestLogger } : {}),
  });
  const bundle = createServer({
    maxMessageBytes: graph.maxMessageBytes,
    // The answer is the last node's (within its limit) with the meta merged on the way.
    maxSendBytes: graph.maxMessageBytes + hopEnvelopeBytes(graph),
    services: ['seldon.protos.Seldon', V2_SERVICE],
    reflect: graph.reflection ? { ...seldonProto().def, ...v2Proto().def } : undefined,
    interceptors: [
      admissionInterceptor(door, [SELDON_PREDICT, V2_MODEL_INFER]),
      ...(tracing?.serverInterceptors ?? []),
    ],
  });
  // Readiness is the nodes' health: NOT_SERVING while a node the graph needs is down (the runner restarts it).
  const health = watchGraphNodes(graph, opts.addresses, (ok) => bundle.setServing(ok), logger);
  const ready = (): boolean => health.allServing();
  addSeldonService(bundle.server, plane, logger);
  addV2Service(bundle.server, {
    plane,
    ready,
    ...(tracing ? { traceId: () => tracing.currentTraceId() } : {}),
    logger,
  });
  let rest: RunningRest | undefined;
  const address = await bind(bundle.server, opts.address, executorServerCredentials(graph.tls));
  try {
    if (opts.restAddress !== undefined)
      rest = await startRestServer({
        plane,
        address: opts.restAddress,
        ready,
        logger,
        ...(tracing ? { tracing } : {}),
      });
  } catch (err) {
    health.close();
    await shutdown(bundle.server);
    await client.close();
    throw err;
  }
  const framedNodes = allNodes(graph)
    .filter((n) => client.transportOf(n) === 'frames')
    .map((n) => n.name);
  const inExecutorNodes = placed.map((n) => n.name);
  logger.info(
    { graph: graph.name, address, rest: rest?.url, hopTransport: graph.hopTransport, framedNodes, inExecutorNodes },
    'executor listening',
  );
  return {
    address,
    ...(rest ? { restUrl: rest.url } : {}),
    admission,
    async close() {
      // Drain: NOT_SERVING and refuse new requests (UNAVAILABLE), let the admitted ones finish within
      // spec.drainTimeoutMs while the nodes are still up (the runner stops them after us), then stop.
      draining = true;
      health.close();
      bundle.setServing(false);
      admission.close('draining: the executor is shutting down');
      const t0 = Date.now();
      const inFlight = admission.active;
      const idle = await admission.idle(graph.drainTimeoutMs);
      logger.info({ inFlight, drained: idle, ms: Date.now() - t0 }, idle ? 'drained' : 'drain timed out');
      await Promise.all([shutdown(bundle.server), rest?.close()]);
      await client.close();
    },
  };
}
