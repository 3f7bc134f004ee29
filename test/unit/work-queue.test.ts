import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Code, InferError } from '../../src/errors';
import { Pushback } from '../../src/util/pushback';
import { WorkQueue } from '../../src/util/work-queue';

const codeOf = async (p: Promise<unknown>): Promise<InferError> => {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof InferError, `expected an InferError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
};

describe('WorkQueue', () => {
  it('admits maxQueue items, refuses item maxQueue + 1 at once: RESOURCE_EXHAUSTED naming the limit', async () => {
    const q = new WorkQueue<number, number>({ maxQueue: 3, what: 'test-model' });
    const admitted = [1, 2, 3].map((n) => q.submit(n));
    assert.equal(q.length, 3);
    const refused = await codeOf(q.submit(4));
    assert.equal(refused.code, Code.RESOURCE_EXHAUSTED);
    assert.match(refused.message, /test-model: queue full, 3 requests already waiting \(maxQueue 3\)/);
    assert.equal(q.length, 3);
    assert.deepEqual(q.stats, { admitted: 3, dropped: 0, refused: 1 });
    // Taking frees a slot: a new item is admitted again.
    const [first] = q.take();
    first?.resolve(first.item * 10);
    assert.equal(await admitted[0], 10);
    const again = q.submit(5);
    assert.equal(q.length, 3);
    for (const t of q.take(10)) t.resolve(t.item);
    assert.deepEqual(await Promise.all([admitted[1], admitted[2], again]), [2, 3, 5]);
  });

  it('with a pushback, a refusal asks the caller to come back later, never past its own deadline', async () => {
    const plain = new WorkQueue<number, number>({ maxQueue: 1, what: 'm' });
    void plain.submit(1);
    assert.equal((await codeOf(plain.submit(2))).retryAfterMs, undefined, 'no pushback unless one is given');

    let now = 0;
    const pushback = new Pushback(
      2,
      10_000,
      () => now,
      () => 0.5,
    ); // 2 slots, no jitter
    for (let i = 0; i < 16; i++) pushback.callFinished(400); // runs take ~400 ms: a slot frees every ~200 ms
    const q = new WorkQueue<number, number>({ maxQueue: 1, what: 'm', pushback });
    void q.submit(1);
    const first = await codeOf(q.submit(2));
    assert.equal(first.code, Code.RESOURCE_EXHAUSTED);
    const spacing = pushback.spacingMs;
    assert.ok(spacing > 100 && spacing < 200, `spacing ${spacing}`);
    assert.equal(first.retryAfterMs, Math.round(spacing));
    const second = await codeOf(q.submit(3));
    assert.equal(second.retryAfterMs, Math.round(2 * spacing), 'the next refused caller comes back one spacing later');
    now += 1;
    const hurried = await codeOf(q.submit(4, { deadline: Date.now() + 50 }));
    assert.ok((hurried.retryAfterMs ?? Infinity) <= 50, `capped by the deadline: ${hurried.retryAfterMs}`);
  });

  it('a waiting item whose caller cancels leaves the queue at once and is never handed out', async () => {
    const q = new WorkQueue<string, string>({ maxQueue: 4, what: 'm' });
    const ac = new AbortController();
    const a = q.submit('a');
    const b = q.submit('b', { signal: ac.signal });
    const c = q.submit('c');
    ac.abort();
    const err = await codeOf(b);
    assert.equal(err.code, Code.CANCELLED);
    assert.match(err.message, /cancelled while waiting in the queue; it was not run/);
    assert.equal(q.length, 2);
    const taken = q.take(10);
    assert.deepEqual(
      taken.map((t) => t.item),
      ['a', 'c'],
    );
    taken.forEach((t) => t.resolve(t.item));
    assert.deepEqual(await Promise.all([a, c]), ['a', 'c']);
    assert.equal(q.stats.dropped, 1);
  });

  it('a waiting item whose deadline passes is dropped with DEADLINE_EXCEEDED, by its timer or at take', async () => {
    const q = new WorkQueue<string, string>({ maxQueue: 4, what: 'm' });
    const soon = q.submit('soon', { deadline: Date.now() + 20 });
    const err = await codeOf(soon);
    assert.equal(err.code, Code.DEADLINE_EXCEEDED);
    assert.match(err.message, /deadline passed while waiting in the queue/);
    assert.equal(q.length, 0);
    // The timer may lag behind the clock: take() checks the deadline itself.
    const late = q.submit('late', { deadline: Date.now() + 5 });
    const live = q.submit('live');
    const t0 = Date.now();
    while (Date.now() < t0 + 10) {
      /* busy wait: the timer cannot fire */
    }
    const taken = q.take(10);
    assert.deepEqual(
      taken.map((t) => t.item),
      ['live'],
    );
    taken[0]?.resolve('ok');
    assert.equal((await codeOf(late)).code, Code.DEADLINE_EXCEEDED);
    assert.equal(await live, 'ok');
  });

  it('refuses already-cancelled and already-expired items at admission', async () => {
    const q = new WorkQueue<number, number>({ maxQueue: 1, what: 'm' });
    const ac = new AbortController();
    ac.abort();
    assert.equal((await codeOf(q.submit(1, { signal: ac.signal }))).code, Code.CANCELLED);
    assert.equal((await codeOf(q.submit(1, { deadline: Date.now() - 1 }))).code, Code.DEADLINE_EXCEEDED);
    assert.equal(q.length, 0);
  });

  it('take batches compatible items in arrival order and leaves the others in place', async () => {
    const q = new WorkQueue<string, string>({ maxQueue: 10, what: 'm' });
    const all = ['a1', 'b1', 'a2', 'a3', 'b2'].map((s) => q.submit(s));
    const batch = q.take(2, (first, other) => first[0] === other[0]);
    assert.deepEqual(
      batch.map((t) => t.item),
      ['a1', 'a2'],
    );
    assert.deepEqual(
      q.take(10).map((t) => t.item),
      ['b1', 'a3', 'b2'],
    );
    void all;
  });

  it('close fails waiting items with UNAVAILABLE and refuses new ones', async () => {
    const q = new WorkQueue<number, number>({ maxQueue: 2, what: 'm' });
    const a = q.submit(1);
    q.close('shutting down');
    assert.equal((await codeOf(a)).code, Code.UNAVAILABLE);
    assert.equal((await codeOf(q.submit(2))).code, Code.UNAVAILABLE);
  });

  it('rejects a maxQueue below 1', () => {
    assert.throws(() => new WorkQueue({ maxQueue: 0, what: 'm' }), /maxQueue must be an integer >= 1/);
  });
});
