import { CloudEvent } from 'cloudevents';
import type { InferMessage } from '../message/message';
import { encodeBody, errorBody, type BodyProtocol } from './payload';

/**
 * One logged payload as a CloudEvent, with the attributes Seldon Core v1's executor and KServe's logger send:
 *   type          io.seldon.serving.inference.request | io.seldon.serving.inference.response
 *   id, requestid the request's puid (KServe's rule: the request and its response share it; type tells them apart)
 *   source        the executor (urn:infergraph:<namespace>:<graph>)
 *   modelid       the node logged (the graph's name for the graph's own logger)
 *   inferenceservicename, namespace, endpoint (the predictor), protocol (seldon | v2)
 * and infergraph's own: component (graph | node), method (the node call), traceparent (W3C, the request's trace),
 * truncated + payloadbytes when the payload was cut, bincontenttype for binary data (image/jpeg …).
 */

export const CE_TYPE = {
  request: 'io.seldon.serving.inference.request',
  response: 'io.seldon.serving.inference.response',
} as const;

/** What a request hands the queue: references only; the body is encoded by the sender, off the request path. */
export interface PendingEvent {
  kind: 'request' | 'response';
  puid: string;
  /** The node's name, or the graph's for the graph's logger. */
  modelId: string;
  component: 'graph' | 'node';
  /** The node method called (predict, transformInput, aggregate, transformOutput); absent for the graph. */
  method?: string;
  protocol: BodyProtocol;
  /** The message, a combiner's inputs, or the failure that answered the request. */
  body: { message: InferMessage } | { messages: InferMessage[] } | { error: unknown };
  maxPayloadBytes: number;
  traceparent?: string;
  /** ms since epoch, when it was logged. */
  time: number;
}

export interface EventContext {
  source: string;
  graph: string;
  namespace?: string;
  endpoint: string;
}

export function toCloudEvent(p: PendingEvent, ctx: EventContext): CloudEvent<unknown> {
  const ext: Record<string, string | number | boolean> = {
    requestid: p.puid,
    modelid: p.modelId,
    inferenceservicename: ctx.graph,
    endpoint: ctx.endpoint,
    protocol: p.protocol,
    component: p.component,
  };
  if (ctx.namespace) ext.namespace = ctx.namespace;
  if (p.method) ext.method = p.method;
  if (p.traceparent) ext.traceparent = p.traceparent;
  let data: Record<string, unknown>;
  if ('error' in p.body) data = errorBody(p.body.error, p.protocol);
  else {
    const b = encodeBody(
      'messages' in p.body ? p.body.messages : p.body.message,
      p.protocol,
      p.maxPayloadBytes,
      p.kind,
    );
    data = b.data;
    if (b.truncated) {
      ext.truncated = true;
      ext.payloadbytes = b.payloadBytes;
    }
    if (b.binaryType) ext.bincontenttype = b.binaryType;
  }
  return new CloudEvent({
    specversion: '1.0',
    id: p.puid,
    type: CE_TYPE[p.kind],
    source: ctx.source,
    time: new Date(p.time).toISOString(),
    datacontenttype: 'application/json',
    data,
    ...ext,
  });
}
