import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Code, InferError } from '../../src/errors';
import { Budget } from '../../src/util/budget';
import { Limiter } from '../../src/util/limiter';

const codeOf = async (p: Promise<unknown>): Promise<InferError> => {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof InferError, `expected an InferError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
};

/** A call that runs until released, recording that it started. */
function gate(): { run: () => Promise<string>; started: boolean; release: () => void } {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  const g = {
    started: false,
    release: () => release(),
    run: async () => {
      g.started = true;
      await done;
      return 'ok';
    },
  };
  return g;
}

describe('Limiter (executor in-flight bound, node call queue)', () => {
  it('without a queue, refuses call N+1 at once with RESOURCE_EXHAUSTED naming the limit', async () => {
    const l = new Limiter({ maxConcurrency: 2, maxQueue: 0, what: 'executor', limitName: 'spec.maxInFlight 2' });
    const a = gate();
    const b = gate();
    const pa = l.run(a.run);
    const pb = l.run(b.run);
    const t0 = performance.now();
    const refused = await codeOf(l.run(async () => 'never'));
    assert.ok(performance.now() - t0 < 50);
    assert.equal(refused.code, Code.RESOURCE_EXHAUSTED);
    assert.equal(refused.message, 'executor: 2 requests in flight (spec.maxInFlight 2); try again later');
    assert.equal(l.refusal()?.code, Code.RESOURCE_EXHAUSTED);
    assert.equal(l.refused, 2);
    a.release();
    assert.equal(await pa, 'ok');
    assert.equal(l.refusal(), undefined, 'a slot is free again');
    b.release();
    await pb;
  });

  it('queues up to maxQueue, runs them FIFO as slots free, refuses beyond naming both limits', async () => {
    const l = new Limiter({ maxConcurrency: 1, maxQueue: 1, what: 'node m', limitName: 'runtime.maxConcurrency 1' });
    const a = gate();
    const b = gate();
    const pa = l.run(a.run);
    const pb = l.run(b.run);
    assert.equal(l.waiting, 1);
    assert.equal(b.started, false);
    const refused = await codeOf(l.run(async () => 'x'));
    assert.equal(refused.code, Code.RESOURCE_EXHAUSTED);
    assert.match(refused.message, /node m: queue full, 1 requests already waiting \(maxQueue 1\), 1 running/);
    a.release();
    await pa;
    await new Promise((r) => setImmediate(r));
    assert.equal(b.started, true);
    b.release();
    await pb;
  });

  it('never starts work whose deadline passed or whose caller cancelled, queued or not', async () => {
    const l = new Limiter({ maxConcurrency: 1, maxQueue: 4, what: 'node m', limitName: 'x' });
    let ran = 0;
    const work = async (): Promise<void> => void ran++;
    assert.equal((await codeOf(l.run(work, { deadline: Date.now() - 1 }))).code, Code.DEADLINE_EXCEEDED);
    const ac = new AbortController();
    ac.abort();
    assert.equal((await codeOf(l.run(work, { signal: ac.signal }))).code, Code.CANCELLED);
    const a = gate();
    const pa = l.run(a.run);
    const expiring = l.run(work, { deadline: Date.now() + 30 });
    const ac2 = new AbortController();
    const cancelled = l.run(work, { signal: ac2.signal });
    ac2.abort();
    assert.equal((await codeOf(cancelled)).code, Code.CANCELLED);
    assert.equal((await codeOf(expiring)).code, Code.DEADLINE_EXCEEDED);
    a.release();
    await pa;
    assert.equal(ran, 0);
    assert.equal(l.dropped, 2);
  });

  it('close refuses new calls with UNAVAILABLE and idle() waits for the running ones (drain)', async () => {
    const l = new Limiter({ maxConcurrency: 4, maxQueue: 0, what: 'executor', limitName: 'x' });
    const a = gate();
    const pa = l.run(a.run);
    l.close('draining');
    const refused = await codeOf(l.run(async () => 'x'));
    assert.equal(refused.code, Code.UNAVAILABLE);
    assert.equal(l.refusal()?.code, Code.UNAVAILABLE);
    assert.equal(await l.idle(20), false, 'still running');
    const idle = l.idle(5000);
    a.release();
    assert.equal(await pa, 'ok');
    assert.equal(await idle, true);
  });
});

describe('Budget (jpeg-input decode memory)', () => {
  it('holds at most capacity units and maxHolders at once; waiters go first come first served', async () => {
    const b = new Budget(100, 2, 'decode budget');
    const order: string[] = [];
    let peak = 0;
    const job = (name: string, units: number, ms: number) =>
      b.with(units, async () => {
        order.push(name);
        peak = Math.max(peak, b.inUse);
        await new Promise((r) => setTimeout(r, ms));
      });
    await Promise.all([job('a', 60, 30), job('b', 60, 10), job('c', 10, 10), job('d', 30, 10), job('e', 30, 10)]);
    assert.ok(peak <= 100, `peak ${peak}`);
    assert.deepEqual(order.slice(0, 2), ['a', 'b'], 'b waits for a (FIFO), c does not overtake b');
    assert.equal(b.inUse, 0);
  });

  it('a request beyond maxWaiting is refused at once with a pushback spaced by how long holders hold', async () => {
    const b = new Budget(10, 1, 'decode budget', 1);
    for (let i = 0; i < 3; i++) await b.with(10, () => new Promise((r) => setTimeout(r, 40)));
    const hold = b.with(10, () => new Promise((r) => setTimeout(r, 100)));
    const waiting = b.with(10, async () => undefined);
    const refused = await codeOf(b.with(10, async () => undefined));
    assert.equal(refused.code, Code.RESOURCE_EXHAUSTED);
    assert.match(refused.message, /decode budget: queue full, 1 requests already waiting \(maxQueue 1\)/);
    // One holder at a time, holds of ~40 ms so far (the estimate starts at 100 ms and moves 1/16 per hold).
    assert.ok(refused.retryAfterMs !== undefined && refused.retryAfterMs >= 1 && refused.retryAfterMs <= 150);
    await Promise.all([hold, waiting]);
  });

  it('a waiter whose deadline passes leaves without running', async () => {
    const b = new Budget(10, 1, 'decode budget');
    let ran = false;
    const hold = b.with(10, () => new Promise((r) => setTimeout(r, 100)));
    const late = b.with(5, async () => void (ran = true), { deadline: Date.now() + 20 });
    assert.equal((await codeOf(late)).code, Code.DEADLINE_EXCEEDED);
    await hold;
    assert.equal(ran, false);
  });
});
