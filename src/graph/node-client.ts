import type { ModelMetadata } from '../components/api';
import type { InferError } from '../errors';
import type { NodeMethod } from '../message/hop';
import type { InferMessage } from '../message/message';
import type { NodeSpec } from './spec';

export { NODE_METHODS, type NodeMethod } from '../message/hop';

export interface HopOptions {
  /** Absolute deadline, ms since epoch; every hop carries the same end-to-end deadline. */
  deadline: number;
  /** Aborted when the request is cancelled or a sibling branch failed. */
  signal: AbortSignal;
}

export interface HopObserver {
  /** Called after each hop with the node's reported compute time (µs) when it sent one. */
  (node: NodeSpec, method: NodeMethod, ms: number, computeUs: number | undefined, error?: InferError): void;
}

/**
 * HopOptions with an observer of this one call: how a per-request timeline learns the node's compute time. Clients
 * that can measure it (gRPC from the trailer, in-process directly) call it; others may ignore it.
 */
export interface ObservedHopOptions extends HopOptions {
  observe?: HopObserver;
}

/**
 * How the executor reaches nodes. The gRPC implementation lives in src/executor; tests use fakes. Implementations
 * throw InferError with the node's own gRPC status (CANCELLED when `signal` aborted the call).
 */
/** What a hop carries: the children's answers for aggregate, one message for every other method. */
export type HopInput<M extends NodeMethod> = M extends 'aggregate' ? InferMessage[] : InferMessage;

export interface NodeClient {
  call<M extends NodeMethod>(node: NodeSpec, method: M, input: HopInput<M>, opts: HopOptions): Promise<InferMessage>;
  /** The node's model metadata (Seldon's Metadata rpc over gRPC); rejects when the node cannot say. */
  metadata(node: NodeSpec, opts: HopOptions): Promise<ModelMetadata>;
}
