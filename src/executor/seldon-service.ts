import type * as grpc from '@grpc/grpc-js';
import { Code, InferError } from '../errors';
import type { TensorEncoding } from '../message/message';
import { seldonEncoding } from '../protocol/hop-codec';
import { binaryInputMetadata, graphMetadataToWire, modelMetadataToWire } from '../protocol/seldon/metadata';
import { executorSeldonDefinition } from '../protocol/seldon/proto-loader';
import { feedbackFromWire, type WireFeedback } from '../protocol/seldon/feedback';
import { fromWire, toWire } from '../protocol/seldon/seldon-message';
import type { WireGraphMetadata, WireModelMetadata, WireSeldonMessage } from '../protocol/seldon/wire-types';
import { callScope } from '../rpc/call-scope';
import { toServiceError } from '../rpc/status';
import { logEvent } from '../util/event-log';
import { TIMELINE_HEADER, wantsTimeline } from '../telemetry/timeline';
import { grpcPin } from './predictor-pin';
import type { Logger } from '../util/logger';
import type { DataPlane } from './data-plane';

/** Seldon's gRPC API on the executor: decode, call the data plane, encode. */

export const SELDON_PREDICT = '/seldon.protos.Seldon/Predict';
const door = (method: string): { service: string } => ({ service: `/seldon.protos.Seldon/${method}` });

/** The nodes' metadata in Seldon's wire form (shared with the Seldon REST front door). */
export async function wireModels(plane: DataPlane): Promise<Record<string, WireModelMetadata>> {
  const models = await plane.models();
  return Object.fromEntries(Object.entries(models).map(([name, m]) => [name, modelMetadataToWire(m.name, m)]));
}

export async function graphMetadata(plane: DataPlane): Promise<WireGraphMetadata> {
  const models = await wireModels(plane);
  const root = plane.graph.graph;
  return graphMetadataToWire(plane.graph.name, models, [binaryInputMetadata()], models[root.name]?.outputs ?? []);
}

export async function modelMetadata(plane: DataPlane, name: string): Promise<WireModelMetadata> {
  const models = await wireModels(plane);
  const m = models[name];
  if (m) return m;
  throw new InferError(
    Code.NOT_FOUND,
    `no model named '${name}' in graph ${plane.graph.name} (models: ${Object.keys(models).join(', ')})`,
  );
}

export function addSeldonService(server: grpc.Server, plane: DataPlane, logger: Logger): void {
  const graph = plane.graph;
  const reply =
    <T>(callback: grpc.sendUnaryData<T>, what: string) =>
    (p: Promise<T>): void => {
      p.then(
        (v) => callback(null, v),
        (err: unknown) => {
          logger.debug({ err: (err as Error).message }, `${what} failed`);
          callback(toServiceError(err));
        },
      );
    };

  const predict: grpc.handleUnaryCall<WireSeldonMessage, WireSeldonMessage> = (call, callback) => {
    logEvent('e.in', 0);
    const scope = callScope(call);
    // Seldon components answer in the request's tensor form; the graph's hop codec otherwise.
    let encoding: TensorEncoding = seldonEncoding(graph.codec);
    const answer = plane.infer({
      door: { service: SELDON_PREDICT },
      decode: () => {
        const req = fromWire(call.request);
        if (req.payload.kind === 'tensor' && req.payload.encoding) encoding = req.payload.encoding;
        return req;
      },
      encode: (r) => (logEvent('e.reply', 0), toWire(r, encoding)),
      deadline: scope.deadline,
      signal: scope.signal,
      timeline: wantsTimeline(call.metadata.get(TIMELINE_HEADER)[0]),
      ...grpcPin(call),
    });
    answer.then(
      (w) => {
        scope.finish();
        callback(null, w);
        logEvent('e.out', 0);
      },
      (err: unknown) => {
        scope.finish();
        logger.debug({ err: (err as Error).message }, 'predict failed');
        callback(toServiceError(err));
      },
    );
  };

  server.addService(executorSeldonDefinition(), {
    Predict: predict,
    GraphMetadata: ((_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
      reply(
        callback,
        'GraphMetadata',
      )(plane.call(door('GraphMetadata'), () => graphMetadata(plane)))) as grpc.UntypedHandleCall,
    ModelMetadata: ((call: grpc.ServerUnaryCall<{ name?: string }, unknown>, callback: grpc.sendUnaryData<unknown>) =>
      reply(
        callback,
        'ModelMetadata',
      )(
        plane.call(door('ModelMetadata'), () => modelMetadata(plane, call.request.name ?? '')),
      )) as grpc.UntypedHandleCall,
    SendFeedback: ((call: grpc.ServerUnaryCall<WireFeedback, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const scope = callScope(call);
      const encoding = seldonEncoding(graph.codec);
      reply(
        callback,
        'SendFeedback',
      )(
        plane
          .feedback({
            door: door('SendFeedback'),
            decode: () => feedbackFromWire(call.request),
            encode: (r) => toWire(r, encoding),
            deadline: scope.deadline,
            signal: scope.signal,
            ...grpcPin(call),
          })
          .finally(() => scope.finish()),
      );
    }) as grpc.UntypedHandleCall,
  });
}
