import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withPushbackRetry } from '../../src/client/pushback-retry';
import { Code, InferError } from '../../src/errors';

const refusal = (retryAfterMs?: number): InferError =>
  new InferError(
    Code.RESOURCE_EXHAUSTED,
    'executor: 4 requests in flight',
    retryAfterMs === undefined ? {} : { retryAfterMs },
  );

/** An attempt that fails with `errors` in turn, then answers 'ok'; records the waits asked of `sleep`. */
function scripted(errors: InferError[]): { attempt: () => Promise<string>; calls: () => number; waits: number[] } {
  let calls = 0;
  const waits: number[] = [];
  return {
    attempt: () => {
      const e = errors[calls++];
      return e ? Promise.reject(e) : Promise.resolve('ok');
    },
    calls: () => calls,
    waits,
  };
}

describe('withPushbackRetry (eval: refused requests wait the pushback and try again)', () => {
  it("waits each refusal's pushback, then returns the answer", async () => {
    const s = scripted([refusal(40), refusal(75)]);
    const got = await withPushbackRetry(s.attempt, {
      maxAttempts: 5,
      sleep: async (ms) => void s.waits.push(ms),
    });
    assert.equal(got, 'ok');
    assert.deepEqual([s.calls(), s.waits], [3, [40, 75]]);
  });

  it('throws at once what is not a refusal with a pushback', async () => {
    for (const e of [new InferError(Code.UNAVAILABLE, 'down', { retryAfterMs: 5 }), refusal(undefined)]) {
      const s = scripted([e]);
      await assert.rejects(withPushbackRetry(s.attempt, { maxAttempts: 5, sleep: async () => undefined }), e);
      assert.equal(s.calls(), 1);
    }
  });

  it('gives up after maxAttempts, or when the wait would end after `until`', async () => {
    const s = scripted([refusal(1), refusal(1), refusal(1)]);
    await assert.rejects(withPushbackRetry(s.attempt, { maxAttempts: 2, sleep: async () => undefined }), /in flight/);
    assert.equal(s.calls(), 2);
    const late = scripted([refusal(60_000)]);
    await assert.rejects(
      withPushbackRetry(late.attempt, { maxAttempts: 5, until: Date.now() + 1000, sleep: async () => undefined }),
      /in flight/,
    );
    assert.equal(late.calls(), 1);
  });
});
