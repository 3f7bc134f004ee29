import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { invalidArgument } from '../errors';
import type { JsonValue } from '../message/message';
import { answerOutputs, inferRequestFromWire, PUID_PARAMETER, selectOutputs } from '../protocol/v2/infer';
import { HEADER_LENGTH, v2RequestFromHttp, v2ResponseToHttp } from '../protocol/v2/json';
import { v2ModelMetadata } from '../protocol/v2/metadata';
import { TIMELINE_HEADER, wantsTimeline } from '../telemetry/timeline';
import type { FrontDoor } from './data-plane';
import { checkModel, declaredAnswer, SERVER_NAME, SERVER_VERSION, V2_EXTENSIONS } from './graph-model';
import { restPin } from './predictor-pin';
import {
  bodyBuffer,
  clientSignal,
  doorErrors,
  earlyAdmission,
  sendError,
  type ErrorBody,
  type RestDoor,
} from './rest-door';
import { v2ModelSpec } from './v2-service';

/**
 * The Open Inference Protocol (KServe V2) over REST: health, server and model metadata, model readiness and infer,
 * with JSON tensors and Triton's binary tensor data extension. The same model checks and error statuses as the gRPC
 * service; errors are `{"error": "..."}`. Health and readiness answer 503 when not ready, so they serve as probes.
 */

const errorBody: ErrorBody = (_status, e) => ({ error: e.message });
const INFER: FrontDoor = { service: 'v2-infer', http: 'POST' };
const METADATA: FrontDoor = { service: 'v2-metadata', http: 'GET' };

type ModelParams = { Params: { model: string; version?: string } };

export function v2Rest(app: FastifyInstance, d: RestDoor): void {
  const { plane } = d;
  const graph = plane.graph;
  const declared = declaredAnswer(graph);
  earlyAdmission(app, plane, errorBody);
  doorErrors(app, plane, errorBody, d.logger);
  const readiness = (reply: FastifyReply, body: Record<string, unknown>): void => {
    const ready = d.ready();
    void reply.code(ready ? 200 : 503).send({ ...body, ready });
  };
  app.get('/v2/health/live', (_req, reply) => void reply.send({ live: true }));
  app.get('/v2/health/ready', (_req, reply) => readiness(reply, {}));
  app.get('/v2', { config: { door: METADATA } }, (_req, reply) =>
    plane
      .call(METADATA, () => ({ name: SERVER_NAME, version: SERVER_VERSION, extensions: V2_EXTENSIONS }))
      .then(
        (m) => void reply.send(m),
        (err: unknown) => sendError(reply, err, errorBody),
      ),
  );
  for (const base of ['/v2/models/:model', '/v2/models/:model/versions/:version']) {
    app.get<ModelParams>(base, { config: { door: METADATA } }, (req, reply) =>
      plane
        .call(METADATA, async () => {
          checkModel(graph, req.params.model, req.params.version);
          return jsonShapes(v2ModelMetadata(await v2ModelSpec(plane)));
        })
        .then(
          (m) => void reply.send(m),
          (err: unknown) => sendError(reply, err, errorBody),
        ),
    );
    app.get<ModelParams>(`${base}/ready`, (req, reply) => {
      try {
        checkModel(graph, req.params.model, req.params.version);
      } catch (err) {
        return sendError(reply, err, errorBody);
      }
      readiness(reply, { name: graph.name });
    });
    app.post<ModelParams>(`${base}/infer`, { config: { door: INFER, walk: true } }, (req, reply) => infer(req, reply));
  }

  const infer = (req: FastifyRequest<ModelParams>, reply: FastifyReply): Promise<void> => {
    let id = '';
    let outputs: string[] = [];
    let binaryOutput: (name: string) => boolean = () => false;
    return plane
      .infer({
        door: INFER,
        decode: () => {
          checkModel(graph, req.params.model, req.params.version);
          const http = v2RequestFromHttp(bodyBuffer(req), headerLength(req));
          binaryOutput = http.binaryOutput;
          const r = inferRequestFromWire(http.wire);
          id = r.id;
          outputs = r.outputs;
          return r.message;
        },
        encode: (reply) => {
          const parameters: Record<string, JsonValue> = {};
          if (reply.meta.puid) parameters[PUID_PARAMETER] = reply.meta.puid;
          const outs = selectOutputs(answerOutputs(reply, declared), outputs);
          return v2ResponseToHttp(outs, { modelName: graph.name, id, parameters, binaryOutput });
        },
        signal: clientSignal(reply),
        timeline: wantsTimeline(req.headers[TIMELINE_HEADER]),
        ...restPin(req, reply),
      })
      .then(
        (r) => {
          if (r.binary.length === 0) return void reply.type('application/json').send(r.json);
          void reply
            .header(HEADER_LENGTH, String(r.json.length))
            .type('application/octet-stream')
            .send(Buffer.concat([r.json, ...r.binary]));
        },
        (err: unknown) => sendError(reply, err, errorBody),
      );
  };
}

function headerLength(req: FastifyRequest): number | undefined {
  const v = req.headers[HEADER_LENGTH];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v.trim()))
    throw invalidArgument(`${HEADER_LENGTH}: '${String(v)}' is not a byte count`);
  return n;
}

/** The metadata's int64 dims (strings on the gRPC wire) as JSON numbers, as REST clients read them. */
function jsonShapes<T extends object>(m: T): T {
  const fix = (ts: unknown): unknown =>
    Array.isArray(ts) ? ts.map((t: { shape?: unknown[] }) => ({ ...t, shape: (t.shape ?? []).map(Number) })) : ts;
  const o = m as { inputs?: unknown; outputs?: unknown };
  return { ...m, inputs: fix(o.inputs), outputs: fix(o.outputs) };
}
