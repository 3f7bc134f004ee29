import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pushback } from '../../src/util/pushback';

/** A Pushback on a fake clock; `jitter` is what Math.random gives (0.5 = none). */
function fake(slots: number, maxMs = 10_000, jitter = 0.5): { p: Pushback; clock: { t: number } } {
  const clock = { t: 0 };
  return {
    p: new Pushback(
      slots,
      maxMs,
      () => clock.t,
      () => jitter,
    ),
    clock,
  };
}

/**
 * `clients` callers refused on every attempt (the slots stay taken), each coming back when its pushback ends, for
 * `ms` of fake time, all arriving within the first `clients` ms. Returns the refusals per second over the last half
 * and the longest wait asked then.
 */
function crowd(p: Pushback, clock: { t: number }, clients: number, ms: number): { rate: number; maxWait: number } {
  const due = Array.from({ length: clients }, (_, i) => i);
  let late = 0;
  let maxWait = 0;
  while (clock.t < ms) {
    const next = Math.min(...due);
    clock.t = next;
    const wait = p.refused();
    due[due.indexOf(next)] = next + wait;
    if (clock.t > ms / 2) {
      late++;
      maxWait = Math.max(maxWait, wait);
    }
  }
  return { rate: late / (ms / 2 / 1000), maxWait };
}

const warm = (p: Pushback, callMs: number): void => {
  for (let i = 0; i < 200; i++) p.callFinished(callMs);
};

describe('Pushback (grpc-retry-pushback-ms of a refusal)', () => {
  it('a lone refused caller comes back after one spacing: mean call / slots', () => {
    const { p } = fake(16);
    assert.equal(p.refused(), 6); // 100 ms assumed before any call finished: 100 / 16
    const { p: q, clock } = fake(16);
    warm(q, 800);
    assert.equal(q.refused(), 50);
    clock.t += 1000; // the schedule has passed: the next one is alone again
    assert.equal(q.refused(), 50);
  });

  it('callers refused together are given return times one spacing apart, in order', () => {
    const { p } = fake(16);
    warm(p, 800);
    assert.deepEqual(
      Array.from({ length: 5 }, () => p.refused()),
      [50, 100, 150, 200, 250],
    );
    assert.equal(Math.round(p.waiting), 6);
  });

  it('184 waiting callers come back 20 times a second in all (the rate slots free), not 184 times', () => {
    const { p, clock } = fake(16);
    warm(p, 800);
    const { rate, maxWait } = crowd(p, clock, 184, 120_000);
    assert.ok(rate > 18 && rate < 22, `refusals/s ${rate.toFixed(1)}`);
    assert.ok(maxWait > 8500 && maxWait < 9500, `longest wait ${maxWait} ms`); // 184 x 50 ms
  });

  it('never asks for more than maxMs, and the schedule does not run away beyond it', () => {
    const { p, clock } = fake(16, 1000);
    warm(p, 800);
    const { maxWait } = crowd(p, clock, 1000, 30_000);
    assert.ok(maxWait <= 1000, `longest wait ${maxWait}`);
    clock.t += 1100; // the crowd has gone: a newcomer is not held behind it
    assert.equal(p.refused(), 50);
  });

  it('jitters by at most half a spacing', () => {
    const lo = fake(16, 10_000, 0);
    warm(lo.p, 800);
    const hi = fake(16, 10_000, 0.999);
    warm(hi.p, 800);
    assert.deepEqual([lo.p.refused(), hi.p.refused()], [25, 75]);
  });
});
