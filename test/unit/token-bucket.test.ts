import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBucket } from '../../src/util/token-bucket';

describe('TokenBucket (virtual scheduling)', () => {
  it('gives its burst at once, then one token per interval, each booked behind the last', () => {
    const clock = { t: 0 };
    const b = new TokenBucket(
      () => 10,
      3,
      () => clock.t,
    );
    assert.deepEqual([b.reserve(), b.reserve(), b.reserve()], [0, 0, 0]);
    // Beyond the burst: 100 ms apart, in order.
    assert.deepEqual([b.reserve(), b.reserve()], [100, 200]);
    clock.t = 1000; // everything paid and refilled
    assert.equal(b.idle, true);
    assert.deepEqual([b.reserve(), b.reserve(), b.reserve(), b.reserve()], [0, 0, 0, 100]);
  });

  it('a refunded booking is given to the next caller', () => {
    const clock = { t: 0 };
    const b = new TokenBucket(
      () => 10,
      1,
      () => clock.t,
    );
    assert.equal(b.reserve(), 0);
    assert.equal(b.reserve(), 100);
    b.refund();
    assert.equal(b.reserve(), 100);
    assert.equal(b.idle, false);
  });

  it('reads its rate at every call', () => {
    const clock = { t: 0 };
    let rate = 10;
    const b = new TokenBucket(
      () => rate,
      1,
      () => clock.t,
    );
    b.reserve();
    rate = 100;
    assert.equal(b.reserve(), 100); // booked after the 100 ms interval of the token taken at rate 10
    assert.equal(b.reserve(), 110);
  });
});
