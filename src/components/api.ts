import type { Logger } from 'pino';
import type { NodeType, ParamValue } from './types';
import type { JsonValue, Meta, Metric, Payload } from '../message/message';

/**
 * The component API, for built-in and user components alike. A component receives and returns internal payloads
 * and never sees gRPC or protobuf. Throw an InferError (src/errors.ts) to answer with a specific gRPC status; any
 * other error becomes INTERNAL with its message kept. A returned payload's bytes (tensor data, binData) belong to
 * the reply from then on: large ones are written to the socket from where they are, without a copy, so a component
 * must not change or reuse that memory after returning it (return a fresh buffer per call).
 */

export interface CallContext {
  /** Request meta as received (read-only): puid, tags of upstream nodes, routing. */
  readonly meta: Readonly<Meta>;
  /** Aborted when the caller cancels or the deadline passes. Long-running work should check it. */
  readonly signal: AbortSignal;
  /** Absolute deadline in ms since epoch (Date.now() clock), if any. */
  readonly deadline?: number;
  /** Adds tags to this request's response meta. */
  addTags(tags: Record<string, JsonValue>): void;
  /** Adds a custom metric to this request's response meta. */
  addMetric(metric: Metric): void;
  /**
   * Runs `fn` as a named unit of real work (a tracing span when tracing is on; a plain call otherwise), so the
   * request timeline shows compute separately from transport.
   */
  work<T>(name: string, fn: () => Promise<T> | T, attributes?: Record<string, string | number | boolean>): Promise<T>;
}

/** What a component's sendFeedback receives (Seldon's Feedback, as payloads). */
export interface FeedbackInput {
  /** The request's payload as the client sent it ({kind: 'none'} when the feedback carried no request). */
  request: Payload;
  /** The graph's answer to it. */
  response: Payload;
  /** Seldon's reward: for the built-in bandits, the share of the request's rows that were right, 0..1. */
  reward: number;
  /** The true answer, when the client sent one. */
  truth?: Payload;
  /** For a router: the branch it chose for this request (response.meta.routing[its name]); otherwise undefined. */
  routing?: number;
}

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: (number | string)[];
}

export interface ComponentMetadata {
  platform?: string;
  versions?: string[];
  inputs?: TensorMetadata[];
  outputs?: TensorMetadata[];
}

/** A node's metadata as the graph reports it (Seldon ModelMetadata without protobuf): the component's, named. */
export interface ModelMetadata {
  name: string;
  platform: string;
  versions: string[];
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export interface Component {
  /** Heavy start-up work (loading weights). The node reports SERVING only after it resolves. */
  load?(): Promise<void>;
  predict?(input: Payload, ctx: CallContext): Promise<Payload> | Payload;
  transformInput?(input: Payload, ctx: CallContext): Promise<Payload> | Payload;
  transformOutput?(input: Payload, ctx: CallContext): Promise<Payload> | Payload;
  aggregate?(inputs: Payload[], ctx: CallContext): Promise<Payload> | Payload;
  /** Child index to send to; -1 = all children, -2 = none (the router's input is the answer). */
  route?(input: Payload, ctx: CallContext): Promise<number> | number;
  /**
   * Seldon's send_feedback: a reward (and, optionally, the truth) for an earlier request. The executor calls it on
   * every MODEL and ROUTER node on the route the request took (the answer's meta.routing); a router learns from
   * `routing`, the branch it chose then. `ctx.meta` is the answer's meta (puid, routing). What it returns, if
   * anything, goes back in the feedback's reply. Nodes whose component has no sendFeedback are skipped.
   */
  sendFeedback?(feedback: FeedbackInput, ctx: CallContext): Promise<Payload | void> | Payload | void;
  /** Static tags added to every response. */
  tags?(): Record<string, JsonValue>;
  /** Metrics added to every response. */
  metrics?(): Metric[];
  metadata?(): ComponentMetadata;
  close?(): Promise<void> | void;
}

export { NODE_TYPES, type NodeType, type ParamValue } from './types';

export type ParamType = 'string' | 'number' | 'integer' | 'boolean' | 'path';

export interface ParamSchema {
  type: ParamType;
  required?: boolean;
  default?: ParamValue;
  description: string;
}

export interface ComponentContext {
  nodeName: string;
  nodeType: NodeType;
  /** Manifest folder; 'path' parameters are already resolved against it. */
  baseDir: string;
  logger: Logger;
}

/** What a component is and takes: plain data, readable without loading the component's code. */
export interface ComponentInfo {
  /** Built-in name, e.g. 'onnx-model'. */
  name: string;
  description: string;
  /** Longer markdown for docs/components.md (`infergraph components --markdown`): behaviour, errors. */
  details?: string;
  /** The node types this component can serve. */
  types: readonly NodeType[];
  parameters: Record<string, ParamSchema>;
  /**
   * What the component answers, when that is fixed whatever its parameters: names, V2 datatypes and shapes (-1 for a
   * batch dimension). The executor's V2 metadata reports them, and a JSON answer in row form
   * (`{predictions: [{<name>: value, ...}]}`) goes to V2 clients as one tensor per declared output.
   */
  outputs?: readonly TensorMetadata[];
}

export interface ComponentDefinition extends ComponentInfo {
  /** `params` are validated against `parameters`, with defaults applied and paths resolved. */
  create(params: Record<string, ParamValue>, ctx: ComponentContext): Component | Promise<Component>;
}

/** Helper for user modules: `export default defineComponent({...})` with full type checking. */
export const defineComponent = (d: ComponentDefinition): ComponentDefinition => d;
