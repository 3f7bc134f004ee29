import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Code, codeName, InferError, invalidArgument, toInferError } from '../errors';
import { httpStatusOf, retryAfterSeconds } from '../http/status';
import type { Logger } from '../util/logger';
import type { DataPlane, FrontDoor } from './data-plane';

/** What the REST front doors (seldon-rest.ts, v2-rest.ts) share: early refusal, errors, the client's cancel signal. */

/** How a door writes an error: its body for the HTTP status and the error. */
export type ErrorBody = (status: number, err: InferError) => unknown;

/** What the routes of one door share. */
export interface RestDoor {
  plane: DataPlane;
  ready: () => boolean;
  logger: Logger;
}

/** Route config: the door the route's requests are metered under, and whether it walks the graph. */
export interface RouteConfig {
  door?: FrontDoor;
  walk?: boolean;
}

/**
 * Refuses a walk when the executor is at spec.maxInFlight as soon as the request's headers are read, before its body
 * is: 429 with Retry-After from the limiter's pushback. The plane's own admission stays the authority.
 */
export function earlyAdmission(app: FastifyInstance, plane: DataPlane, errorBody: ErrorBody): void {
  app.addHook('onRequest', (req, reply, done) => {
    const config = req.routeOptions.config as RouteConfig;
    const why = config.walk ? plane.admission.refusal() : undefined;
    if (!why) return done();
    if (config.door) plane.refused(config.door, why);
    sendError(reply, why, errorBody);
  });
}

/** Fastify's own errors (body too large, unsupported content type) and the plane's, in the door's error body. */
export function doorErrors(app: FastifyInstance, plane: DataPlane, errorBody: ErrorBody, logger: Logger): void {
  app.setErrorHandler((err: FastifyError | InferError, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof InferError) return sendError(reply, err, errorBody);
    // Fastify refused the request before the route ran (its status is 4xx): said in our terms, and metered.
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
    const e =
      status === 413
        ? new InferError(Code.RESOURCE_EXHAUSTED, `request body too large: ${err.message}`)
        : status === 415
          ? invalidArgument(`${err.message}: send Content-Type: application/json (or application/octet-stream)`)
          : status < 500
            ? invalidArgument(err.message)
            : toInferError(err);
    if (status >= 500) logger.warn({ err: err.message, url: req.url }, 'REST request failed');
    const door = (req.routeOptions.config as RouteConfig | undefined)?.door;
    if (door) plane.refused(door, e, status);
    sendError(reply, e, errorBody, status);
  });
}

export function sendError(reply: FastifyReply, err: unknown, errorBody: ErrorBody, status?: number): void {
  const e = toInferError(err);
  const code = status ?? httpStatusOf(e.code);
  if (e.code === Code.RESOURCE_EXHAUSTED && e.retryAfterMs !== undefined)
    void reply.header('retry-after', String(retryAfterSeconds(e.retryAfterMs)));
  void reply.code(code).type('application/json').send(errorBody(code, e));
}

/** Aborted when the client goes away before its answer is written. */
export function clientSignal(reply: FastifyReply): AbortSignal {
  const abort = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) abort.abort();
  });
  return abort.signal;
}

export const reasonOf = (e: InferError): string => codeName(e.code);

/** The request's body as a Buffer (fastify gives one for JSON and octet-stream), or INVALID_ARGUMENT. */
export function bodyBuffer(req: FastifyRequest): Buffer {
  if (Buffer.isBuffer(req.body)) return req.body;
  throw invalidArgument('this route takes a body: send Content-Type: application/json');
}

/** JSON.parse with a 400 that names the problem. */
export function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (err) {
    throw invalidArgument(`the body is not valid JSON: ${(err as Error).message}`);
  }
}
