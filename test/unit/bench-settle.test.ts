import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { settle } from '../../src/bench/interleave';
import type { BenchTarget, Sample } from '../../src/bench/target';

/** A target that costs the bench process CPU per call, `slowMs` for its first `slowCalls` calls then `fastMs`: a JIT's warm-up. */
function warmingTarget(slowCalls: number, slowMs: number, fastMs: number): BenchTarget & { calls: number } {
  const t = {
    label: 'warming',
    calls: 0,
    send(): Promise<Sample> {
      const ms = t.calls++ < slowCalls ? slowMs : fastMs;
      const end = performance.now() + ms;
      while (performance.now() < end); // CPU, not sleep: the settling measures CPU per request from /proc
      return new Promise((resolve) => setImmediate(() => resolve({ ok: true, ms })));
    },
    firstReply: () => undefined,
    close: async () => undefined,
  };
  return t;
}

const self = () => [{ name: 'bench', role: 'client', pid: process.pid }];

describe('bench warm-up settling', { skip: process.platform !== 'linux' && 'needs /proc' }, () => {
  it('goes on while CPU per request falls and stops once it no longer does', async () => {
    const target = warmingTarget(150, 4, 1);
    const s = await settle({ target, procs: self }, 1, 6000, 500);
    assert.equal(s.settled, true, JSON.stringify(s));
    assert.ok(s.windows.length >= 2 && s.windows.length < 12, JSON.stringify(s));
    const first = s.windows[0]?.cpuMsPerRequest ?? 0;
    const last = s.windows[s.windows.length - 1]?.cpuMsPerRequest ?? 0;
    // 150 calls of 4 ms fill the first window (~125 calls); the last is at the fast cost (1 ms + the loop's own).
    // Ratios, not milliseconds: a busy loop timed by the wall clock gets less CPU on a loaded machine.
    assert.ok(last > 0 && first / last > 2, `first window ${first} ms per request, last ${last} ms`);
    assert.ok(s.seconds < 6.5);
  });

  it('settles at once on a flat cost, and stops at the budget (not settled) while the cost still falls', async () => {
    const flat = await settle({ target: warmingTarget(0, 2, 2), procs: self }, 1, 3000, 400);
    assert.equal(flat.settled, true);
    // The second window, or the third when the first carried the loop's own warm-up.
    assert.ok(flat.windows.length >= 2 && flat.windows.length <= 3, JSON.stringify(flat));
    // 4 ms for the first 120 calls, 1 ms after: the second window is far cheaper, and the budget ends there.
    const falling = await settle({ target: warmingTarget(120, 4, 1), procs: self }, 1, 900, 450);
    assert.equal(falling.settled, false, JSON.stringify(falling));
    assert.equal(falling.windows.length, 2, JSON.stringify(falling));
    assert.ok((falling.windows[1]?.cpuMsPerRequest ?? 9) < 0.8 * (falling.windows[0]?.cpuMsPerRequest ?? 0));
  });

  it('measures nothing and stops when every call fails', async () => {
    const target: BenchTarget = {
      label: 'failing',
      send: () => new Promise((resolve) => setImmediate(() => resolve({ ok: false, ms: 0, error: 'UNAVAILABLE' }))),
      firstReply: () => undefined,
      close: async () => undefined,
    };
    const s = await settle({ target, procs: self }, 2, 2000, 300);
    assert.equal(s.settled, false);
    assert.deepEqual(s.windows, []);
  });
});
