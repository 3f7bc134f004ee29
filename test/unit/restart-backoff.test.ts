import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HEALTHY_MS, restartDelay, restartsInARow, type RestartState } from '../../src/runner/backoff';

/** The runner's restart backoff: doubling for crashes in a row, back to the start after a healthy period. */

const backoff = { initialMs: 200, maxMs: 10_000 };

/** What the supervisor does on each crash: count it (reset after a healthy run), wait, restart. */
function crash(s: RestartState, now: number): number {
  s.restarts = restartsInARow(s, now);
  const delay = restartDelay(s.restarts, backoff);
  s.restarts++;
  s.servingSince = undefined;
  return delay;
}

describe('restart backoff (src/runner/backoff.ts)', () => {
  it('doubles for crashes in a row, up to the cap', () => {
    const s: RestartState = { restarts: 0, servingSince: undefined };
    const delays = Array.from({ length: 8 }, (_, i) => {
      const d = crash(s, i * 1000);
      s.servingSince = i * 1000 + 500; // served briefly, then crashed again
      return d;
    });
    assert.deepEqual(delays, [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
  });

  it('does not grow for a process that crashed once after a long healthy run', () => {
    const s: RestartState = { restarts: 0, servingSince: 0 };
    // Crashes far apart, each after a healthy run: every restart waits the first delay.
    for (let i = 1; i <= 5; i++) {
      assert.equal(crash(s, i * 60_000), 200, `crash ${i}`);
      s.servingSince = i * 60_000 + 1000;
    }
    assert.equal(s.restarts, 1);
  });

  it('resets exactly after HEALTHY_MS of serving, not before, and never for a process that never served', () => {
    assert.equal(restartsInARow({ restarts: 3, servingSince: 1000 }, 1000 + HEALTHY_MS - 1), 3);
    assert.equal(restartsInARow({ restarts: 3, servingSince: 1000 }, 1000 + HEALTHY_MS), 0);
    assert.equal(restartsInARow({ restarts: 3, servingSince: undefined }, 10 * HEALTHY_MS), 3);
  });
});
