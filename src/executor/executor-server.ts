import * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { Code, InferError, unimplemented } from '../errors';
import { GraphExecutor } from '../graph/executor';
import { walkNodes, type GraphSpec, type NodeSpec } from '../graph/spec';
import type { JsonValue, TensorEncoding } from '../message/message';
import { seldonEncoding } from '../protocol/hop-codec';
import { binaryInputMetadata, graphMetadataToWire } from '../protocol/metadata';
import { seldonProto, serviceDefinition } from '../protocol/proto-loader';
import { fromWire, toWire } from '../protocol/seldon-message';
import type { WireModelMetadata, WireSeldonMessage } from '../protocol/wire-types';
import { bind, channelLimits, createServer, shutdown } from '../rpc/server';
import { toServiceError } from '../rpc/status';
import { TIMELINE_TAG, TimelineRecorder, wantsTimeline } from '../telemetry/timeline';
import type { Logger } from '../util/logger';
import type { FrameClientTracer } from '../transport/tracing';
import { HopClient } from './hop-client';

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
  /** Tracing of framed hops: the same client spans as clientInterceptors give gRPC hops. */
  frameTracer?: (node: NodeSpec, address: string) => FrameClientTracer;
}

export interface RunningExecutor {
  address: string;
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
  const executor = new GraphExecutor(graph, client);
  const bundle = createServer({
    maxMessageBytes: graph.maxMessageBytes,
    services: ['seldon.protos.Seldon'],
    reflect: seldonProto().def,
    interceptors: opts.serverInterceptors,
  });

  const predict: grpc.handleUnaryCall<WireSeldonMessage, WireSeldonMessage> = (call, callback) => {
    const abort = new AbortController();
    // grpc-js emits 'cancelled' for every call once its stream closes: only an unanswered request has a walk to stop.
    let answered = false;
    call.on('cancelled', () => {
      if (!answered) abort.abort();
    });
    const clientDeadline = call.getDeadline();
    const d = clientDeadline instanceof Date ? clientDeadline.getTime() : Number(clientDeadline);
    const deadline = Number.isFinite(d) ? d : Date.now() + graph.deadlineMs;
    let replyEncoding: TensorEncoding = seldonEncoding(graph.codec);
    // Only a request that asks for its hop timeline walks through a recorder (predict --trace); others pay nothing.
    const timeline = wantsTimeline(call.metadata) ? new TimelineRecorder(client) : undefined;
    Promise.resolve()
      .then(() => {
        const req = fromWire(call.request);
        if (req.payload.kind === 'tensor' && req.payload.encoding) replyEncoding = req.payload.encoding;
        return (timeline ? new GraphExecutor(graph, timeline) : executor).execute(req, { deadline, signal: abort.signal });
      })
      .then(
        (reply) => {
          answered = true;
          if (timeline) reply = { ...reply, meta: { ...reply.meta, tags: { ...reply.meta.tags, [TIMELINE_TAG]: timeline.finish() as unknown as JsonValue } } };
          callback(null, toWire(reply, replyEncoding));
        },
        (err: unknown) => {
          answered = true;
          logger.debug({ err: (err as Error).message }, 'predict failed');
          callback(toServiceError(err));
        },
      );
  };

  const graphMetadata: grpc.handleUnaryCall<unknown, unknown> = (_call, callback) => {
    collectModelMetadata(graph, opts.addresses).then(
      (models) => {
        const root = graph.graph;
        callback(null, graphMetadataToWire(graph.name, models, [binaryInputMetadata()], models[root.name]?.outputs ?? []));
      },
      (err: unknown) => callback(toServiceError(err)),
    );
  };

  bundle.server.addService(serviceDefinition('Seldon'), {
    Predict: predict,
    GraphMetadata: graphMetadata,
    ModelMetadata: ((call: grpc.ServerUnaryCall<{ name?: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      collectModelMetadata(graph, opts.addresses).then((models) => {
        const m = models[call.request.name ?? ''];
        if (m) callback(null, m);
        else callback(toServiceError(new InferError(Code.NOT_FOUND, `no model named '${call.request.name}' in graph ${graph.name} (models: ${Object.keys(models).join(', ')})`)));
      }, (err: unknown) => callback(toServiceError(err)));
    }) as grpc.UntypedHandleCall,
    SendFeedback: ((_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
      callback(toServiceError(unimplemented('SendFeedback is not supported by this executor')))) as grpc.UntypedHandleCall,
  });
  const address = await bind(bundle.server, opts.address);
  bundle.setServing(true);
  const framedNodes = walkNodes(graph.graph)
    .filter((n) => client.transportOf(n) === 'frames')
    .map((n) => n.name);
  logger.info({ graph: graph.name, address, hopTransport: graph.hopTransport, framedNodes }, 'executor serving');
  return {
    address,
    async close() {
      bundle.setServing(false);
      await shutdown(bundle.server);
      client.close();
    },
  };
}

/** Model metadata of the MODEL and TRANSFORMER nodes, asked of the nodes themselves (best effort, 2 s). */
async function collectModelMetadata(graph: GraphSpec, addresses: Record<string, string>): Promise<Record<string, WireModelMetadata>> {
  const out: Record<string, WireModelMetadata> = {};
  const nodes = walkNodes(graph.graph).filter((n) => n.type === 'MODEL' || n.type === 'TRANSFORMER');
  await Promise.all(
    nodes.map(async (n) => {
      const address = addresses[n.name] ?? n.endpoint;
      const service = n.type === 'MODEL' ? 'seldon.protos.Model' : 'seldon.protos.Transformer';
      const def = (seldonProto().def[service] as Record<string, MethodDefinition<object, object>>).Metadata as MethodDefinition<object, object>;
      if (!address) return;
      const c = new grpc.Client(address, grpc.credentials.createInsecure(), channelLimits(graph.maxMessageBytes));
      try {
        out[n.name] = await new Promise<WireModelMetadata>((resolve, reject) =>
          c.makeUnaryRequest(def.path, def.requestSerialize as (v: object) => Buffer, def.responseDeserialize as (b: Buffer) => WireModelMetadata, {}, { deadline: Date.now() + 2000 }, (err, v) =>
            err || !v ? reject(err ?? new Error('empty')) : resolve(v),
          ),
        );
      } catch {
        out[n.name] = { name: n.name, versions: [], platform: n.implementation, inputs: [], outputs: [] };
      } finally {
        c.close();
      }
    }),
  );
  return out;
}
