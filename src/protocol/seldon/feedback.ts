import { invalidArgument, toInferError } from '../../errors';
import type { FeedbackMessage } from '../../message/feedback';
import type { TensorEncoding } from '../../message/message';
import { seldonWireFromJson, seldonWireToJson } from './json';
import { fromWire, toWire } from './seldon-message';
import type { WireSeldonMessage } from './wire-types';

/**
 * Seldon's Feedback message {request=1, response=2, reward=3 (float), truth=4} between its wire object (gRPC), its
 * JSON form (REST `/api/v1.0/feedback`, the Python wrapper's `/send-feedback`) and the internal FeedbackMessage.
 * A message the sender left out stays undefined: "no response" is for the feedback walk to refuse, by name.
 */

export interface WireFeedback {
  request?: WireSeldonMessage | null;
  response?: WireSeldonMessage | null;
  reward?: number | null;
  truth?: WireSeldonMessage | null;
}

export function feedbackFromWire(w: WireFeedback): FeedbackMessage {
  const out: FeedbackMessage = { reward: typeof w.reward === 'number' ? w.reward : 0 };
  for (const k of ['request', 'response', 'truth'] as const) {
    const m = w[k];
    if (m) {
      try {
        out[k] = fromWire(m);
      } catch (err) {
        throw prefixed(k, err);
      }
    }
  }
  return out;
}

export function feedbackToWire(f: FeedbackMessage, encoding: TensorEncoding): WireFeedback {
  const w: WireFeedback = { reward: f.reward };
  if (f.request) w.request = toWire(f.request, encoding);
  if (f.response) w.response = toWire(f.response, encoding);
  if (f.truth) w.truth = toWire(f.truth, encoding);
  return w;
}

/** A Feedback JSON body as the wire object gRPC would have decoded; INVALID_ARGUMENT naming the field. */
export function feedbackWireFromJson(body: unknown): WireFeedback {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalidArgument('the body must be a JSON object (a Feedback: {request, response, reward, truth})');
  const b = body as Record<string, unknown>;
  const w: WireFeedback = {};
  if (b.reward !== undefined && b.reward !== null) {
    const r = typeof b.reward === 'string' ? Number(b.reward) : b.reward;
    if (typeof r !== 'number' || Number.isNaN(r))
      throw invalidArgument(`reward: ${JSON.stringify(b.reward)} is not a number`);
    w.reward = r;
  }
  for (const k of ['request', 'response', 'truth'] as const) {
    if (b[k] === undefined || b[k] === null) continue;
    try {
      w[k] = seldonWireFromJson(b[k]);
    } catch (err) {
      throw prefixed(k, err);
    }
  }
  return w;
}

export const feedbackFromJson = (body: unknown): FeedbackMessage => feedbackFromWire(feedbackWireFromJson(body));

/** A Feedback in its JSON form (what a REST client sends). */
export function feedbackToJson(f: FeedbackMessage, encoding: TensorEncoding): Record<string, unknown> {
  const w = feedbackToWire(f, encoding);
  const out: Record<string, unknown> = { reward: f.reward };
  for (const k of ['request', 'response', 'truth'] as const) {
    const m = w[k];
    if (m) out[k] = seldonWireToJson(m);
  }
  return out;
}

function prefixed(field: string, err: unknown): Error {
  const e = toInferError(err);
  return invalidArgument(`feedback ${field}: ${e.message}`, err);
}
