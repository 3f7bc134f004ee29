import type * as grpc from '@grpc/grpc-js';
import { Code, InferError } from '../errors';
import type { GraphExecutor } from '../graph/executor';
import { walkNodes, type GraphSpec, type NodeSpec } from '../graph/spec';
import { inferRequestFromWire, inferResponseToWire, TOP1_OUTPUTS } from '../protocol/v2/infer';
import { tritonModelConfig, v2ModelMetadata, type V2ModelSpec, type V2TensorSpec } from '../protocol/v2/metadata';
import { v2Proto } from '../protocol/v2/proto';
import type { WireModelInferRequest } from '../protocol/v2/wire-types';
import type { WireModelMetadata } from '../protocol/seldon/wire-types';
import { callScope } from '../rpc/call-scope';
import { toServiceError } from '../rpc/status';
import type { Logger } from '../util/logger';

/**
 * The Open Inference Protocol (KServe V2) on the executor, beside Seldon's API: the graph is one model named after
 * the graph. ModelInfer walks the same GraphExecutor as Seldon.Predict, so errors come back with the same statuses.
 * Readiness is the nodes' health (NodeHealthWatcher), not just this process being up.
 */

export const SERVER_NAME = 'infergraph';
export const SERVER_VERSION = '0.1.0';
/** Triton extension names of what this service implements beyond the core protocol. */
export const V2_EXTENSIONS = ['model_configuration', 'parameters'];
/** The graph has one version; an empty model_version means it too. */
export const MODEL_VERSION = '1';

export interface V2ServiceOptions {
  graph: GraphSpec;
  executor: Pick<GraphExecutor, 'execute'>;
  /** Model metadata of the graph's MODEL and TRANSFORMER nodes, asked of the nodes. */
  nodeMetadata: () => Promise<Record<string, WireModelMetadata>>;
  /** Every node SERVING. */
  ready: () => boolean;
  /** The active trace's id when tracing is on (src/telemetry); absent, no trace_id parameter. */
  traceId?: () => string | undefined;
  logger: Logger;
}

type Handler = grpc.handleUnaryCall<unknown, unknown>;

export function addV2Service(server: grpc.Server, o: V2ServiceOptions): void {
  const { graph } = o;
  // Asked of the nodes on each call (metadata calls are rare; a node restarted with another model is seen).
  const modelSpec = async (): Promise<V2ModelSpec> => graphModelSpec(graph, await o.nodeMetadata());
  const checkModel = (name: string | undefined, version: string | undefined): void => {
    if (name !== graph.name) {
      throw new InferError(
        Code.NOT_FOUND,
        `model '${name ?? ''}' not found: this server serves one model, '${graph.name}'`,
      );
    }
    if (version && version !== MODEL_VERSION) {
      throw new InferError(Code.NOT_FOUND, `model '${name}' has no version '${version}' (versions: ${MODEL_VERSION})`);
    }
  };
  const unary =
    (fn: (req: Record<string, unknown>, call: grpc.ServerUnaryCall<unknown, unknown>) => unknown): Handler =>
    (call, callback) => {
      Promise.resolve()
        .then(() => fn(call.request as Record<string, unknown>, call))
        .then(
          (reply) => callback(null, reply),
          (err: unknown) => callback(toServiceError(err)),
        );
    };
  const impl: Record<string, Handler> = {
    ServerLive: unary(() => ({ live: true })),
    ServerReady: unary(() => ({ ready: o.ready() })),
    ModelReady: unary((r) => {
      checkModel(r.name as string | undefined, r.version as string | undefined);
      return { ready: o.ready() };
    }),
    ServerMetadata: unary(() => ({ name: SERVER_NAME, version: SERVER_VERSION, extensions: V2_EXTENSIONS })),
    ModelMetadata: unary(async (r) => {
      checkModel(r.name as string | undefined, r.version as string | undefined);
      return v2ModelMetadata(await modelSpec());
    }),
    ModelConfig: unary(async (r) => {
      checkModel(r.name as string | undefined, r.version as string | undefined);
      return tritonModelConfig(await modelSpec());
    }),
    ModelInfer: unary((r, call) => infer(o, r, call, checkModel)),
  };
  server.addService(v2Proto().service, impl);
}

async function infer(
  o: V2ServiceOptions,
  wire: WireModelInferRequest,
  call: grpc.ServerUnaryCall<unknown, unknown>,
  checkModel: (name: string | undefined, version: string | undefined) => void,
): Promise<unknown> {
  // Read while the handler runs inside the server span's context (tracing on); later callbacks are not.
  const traceId = o.traceId?.();
  checkModel(wire.model_name, wire.model_version);
  const req = inferRequestFromWire(wire);
  const scope = callScope(call);
  const deadline = scope.deadline ?? Date.now() + o.graph.deadlineMs;
  try {
    const reply = await o.executor.execute(req.message, { deadline, signal: scope.signal });
    return inferResponseToWire(reply, { modelName: o.graph.name, id: req.id, outputs: req.outputs, traceId });
  } catch (err) {
    o.logger.debug({ err: (err as Error).message }, 'ModelInfer failed');
    throw err;
  } finally {
    scope.finish();
  }
}

/**
 * The graph as one model: its input is what the first MODEL or TRANSFORMER on the way in declares (a single BYTES
 * element, binData, when it declares nothing); its outputs are top1-output's three tensors, or the outputs of the
 * model the answer comes from (none declared when an output transformer other than top1-output has the last word).
 */
export function graphModelSpec(graph: GraphSpec, models: Record<string, WireModelMetadata>): V2ModelSpec {
  const first = walkNodes(graph.graph).find((n) => n.type === 'MODEL' || n.type === 'TRANSFORMER');
  const declared = first ? toSpecs(models[first.name]?.inputs) : [];
  const inputs: V2TensorSpec[] = declared.length > 0 ? declared : [{ name: 'input', datatype: 'BYTES', shape: [1] }];
  return {
    name: graph.name,
    platform: 'infergraph',
    versions: [MODEL_VERSION],
    inputs,
    outputs: graphOutputs(graph.graph, models),
  };
}

function graphOutputs(node: NodeSpec, models: Record<string, WireModelMetadata>): V2TensorSpec[] {
  if (node.implementation === 'top1-output') return TOP1_OUTPUTS.map((t) => ({ ...t, shape: [-1] }));
  if (node.type === 'MODEL') {
    const outs = toSpecs(models[node.name]?.outputs);
    if (outs.length > 0) return outs;
  }
  // A transformer or combiner above passes the model's answer on; its shape is the model's.
  if (node.type === 'OUTPUT_TRANSFORMER' || node.type === 'ROUTER') return [];
  const child = node.children[0];
  return child ? graphOutputs(child, models) : [];
}

function toSpecs(ts: { name?: string; datatype?: string; shape?: number[] }[] | undefined): V2TensorSpec[] {
  return (ts ?? [])
    .filter((t) => t.name && t.datatype)
    .map((t) => ({ name: t.name as string, datatype: t.datatype as string, shape: t.shape ?? [] }));
}
