/**
 * The public API for user components: `import { defineComponent, invalidArgument } from 'infergraph'`.
 * Components receive and return payloads; they never see gRPC or protobuf.
 */
export { defineComponent } from './components/api';
export type {
  CallContext,
  Component,
  ComponentContext,
  ComponentDefinition,
  ComponentMetadata,
  FeedbackInput,
  ParamSchema,
} from './components/api';
export {
  Code,
  InferError,
  isInferError,
  invalidArgument,
  failedPrecondition,
  internal,
  resourceExhausted,
  unavailable,
} from './errors';
export type { InferMessage, JsonValue, Meta, Metric, Payload } from './message/message';
export { describePayload } from './message/message';
export type { DType } from './tensor/dtype';
export { fromNumbers, numel, shapeToString, toNumbers, type Tensor } from './tensor/tensor';
