import * as grpc from '@grpc/grpc-js';
import { Code, InferError, NODE_METHOD_SET, toInferError, type CodeValue, type HopFields } from '../errors';
import { ERROR_METHOD_TRAILER, ERROR_NODE_TRAILER, NOT_STARTED_TRAILER, RETRY_PUSHBACK_TRAILER } from './trailers';

/**
 * The one place where errors become gRPC statuses (server side) and gRPC statuses become InferErrors (client
 * side). Unknown errors are INTERNAL with their message kept. An error's hop (node, method) rides in trailers, so it
 * survives the trip through the executor to the client as fields, not only as words in the message.
 */
export function toServiceError(err: unknown): Partial<grpc.StatusObject> {
  const e = toInferError(err);
  const metadata = new grpc.Metadata();
  if (e.node !== undefined) metadata.set(ERROR_NODE_TRAILER, e.node);
  if (e.method !== undefined) metadata.set(ERROR_METHOD_TRAILER, e.method);
  if (e.retryAfterMs !== undefined && e.code === Code.RESOURCE_EXHAUSTED) {
    metadata.set(RETRY_PUSHBACK_TRAILER, String(Math.max(0, Math.round(e.retryAfterMs))));
  }
  if (e.notStarted && e.code === Code.UNAVAILABLE) metadata.set(NOT_STARTED_TRAILER, '1');
  return { code: e.code, details: e.message, metadata };
}

/** The hop fields a peer sent in its error trailers (a node, or an executor relaying a node's error). */
function peerHop(err: Partial<grpc.ServiceError>): HopFields {
  const md = err.metadata instanceof grpc.Metadata ? err.metadata : undefined;
  const node = md?.get(ERROR_NODE_TRAILER)[0];
  const method = md?.get(ERROR_METHOD_TRAILER)[0];
  const out: HopFields = {};
  if (typeof node === 'string' && node) out.node = node;
  if (typeof method === 'string' && NODE_METHOD_SET.has(method)) out.method = method as HopFields['method'];
  return out;
}

/**
 * A failed client call, with the peer's own status code; `context` says which hop failed (in the message) and `hop`
 * names it as fields. Without `hop`, the fields are the ones the peer sent, if any.
 */
export function fromServiceError(err: unknown, context: string, hop: HopFields = {}): InferError {
  const se = err as Partial<grpc.ServiceError>;
  if (typeof se?.code === 'number' && se.code !== grpc.status.OK) {
    const details = se.details || se.message || 'no details';
    const fields = { ...peerHop(se), ...defined(hop) };
    // A refusal's pushback goes on with the error: an executor relaying a node's refusal passes it to its client.
    const retryAfterMs =
      retryPushbackMs(se) ??
      (err instanceof InferError && err.code === Code.RESOURCE_EXHAUSTED ? err.retryAfterMs : undefined);
    // Only the peer's own word that it did nothing: a status from the peer without the trailer may have done work.
    const notStarted =
      se.code === grpc.status.UNAVAILABLE &&
      (se.metadata instanceof grpc.Metadata
        ? se.metadata.get(NOT_STARTED_TRAILER)[0] === '1'
        : err instanceof InferError && err.notStarted === true);
    return new InferError(se.code as number as CodeValue, `${context}: ${details}`, {
      cause: err,
      ...fields,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      ...(notStarted ? { notStarted } : {}),
    });
  }
  const e = toInferError(err);
  const fields = { node: e.node, method: e.method, ...defined(hop) };
  const code = e.code === Code.OK ? Code.INTERNAL : e.code;
  const retry = e.retryAfterMs === undefined ? {} : { retryAfterMs: e.retryAfterMs };
  const notStarted = e.notStarted ? { notStarted: true } : {};
  return new InferError(code, `${context}: ${e.message}`, { cause: err, ...fields, ...retry, ...notStarted });
}

const defined = (h: HopFields): HopFields => {
  const out: HopFields = {};
  if (h.node !== undefined) out.node = h.node;
  if (h.method !== undefined) out.method = h.method;
  if (h.computeUs !== undefined) out.computeUs = h.computeUs;
  return out;
};

/** Longest pushback taken from a peer, ms: an outside server's trailer is not trusted beyond this. */
const MAX_PEER_PUSHBACK_MS = 60_000;

/**
 * The server's pushback on a refusal (RESOURCE_EXHAUSTED with `grpc-retry-pushback-ms`), ms, at most a minute;
 * undefined for other statuses, no trailer, or one that is not a non-negative integer (gRPC's "-1": do not retry).
 */
export function retryPushbackMs(err: unknown): number | undefined {
  const se = err as Partial<grpc.ServiceError> | undefined;
  if (se?.code !== grpc.status.RESOURCE_EXHAUSTED) return undefined;
  const v = se.metadata instanceof grpc.Metadata ? se.metadata.get(RETRY_PUSHBACK_TRAILER)[0] : undefined;
  const ms = typeof v === 'string' && /^\d{1,9}$/.test(v) ? Number(v) : NaN;
  return Number.isFinite(ms) ? Math.min(ms, MAX_PEER_PUSHBACK_MS) : undefined;
}
