import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Code, InferError } from '../../src/errors';
import { ResendNotStarted } from '../../src/executor/resend-not-started';
import { emptyMeta } from '../../src/message/message';
import { FakeClient, values, vec } from '../helpers/fake-client';
import { node } from '../helpers/spec';

/** The executor resends a hop only when the node provably did none of it, and stops once it drains itself. */

const m = node('m', 'MODEL');
const input = { meta: emptyMeta(), payload: vec(1) };
const opts = (ms = 2000) => ({ deadline: Date.now() + ms, signal: new AbortController().signal });
const notStarted = (): InferError =>
  new InferError(Code.UNAVAILABLE, "node 'm': draining; call not started", { notStarted: true, node: 'm' });

/** Fails its first `n` calls with `err()`, then answers. */
const failing = (n: number, err: () => Error): FakeClient => {
  let left = n;
  return new FakeClient({
    m: () => {
      if (left-- > 0) throw err();
      return vec(7);
    },
  });
};

async function failure(p: Promise<unknown>): Promise<InferError> {
  const e = await p.then(
    () => assert.fail('expected the call to fail'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof InferError, String(e));
  return e;
}

describe('ResendNotStarted', () => {
  it('while serving, resends a not-started hop until it is answered (a node being replaced)', async () => {
    const inner = failing(4, notStarted);
    const t0 = performance.now();
    const r = (await new ResendNotStarted(inner, () => false).call(m, 'predict', input, opts())).message;
    assert.deepEqual(values(r), [7]);
    assert.equal(inner.calls.length, 5);
    // 25 + 50 + 100 + 200 ms between the tries
    assert.ok(performance.now() - t0 >= 370, `resent after ${(performance.now() - t0).toFixed(0)} ms`);
  });

  it('never resends a hop the node may have started', async () => {
    const inner = failing(
      1,
      () => new InferError(Code.UNAVAILABLE, "node 'm': connection closed with the call in flight"),
    );
    const e = await failure(new ResendNotStarted(inner, () => false).call(m, 'predict', input, opts()));
    assert.match(e.message, /in flight/);
    assert.equal(inner.calls.length, 1);
  });

  it('gives up at the deadline, and the error it passes on no longer says not started', async () => {
    const inner = failing(1000, notStarted);
    const e = await failure(new ResendNotStarted(inner, () => false).call(m, 'predict', input, opts(300)));
    assert.equal(e.code, Code.UNAVAILABLE);
    assert.equal(e.notStarted, undefined);
    assert.equal(e.node, 'm');
    assert.ok(inner.calls.length >= 3 && inner.calls.length <= 6, `${inner.calls.length} tries in 300 ms`);
  });

  it('once the executor drains: one immediate resend (another replica may take it), then UNAVAILABLE', async () => {
    const once = failing(1, notStarted);
    const r = await new ResendNotStarted(once, () => true).call(m, 'predict', input, opts());
    assert.deepEqual(values(r.message), [7]);
    const always = failing(1000, notStarted);
    const t0 = performance.now();
    const e = await failure(new ResendNotStarted(always, () => true).call(m, 'predict', input, opts()));
    assert.equal(e.code, Code.UNAVAILABLE);
    assert.equal(always.calls.length, 2);
    assert.ok(performance.now() - t0 < 100);
  });
});
