import type * as grpc from '@grpc/grpc-js';
import { Code, InferError, unimplemented } from '../errors';
import { GraphExecutor } from '../graph/executor';
import { collectModelMetadata } from '../graph/metadata';
import type { NodeClient } from '../graph/node-client';
import { walkNodes, type GraphSpec, type NodeSpec } from '../graph/spec';
import type { JsonValue, TensorEncoding } from '../message/message';
import { seldonEncoding } from '../protocol/hop-codec';
import { binaryInputMetadata, graphMetadataToWire, modelMetadataToWire } from '../protocol/seldon/metadata';
import { executorSeldonDefinition, seldonProto } from '../protocol/seldon/proto-loader';
import { v2Proto, V2_SERVICE } from '../protocol/v2/proto';
import { fromWire, toWire } from '../protocol/seldon/seldon-message';
import type { WireModelMetadata, WireSeldonMessage } from '../protocol/seldon/wire-types';
import { callScope } from '../rpc/call-scope';
import { bind, createServer, shutdown } from '../rpc/server';
import { executorServerCredentials } from '../rpc/tls';
import { Limiter } from '../util/limiter';
import { toServiceError } from '../rpc/status';
import { TIMELINE_TAG, TimelineRecorder, wantsTimeline } from '../telemetry/timeline';
import type { FrameClientTracer } from '../transport/tracing';
import type { Logger } from '../util/logger';
import { HopClient } from './hop-client';
import { watchGraphNodes } from './node-health';
import { admissionInterceptor } from './admission-interceptor';
import { addV2Service } from './v2-service';
import { logEvent } from '../util/event-log';

const WALK_PATHS = ['/seldon.protos.Seldon/Predict', `/${V2_SERVICE}/ModelInfer`];

/**
 * The executor process: serves Seldon.Predict / GraphMetadata / ModelMetadata on the graph's external address and
 * walks the graph through GrpcNodeClient. The client's deadline, or the graph's default, bounds every hop.
 */

export interface ExecutorOptions {
  graph: GraphSpec;
  /** node name -> address for nodes without a manifest endpoint. */
  addresses: Record<string, string>;
  /** node name -> frame address, for nodes that listen for frames (used when the graph's hopTransport is frames) */
  framesAddresses?: Record<string, string>;
  address: string;
  logger: Logger;
  /** Tracing (src/telemetry): server interceptors for the external API, client interceptors per node channel. */
  serverInterceptors?: grpc.ServerInterceptor[];
  clientInterceptors?: (node: NodeSpec, address: string) => grpc.Interceptor[];
  /** Tracing's active trace id, echoed in V2 answers. */
  traceId?: () => string | undefined;
  /** Metrics (src/telemetry/graph-metrics.ts): sees the server before services are added, wraps the node client. */
  onServer?: (server: grpc.Server) => void;
  wrapNodeClient?: (client: NodeClient) => NodeClient;
  /** Tracing of framed hops: the same client spans as clientInterceptors give gRPC hops. */
  frameTracer?: (node: NodeSpec, address: string) => FrameClientTracer;
  /** Metrics: reads the in-flight bound's counts at scrape time. */
  onAdmission?: (admission: Limiter) => void;
}

/** What the v2 service needs of the walk: the admitted executor. */
export type Walker = Pick<GraphExecutor, 'execute'>;

export interface RunningExecutor {
  address: string;
  /** The in-flight bound (its counts feed metrics and tests). */
  admission: Limiter;
  close(): Promise<void>;
}

