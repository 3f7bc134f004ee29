import type { InferMessage } from '../message/message';
import type { NodeSpec } from './spec';

/** The Seldon node methods the walk calls. */
export type NodeMethod = 'predict' | 'transformInput' | 'transformOutput' | 'route' | 'aggregate';

export interface HopOptions {
  /** Absolute deadline, ms since epoch; every hop carries the same end-to-end deadline. */
  deadline: number;
  /** Aborted when the request is cancelled or a sibling branch failed. */
  signal: AbortSignal;
}

/**
 * How the executor reaches nodes. The gRPC implementation lives in src/executor; tests use fakes. Implementations
 * throw InferError with the node's own gRPC status (CANCELLED when `signal` aborted the call).
 */
export interface NodeClient {
  call(node: NodeSpec, method: Exclude<NodeMethod, 'aggregate'>, input: InferMessage, opts: HopOptions): Promise<InferMessage>;
  call(node: NodeSpec, method: 'aggregate', input: InferMessage[], opts: HopOptions): Promise<InferMessage>;
}
