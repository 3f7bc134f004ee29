import type * as grpc from '@grpc/grpc-js';
import { inferRequestFromWire, inferResponseToWire } from '../protocol/v2/infer';
import { tritonModelConfig, v2ModelMetadata, type V2ModelSpec } from '../protocol/v2/metadata';
import { V2_SERVICE, v2Proto } from '../protocol/v2/proto';
import type { WireModelInferRequest } from '../protocol/v2/wire-types';
import { callScope } from '../rpc/call-scope';
import { toServiceError } from '../rpc/status';
import { TIMELINE_HEADER, wantsTimeline } from '../telemetry/timeline';
import { grpcPin } from './predictor-pin';
import type { Logger } from '../util/logger';
import type { DataPlane } from './data-plane';
import { checkModel, declaredAnswer, graphModelSpec, SERVER_NAME, SERVER_VERSION, V2_EXTENSIONS } from './graph-model';
import { wireModels } from './seldon-service';

/**
 * The Open Inference Protocol (KServe V2) over gRPC, beside Seldon's API: the graph is one model named after the
 * graph (graph-model.ts). ModelInfer decodes, calls the data plane and encodes, as every front door does.
 */

export const V2_MODEL_INFER = `/${V2_SERVICE}/ModelInfer`;

export interface V2ServiceOptions {
  plane: DataPlane;
  /** Every node SERVING. */
  ready: () => boolean;
  /** The active trace's id when tracing is on (src/telemetry); absent, no trace_id parameter. */
  traceId?: () => string | undefined;
  logger: Logger;
}

type Handler = grpc.handleUnaryCall<unknown, unknown>;

/** Asked of the nodes on each call (metadata calls are rare; a node restarted with another model is seen). */
export const v2ModelSpec = async (plane: DataPlane): Promise<V2ModelSpec> =>
  graphModelSpec(plane.graph, await wireModels(plane));

export function addV2Service(server: grpc.Server, o: V2ServiceOptions): void {
  const { plane } = o;
  const graph = plane.graph;
  const declared = declaredAnswer(graph);
  const check = (r: Record<string, unknown>): void =>
    checkModel(graph, r.name as string | undefined, r.version as string | undefined);
  const unary =
    (method: string, fn: (req: Record<string, unknown>) => unknown): Handler =>
    (call, callback) => {
      plane
        .call({ service: `/${V2_SERVICE}/${method}` }, () => fn(call.request as Record<string, unknown>))
        .then(
          (reply) => callback(null, reply),
          (err: unknown) => callback(toServiceError(err)),
        );
    };
  const infer: Handler = (call, callback) => {
    // Read while the handler runs inside the server span's context (tracing on); later callbacks are not.
    const traceId = o.traceId?.();
    const wire = call.request as WireModelInferRequest;
    const scope = callScope(call);
    let id = '';
    let outputs: string[] = [];
    plane
      .infer({
        door: { service: V2_MODEL_INFER },
        decode: () => {
          checkModel(graph, wire.model_name, wire.model_version);
          const req = inferRequestFromWire(wire);
          id = req.id;
          outputs = req.outputs;
          return req.message;
        },
        encode: (reply) => inferResponseToWire(reply, { modelName: graph.name, id, outputs, traceId, declared }),
        deadline: scope.deadline,
        signal: scope.signal,
        timeline: wantsTimeline(call.metadata.get(TIMELINE_HEADER)[0]),
        ...grpcPin(call),
      })
      .then(
        (reply) => (scope.finish(), callback(null, reply)),
        (err: unknown) => {
          scope.finish();
          o.logger.debug({ err: (err as Error).message }, 'ModelInfer failed');
          callback(toServiceError(err));
        },
      );
  };
  const impl: Record<string, Handler> = {
    ServerLive: unary('ServerLive', () => ({ live: true })),
    ServerReady: unary('ServerReady', () => ({ ready: o.ready() })),
    ModelReady: unary('ModelReady', (r) => (check(r), { ready: o.ready() })),
    ServerMetadata: unary('ServerMetadata', () => ({
      name: SERVER_NAME,
      version: SERVER_VERSION,
      extensions: V2_EXTENSIONS,
    })),
    ModelMetadata: unary('ModelMetadata', async (r) => (check(r), v2ModelMetadata(await v2ModelSpec(plane)))),
    ModelConfig: unary('ModelConfig', async (r) => (check(r), tritonModelConfig(await v2ModelSpec(plane)))),
    ModelInfer: infer,
  };
  server.addService(v2Proto().service, impl);
}
