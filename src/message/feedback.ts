import type { InferMessage } from './message';

/**
 * Seldon's Feedback without protobuf: a request, the answer the graph gave it (whose meta.routing says which branch
 * every router chose), a reward and, optionally, the truth. The executor delivers it along that route
 * (src/graph/executor.ts); each node gets the whole message. `request`, `response` and `truth` are undefined when
 * the sender left them out (protobuf defaults): the walk refuses a feedback without a response.
 */
export interface FeedbackMessage {
  request?: InferMessage;
  response?: InferMessage;
  reward: number;
  truth?: InferMessage;
}
