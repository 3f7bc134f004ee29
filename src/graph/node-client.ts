import type { ModelMetadata } from '../components/api';
import type { NodeMethod } from '../hop/vocabulary';
import type { FeedbackMessage } from '../message/feedback';
import type { InferMessage } from '../message/message';
import type { NodeSpec } from './spec';

export { NODE_METHODS, type NodeMethod } from '../hop/vocabulary';

export interface HopOptions {
  /** Absolute deadline, ms since epoch; every hop carries the same end-to-end deadline. */
  deadline: number;
  /** Aborted when the request is cancelled or a sibling branch failed. */
  signal: AbortSignal;
}

/** What a hop carries: the children's answers for aggregate, a Feedback for sendFeedback, else one message. */
export type HopInput<M extends NodeMethod> = M extends 'aggregate'
  ? InferMessage[]
  : M extends 'sendFeedback'
    ? FeedbackMessage
    : InferMessage;

/** What a hop answers: the node's message and, when the node reported it, its own compute time for the call. */
export interface HopReply {
  message: InferMessage;
  /** µs; absent when the node sent none (a foreign Seldon node). Transport time is the hop's duration minus this. */
  computeUs?: number;
}

/**
 * How the executor reaches nodes. The gRPC implementation lives in src/executor; tests use fakes. Implementations
 * throw InferError with the node's own gRPC status (CANCELLED when `signal` aborted the call), carrying the node's
 * compute time in `computeUs` when a failed call reported one.
 */
export interface NodeClient {
  call<M extends NodeMethod>(node: NodeSpec, method: M, input: HopInput<M>, opts: HopOptions): Promise<HopReply>;
  /** The node's model metadata (Seldon's Metadata rpc over gRPC); rejects when the node cannot say. */
  metadata(node: NodeSpec, opts: HopOptions): Promise<ModelMetadata>;
}
