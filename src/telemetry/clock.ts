import type { HrTime } from '@opentelemetry/api';

/**
 * Span timestamps with sub-millisecond offsets. The SDK anchors each span on Date.now(), so start times fall on
 * whole milliseconds: a 0.8 ms node span could be drawn a millisecond outside the 1.5 ms hop that contains it.
 * Our spans take their start and end from here instead: performance.now() on an epoch anchor, which is re-taken
 * whenever the wall clock has moved away from it (NTP, suspend) by more than the 1 ms that Date.now() can resolve.
 */

const CHECK_EVERY_MS = 10_000;
const MAX_DRIFT_MS = 2;

/**
 * The epoch-ms instant at which performance.now() was 0, to a few µs: wait for Date.now() to tick (≤ 1 ms), reading
 * performance.now() on both sides of the read that saw the tick. A thread descheduled between those reads (a loaded
 * machine) would anchor every later span off by its time slice, tens of ms: such a tick is measured again, up to
 * four times, and the tightest bracket kept.
 */
function anchor(): number {
  let best = { width: Infinity, origin: performance.timeOrigin };
  for (let attempt = 0; attempt < 4 && best.width > 0.1; attempt++) {
    const start = Date.now();
    let before = performance.now();
    let t = Date.now();
    let after = performance.now();
    while (t === start) {
      before = after;
      t = Date.now();
      after = performance.now();
    }
    if (after - before < best.width) best = { width: after - before, origin: t - before };
  }
  return best.origin;
}

let origin = performance.timeOrigin;
let checkedAt = 0;

export function nowMs(): number {
  const p = performance.now();
  if (p - checkedAt > CHECK_EVERY_MS) {
    checkedAt = p;
    if (Math.abs(Date.now() - (origin + p)) > MAX_DRIFT_MS) origin = anchor();
  }
  return origin + p;
}

export function nowHr(): HrTime {
  const ms = nowMs();
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.min(999_999_999, Math.round((ms - seconds * 1000) * 1e6))];
}
