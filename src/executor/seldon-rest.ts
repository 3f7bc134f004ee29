import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TensorEncoding } from '../message/message';
import { seldonEncoding } from '../protocol/hop-codec';
import { seldonErrorJson, seldonFromJson, seldonToJson } from '../protocol/seldon/json';
import { TIMELINE_HEADER, wantsTimeline } from '../telemetry/timeline';
import type { FrontDoor } from './data-plane';
import { restPin } from './predictor-pin';
import {
  bodyBuffer,
  clientSignal,
  doorErrors,
  earlyAdmission,
  parseJsonBody,
  reasonOf,
  sendError,
  type ErrorBody,
  type RestDoor,
  type RouteConfig,
} from './rest-door';
import { graphMetadata, modelMetadata } from './seldon-service';
import { feedbackFromJson } from '../protocol/seldon/feedback';

/**
 * Seldon Core v1's REST API on the executor (its executor's routes): POST /api/v1.0/predictions (and v0.1),
 * POST /api/v1.0/feedback, GET /api/v1.0/metadata and /api/v1.0/metadata/{model}. Bodies are SeldonMessages in
 * JSON; the answer uses the tensor form of the request; failures are Seldon's status body. Metrics name the routes
 * as Seldon's REST server does (service predictions / feedback / metadata).
 */

/** Seldon's Seldon-Puid header: the request's puid when its meta has none; the answer's puid on the way out. */
const PUID_HEADER = 'seldon-puid';

const errorBody: ErrorBody = (status, e) => seldonErrorJson(status, e.message, reasonOf(e));
const door = (service: string, http: string): FrontDoor => ({ service, http });

export function seldonRest(app: FastifyInstance, d: RestDoor): void {
  const { plane } = d;
  earlyAdmission(app, plane, errorBody);
  doorErrors(app, plane, errorBody, d.logger);
  const predictions = door('predictions', 'POST');
  const predict = (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    let encoding: TensorEncoding = seldonEncoding(plane.graph.codec);
    return plane
      .infer({
        door: predictions,
        decode: () => {
          const msg = seldonFromJson(parseJsonBody(bodyBuffer(req)));
          const puid = req.headers[PUID_HEADER];
          if (!msg.meta.puid && typeof puid === 'string') msg.meta.puid = puid;
          if (msg.payload.kind === 'tensor' && msg.payload.encoding) encoding = msg.payload.encoding;
          return msg;
        },
        encode: (r) => ({ puid: r.meta.puid, body: JSON.stringify(seldonToJson(r, encoding)) }),
        signal: clientSignal(reply),
        timeline: wantsTimeline(req.headers[TIMELINE_HEADER]),
        ...restPin(req, reply),
      })
      .then(
        (r) => void reply.header(PUID_HEADER, r.puid).type('application/json').send(r.body),
        (err: unknown) => sendError(reply, err, errorBody),
      );
  };
  const walk: RouteConfig = { door: predictions, walk: true };
  for (const v of ['v1.0', 'v0.1']) {
    app.post(`/api/${v}/predictions`, { config: walk }, predict);
    const feedback = door('feedback', 'POST');
    app.post(`/api/${v}/feedback`, { config: { door: feedback } }, (req, reply) => {
      const encoding = seldonEncoding(plane.graph.codec);
      return plane
        .feedback({
          door: feedback,
          decode: () => feedbackFromJson(parseJsonBody(bodyBuffer(req))),
          encode: (r) => JSON.stringify(seldonToJson(r, encoding)),
          signal: clientSignal(reply),
          ...restPin(req, reply),
        })
        .then(
          (body) => void reply.type('application/json').send(body),
          (err: unknown) => sendError(reply, err, errorBody),
        );
    });
    const metadata = door('metadata', 'GET');
    app.get<{ Params: { model: string } }>(`/api/${v}/metadata/:model`, { config: { door: metadata } }, (req, reply) =>
      plane
        .call(metadata, () => modelMetadata(plane, req.params.model))
        .then(
          (m) => void reply.send(m),
          (err: unknown) => sendError(reply, err, errorBody),
        ),
    );
  }
  const graphMeta = door('metadata', 'GET');
  app.get('/api/v1.0/metadata', { config: { door: graphMeta } }, (_req, reply) =>
    plane
      .call(graphMeta, () => graphMetadata(plane))
      .then(
        (m) => void reply.send(m),
        (err: unknown) => sendError(reply, err, errorBody),
      ),
  );
}