export async function startExecutorServer(opts: ExecutorOptions): Promise<RunningExecutor> {
  const { graph, logger } = opts;
  const client = new HopClient({
    graph,
    addresses: opts.addresses,
    ...(opts.framesAddresses ? { framesAddresses: opts.framesAddresses } : {}),
    ...(opts.clientInterceptors ? { grpcInterceptors: opts.clientInterceptors } : {}),
    ...(opts.frameTracer ? { frameTracer: opts.frameTracer } : {}),
  });
  const hops: NodeClient = opts.wrapNodeClient ? opts.wrapNodeClient(client) : client;
  const executor = new GraphExecutor(graph, hops);
  // One bound for both APIs: a request beyond spec.maxInFlight is refused at once (RESOURCE_EXHAUSTED) rather than
  // queued, since a queue in front of busy nodes only turns into deadline failures (issue 11, bench/overload.ts).
  const admission = new Limiter({
    maxConcurrency: graph.maxInFlight,
    maxQueue: 0,
    what: 'executor',
    limitName: `spec.maxInFlight ${graph.maxInFlight}`,
    maxPushbackMs: graph.deadlineMs,
  });
  opts.onAdmission?.(admission);
  const admitted: Walker = {
    execute: (req, o) => admission.run(() => executor.execute(req, o)),
  };
  const bundle = createServer({
    maxMessageBytes: graph.maxMessageBytes,
    services: ['seldon.protos.Seldon', V2_SERVICE],
    reflect: graph.reflection ? { ...seldonProto().def, ...v2Proto().def } : undefined,
    interceptors: [admissionInterceptor(admission, WALK_PATHS), ...(opts.serverInterceptors ?? [])],
  });
  opts.onServer?.(bundle.server);

  const predict: grpc.handleUnaryCall<WireSeldonMessage, WireSeldonMessage> = (call, callback) => {
    // Only an unanswered request has a walk to stop; the client's deadline, else the graph's, bounds every hop.
    logEvent('e.in', 0);
    const scope = callScope(call);
    const deadline = scope.deadline ?? Date.now() + graph.deadlineMs;
    let replyEncoding: TensorEncoding = seldonEncoding(graph.codec);
    // Only a request that asks for its hop timeline walks through a recorder (predict --trace); others pay nothing.
    const timeline = wantsTimeline(call.metadata) ? new TimelineRecorder(hops) : undefined;
    Promise.resolve()
      .then(() => {
        const req = fromWire(call.request);
        if (req.payload.kind === 'tensor' && req.payload.encoding) replyEncoding = req.payload.encoding;
        const walk = timeline ? new GraphExecutor(graph, timeline) : executor;
        return admission.run(() => walk.execute(req, { deadline, signal: scope.signal }));
      })
      .then(
        (reply) => {
          scope.finish();
          if (timeline)
            reply = {
              ...reply,
              meta: {
                ...reply.meta,
                tags: { ...reply.meta.tags, [TIMELINE_TAG]: timeline.finish() as unknown as JsonValue },
              },
            };
          logEvent('e.reply', 0);
          callback(null, toWire(reply, replyEncoding));
          logEvent('e.out', 0);
        },
        (err: unknown) => {
          scope.finish();
          logger.debug({ err: (err as Error).message }, 'predict failed');
          callback(toServiceError(err));
        },
      );
  };

  /** The nodes' metadata in Seldon's wire form, asked through the node client (best effort: collectModelMetadata). */
  const wireModels = async (): Promise<Record<string, WireModelMetadata>> => {
    const models = await collectModelMetadata(graph, client);
    return Object.fromEntries(Object.entries(models).map(([name, m]) => [name, modelMetadataToWire(m.name, m)]));
  };

  const graphMetadata: grpc.handleUnaryCall<unknown, unknown> = (_call, callback) => {
    wireModels().then(
      (models) => {
        const root = graph.graph;
        callback(
          null,
          graphMetadataToWire(graph.name, models, [binaryInputMetadata()], models[root.name]?.outputs ?? []),
        );
      },
      (err: unknown) => callback(toServiceError(err)),
    );
  };

  bundle.server.addService(executorSeldonDefinition(), {
    Predict: predict,
    GraphMetadata: graphMetadata,
    ModelMetadata: ((call: grpc.ServerUnaryCall<{ name?: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      wireModels().then(
        (models) => {
          const m = models[call.request.name ?? ''];
          if (m) callback(null, m);
          else
            callback(
              toServiceError(
                new InferError(
                  Code.NOT_FOUND,
                  `no model named '${call.request.name}' in graph ${graph.name} (models: ${Object.keys(models).join(', ')})`,
                ),
              ),
            );
        },
        (err: unknown) => callback(toServiceError(err)),
      );
    }) as grpc.UntypedHandleCall,
    SendFeedback: ((_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
      callback(
        toServiceError(unimplemented('SendFeedback is not supported by this executor')),
      )) as grpc.UntypedHandleCall,
  });
  // Readiness is the nodes' health: NOT_SERVING while a node the graph needs is down (the runner restarts it).
  const health = watchGraphNodes(graph, opts.addresses, (ok) => bundle.setServing(ok), logger);
  addV2Service(bundle.server, {
    graph,
    executor: admitted,
    nodeMetadata: wireModels,
    ready: () => health.allServing(),
    traceId: opts.traceId,
    logger,
  });
  const address = await bind(bundle.server, opts.address, executorServerCredentials(graph.tls));
  const framedNodes = walkNodes(graph.graph)
    .filter((n) => client.transportOf(n) === 'frames')
    .map((n) => n.name);
  logger.info({ graph: graph.name, address, hopTransport: graph.hopTransport, framedNodes }, 'executor listening');
  return {
    address,
    admission,
    async close() {
      // Drain: NOT_SERVING and refuse new requests (UNAVAILABLE), let the admitted ones finish within
      // spec.drainTimeoutMs while the nodes are still up (the runner stops them after us), then stop.
      health.close();
      bundle.setServing(false);
      admission.close('draining: the executor is shutting down');
      const t0 = Date.now();
      const inFlight = admission.active;
      const idle = await admission.idle(graph.drainTimeoutMs);
      logger.info({ inFlight, drained: idle, ms: Date.now() - t0 }, idle ? 'drained' : 'drain timed out');
      await shutdown(bundle.server);
      client.close();
    },
  };
}
