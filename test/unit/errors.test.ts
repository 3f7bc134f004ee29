import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { describe, it } from 'node:test';
import { Code, InferError, isInferError, toInferError, withHop } from '../../src/errors';
import { fromServiceError, retryPushbackMs, toServiceError } from '../../src/rpc/status';

const BRAND = Symbol.for('infergraph.InferError');

/** What a status object from toServiceError looks like to the peer's grpc-js: a ServiceError with trailers. */
function overTheWire(s: Partial<grpc.StatusObject>): grpc.ServiceError {
  return Object.assign(new Error(`${s.code} ${String(s.code)}: ${s.details}`), {
    code: s.code as grpc.status,
    details: s.details as string,
    metadata: s.metadata as grpc.Metadata,
  });
}

describe('InferError', () => {
  it('has a stable name and typed hop fields', () => {
    const e = new InferError(Code.INVALID_ARGUMENT, 'bad input', { node: 'resnet', method: 'predict' });
    assert.equal(e.name, 'InferError');
    assert.equal(e.node, 'resnet');
    assert.equal(e.method, 'predict');
    assert.equal(new InferError(Code.INTERNAL, 'x').node, undefined);
    assert.ok(isInferError(e));
  });

  it("recognises another copy's error by its brand (a foreign class, or a plain object)", () => {
    // A user component that bundles its own infergraph throws instances of that copy's class.
    class ForeignInferError extends Error {
      readonly code = Code.RESOURCE_EXHAUSTED;
    }
    Object.defineProperty(ForeignInferError.prototype, BRAND, { value: true });
    const foreign = new ForeignInferError('tensor too large');
    assert.ok(isInferError(foreign));
    assert.ok(foreign instanceof InferError, 'instanceof answers by the brand');
    assert.equal(toInferError(foreign), foreign);
    const s = toServiceError(foreign);
    assert.equal(s.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(s.details, 'tensor too large');

    const plain = { [BRAND]: true, code: Code.NOT_FOUND, message: 'no such model', node: 'm' };
    assert.ok(isInferError(plain));
    const p = toServiceError(plain);
    assert.equal(p.code, grpc.status.NOT_FOUND);
    assert.equal(p.details, 'no such model');
    assert.equal(p.metadata?.get('infergraph-error-node')[0], 'm');
  });

  it('does not take an unbranded error or a brand without a code for one', () => {
    assert.equal(isInferError({ code: 3, message: 'x' }), false);
    assert.equal(isInferError({ [BRAND]: true, message: 'x' }), false);
    assert.equal(isInferError(new Error('x')), false);
    assert.equal({ code: 3 } instanceof InferError, false);
    // An unbranded error with a gRPC code keeps its code (grpc-js ServiceError), else INTERNAL.
    assert.equal(toInferError(Object.assign(new Error('x'), { code: 3 })).code, Code.INVALID_ARGUMENT);
    assert.equal(toInferError(new Error('boom')).code, Code.INTERNAL);
  });

  it('keeps node and method through the status mapping, and the message users read', () => {
    const fromNode = new InferError(Code.INVALID_ARGUMENT, 'expects a tensor', {
      node: 'pre',
      method: 'transformInput',
    });
    // The executor's hop client: its own hop context in the message and the fields.
    const atExecutor = fromServiceError(
      overTheWire(toServiceError(fromNode)),
      "node 'pre' (Transformer/TransformInput)",
      {
        node: 'pre',
        method: 'transformInput',
      },
    );
    assert.equal(atExecutor.code, Code.INVALID_ARGUMENT);
    assert.equal(atExecutor.message, "node 'pre' (Transformer/TransformInput): expects a tensor");
    // The client of the executor knows no hop: the fields come from the executor's trailers.
    const atClient = fromServiceError(overTheWire(toServiceError(atExecutor)), 'executor 127.0.0.1:1');
    assert.equal(atClient.code, Code.INVALID_ARGUMENT);
    assert.equal(atClient.node, 'pre');
    assert.equal(atClient.method, 'transformInput');
    assert.equal(atClient.message, "executor 127.0.0.1:1: node 'pre' (Transformer/TransformInput): expects a tensor");
  });

  it("prefers the caller's own hop, and ignores a method name it does not know", () => {
    const md = new grpc.Metadata();
    md.set('infergraph-error-node', 'inner');
    md.set('infergraph-error-method', 'explode');
    const se = overTheWire({ code: grpc.status.UNAVAILABLE, details: 'down', metadata: md });
    const mine = fromServiceError(se, 'ctx', { node: 'outer', method: 'predict' });
    assert.equal(mine.node, 'outer');
    assert.equal(mine.method, 'predict');
    const theirs = fromServiceError(se, 'ctx');
    assert.equal(theirs.node, 'inner');
    assert.equal(theirs.method, undefined);
    // A non-gRPC failure (an undecodable reply) keeps its code and gains the hop.
    const bad = fromServiceError(new InferError(Code.INVALID_ARGUMENT, 'truncated'), 'ctx: bad reply', {
      node: 'n',
      method: 'route',
    });
    assert.deepEqual(
      [bad.code, bad.node, bad.method, bad.message],
      [Code.INVALID_ARGUMENT, 'n', 'route', 'ctx: bad reply: truncated'],
    );
  });

  it('withHop fills missing fields only', () => {
    const e = new InferError(Code.INTERNAL, 'x');
    const filled = withHop(e, { node: 'a', method: 'aggregate' });
    assert.deepEqual([filled.code, filled.message, filled.node, filled.method], [Code.INTERNAL, 'x', 'a', 'aggregate']);
    const had = new InferError(Code.INTERNAL, 'y', { node: 'deep' });
    assert.equal(withHop(had, { node: 'a' }), had);
    assert.equal(withHop(had, { node: 'a', method: 'predict' }).node, 'deep');
  });

  it("a refusal's pushback travels as grpc-retry-pushback-ms, node to executor to client, and survives withHop", () => {
    const refusal = new InferError(Code.RESOURCE_EXHAUSTED, 'node m: queue full', { retryAfterMs: 249.6 });
    const s = toServiceError(withHop(refusal, { node: 'm', method: 'predict' }));
    assert.deepEqual(s.metadata?.get('grpc-retry-pushback-ms'), ['250']);
    const atExecutor = fromServiceError(overTheWire(s), "node 'm' (Model/Predict)");
    assert.equal(atExecutor.retryAfterMs, 250);
    const atClient = fromServiceError(overTheWire(toServiceError(atExecutor)), 'executor');
    assert.deepEqual([atClient.code, atClient.retryAfterMs], [Code.RESOURCE_EXHAUSTED, 250]);
    // An InferError from another transport (frames) keeps it too.
    assert.equal(fromServiceError(refusal, 'ctx').retryAfterMs, 249.6);
  });

  it('takes a pushback only on RESOURCE_EXHAUSTED, only a non-negative integer, at most a minute', () => {
    const withTrailer = (code: grpc.status, v: string): grpc.ServiceError => {
      const md = new grpc.Metadata();
      md.set('grpc-retry-pushback-ms', v);
      return overTheWire({ code, details: 'x', metadata: md });
    };
    assert.equal(retryPushbackMs(withTrailer(grpc.status.RESOURCE_EXHAUSTED, '120')), 120);
    assert.equal(retryPushbackMs(withTrailer(grpc.status.UNAVAILABLE, '120')), undefined);
    assert.equal(retryPushbackMs(withTrailer(grpc.status.RESOURCE_EXHAUSTED, '-1')), undefined); // gRPC: do not retry
    assert.equal(retryPushbackMs(withTrailer(grpc.status.RESOURCE_EXHAUSTED, 'soon')), undefined);
    assert.equal(retryPushbackMs(withTrailer(grpc.status.RESOURCE_EXHAUSTED, '999999999')), 60_000);
    assert.equal(fromServiceError(withTrailer(grpc.status.UNAVAILABLE, '120'), 'ctx').retryAfterMs, undefined);
    // A pushback on another code is not sent.
    const odd = new InferError(Code.INTERNAL, 'x', { retryAfterMs: 5 });
    assert.deepEqual(toServiceError(odd).metadata?.get('grpc-retry-pushback-ms'), []);
  });
});
