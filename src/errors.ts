/**
 * The error vocabulary of the whole project. Every error that crosses a component, node or executor boundary is an
 * InferError carrying a gRPC status code; the one mapping to grpc-js ServiceError lives in src/rpc/status.ts.
 * This file deliberately does not import grpc-js so that components can throw these without seeing gRPC.
 */
import { NODE_METHODS, type NodeMethod } from './hop/vocabulary';

/** Numeric gRPC status codes (identical to grpc-js `status`). */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type CodeValue = (typeof Code)[keyof typeof Code];

export const codeName = (code: number): string =>
  (Object.keys(Code) as (keyof typeof Code)[]).find((k) => Code[k] === code) ?? `CODE_${code}`;

/** Marks InferErrors across copies of this package (a user component may bundle its own), as Temporal's SDK does. */
const BRAND = Symbol.for('infergraph.InferError');

/** For checking a method name that came over the wire. */
export const NODE_METHOD_SET: ReadonlySet<string> = new Set(NODE_METHODS);

/** The hop an error happened on, when known: set by the node host and the executor's node clients. */
export interface HopFields {
  /** Graph node name. */
  node?: string;
  /** The node method the walk called (predict, transformInput, transformOutput, route, aggregate). */
  method?: NodeMethod;
  /** The node's own compute time for the failed call (µs), when it reported one: hop metrics and timelines read it. */
  computeUs?: number;
}

export class InferError extends Error {
  readonly node?: string;
  readonly method?: NodeMethod;
  readonly computeUs?: number;
  /**
   * For a refusal (RESOURCE_EXHAUSTED): how long the caller should wait before trying again, ms. Sent to gRPC clients
   * as the `grpc-retry-pushback-ms` trailer, which grpc-js, grpc-java and grpc-python honour in their retry policies.
   */
  readonly retryAfterMs?: number;
  /**
   * The peer provably did none of the call's work (a draining node refused it, or it never left this process after
   * the node said it was going away): the one kind of failed hop that may be sent again.
   */
  readonly notStarted?: true;

  constructor(
    readonly code: CodeValue,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number; notStarted?: boolean } & HopFields,
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'InferError';
    if (options?.node !== undefined) this.node = options.node;
    if (options?.method !== undefined) this.method = options.method;
    if (options?.computeUs !== undefined) this.computeUs = options.computeUs;
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options?.notStarted) this.notStarted = true;
  }

  /** `instanceof` answers by the brand too, so it also recognises another copy's errors. */
  static override [Symbol.hasInstance](x: unknown): boolean {
    return isInferError(x);
  }
}
Object.defineProperty(InferError.prototype, BRAND, { value: true });

/**
 * True for an InferError of any copy of this package, recognised by its brand, not its class: a user component that
 * bundles its own infergraph still gets its status code through.
 */
export function isInferError(x: unknown): x is InferError {
  return (
    typeof x === 'object' &&
    x !== null &&
    (x as Record<symbol, unknown>)[BRAND] === true &&
    typeof (x as { code?: unknown }).code === 'number'
  );
}

/** The same error with its hop filled in where it had none (it keeps what it had: the deepest hop knows best). */
export function withHop(err: InferError, hop: HopFields): InferError {
  const node = err.node ?? hop.node;
  const method = err.method ?? hop.method;
  if (node === err.node && method === err.method) return err;
  const retry = err.retryAfterMs === undefined ? {} : { retryAfterMs: err.retryAfterMs };
  const out = new InferError(err.code, err.message, { cause: err.cause, node, method, ...retry });
  if (err.stack) out.stack = err.stack;
  return out;
}

export const invalidArgument = (msg: string, cause?: unknown): InferError =>
  new InferError(Code.INVALID_ARGUMENT, msg, { cause });
export const resourceExhausted = (msg: string, retryAfterMs?: number): InferError =>
  new InferError(Code.RESOURCE_EXHAUSTED, msg, retryAfterMs === undefined ? undefined : { retryAfterMs });
export const unavailable = (msg: string, cause?: unknown): InferError =>
  new InferError(Code.UNAVAILABLE, msg, { cause });
export const deadlineExceeded = (msg: string): InferError => new InferError(Code.DEADLINE_EXCEEDED, msg);
export const unimplemented = (msg: string): InferError => new InferError(Code.UNIMPLEMENTED, msg);
export const failedPrecondition = (msg: string): InferError => new InferError(Code.FAILED_PRECONDITION, msg);
export const internal = (msg: string, cause?: unknown): InferError => new InferError(Code.INTERNAL, msg, { cause });

/** Anything thrown becomes an InferError; unknown errors are INTERNAL with their message kept. */
export function toInferError(err: unknown): InferError {
  if (isInferError(err)) return err;
  if (err instanceof Error) {
    // Errors that already carry a numeric gRPC code (grpc-js ServiceError) keep it.
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number' && code > 0 && code <= 16) {
      const details = (err as { details?: unknown }).details;
      return new InferError(code as CodeValue, typeof details === 'string' && details ? details : err.message, {
        cause: err,
      });
    }
    return new InferError(Code.INTERNAL, err.message, { cause: err });
  }
  return new InferError(Code.INTERNAL, String(err));
}

/** Thrown for configuration problems found at start-up (manifests, CLI flags). Not a gRPC error. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} problems:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}
