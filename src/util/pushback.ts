/**
 * How long a refused caller is asked to wait before its next attempt (gRPC's `grpc-retry-pushback-ms`), for a
 * limiter of `slots` concurrent calls.
 *
 * Every attempt that finds the slots taken is a refusal whose cost (the request's bytes read and dropped, a status
 * written, on both sides) comes out of the CPU that admitted work needs; a crowd that comes straight back took 40 %
 * of the ensemble's goodput on a 2-core machine (bench/overload.ts, docs/reliability.md). Yet a slot frees about
 * every meanCall / slots, and a caller asked to wait longer than needed leaves it idle.
 *
 * So refused callers get return times on a schedule, mean call / (slots x RETRIES_PER_SLOT) apart (with a mean
 * call of 800 ms and 16 slots: one every 50 ms, 20 a second), each behind the last one given: one waiting caller
 * comes back after 50 ms, two hundred are spread over the next 10 s. Attempts then arrive at about the rate slots
 * free, however many callers wait (measured at 200 clients: 0.95-0.98 of the c=8 goodput, 36 refusals a second;
 * at two attempts per slot 0.945 and 59 a second). It spaces attempts; it does not queue, so a freed slot goes to
 * whoever asks first. The schedule never reaches beyond `maxMs` (the graph's deadline); a jitter of ± half a
 * spacing keeps returns from lining up exactly.
 */

/** Attempts per slot and mean call time that the waiting callers make, together. */
const RETRIES_PER_SLOT = 1;
/** Smoothing of the mean call time: each finished call moves it 1/16 of the way. */
const EWMA_WEIGHT = 1 / 16;
/** The mean call time assumed before any call has finished, ms. */
const INITIAL_CALL_MS = 100;
const MIN_PUSHBACK_MS = 1;

export class Pushback {
  private meanCallMs = INITIAL_CALL_MS;
  private nextReturnAt = -Infinity;

  constructor(
    private readonly slots: number,
    private readonly maxMs: number,
    private readonly now: () => number = () => performance.now(),
    private readonly random: () => number = Math.random,
  ) {}

  /** A call that held a slot finished after `ms`. */
  callFinished(ms: number): void {
    this.meanCallMs += (ms - this.meanCallMs) * EWMA_WEIGHT;
  }

  /** Time between two return times, ms. */
  get spacingMs(): number {
    return this.meanCallMs / (RETRIES_PER_SLOT * this.slots);
  }

  /** Callers holding a return time that has not come yet (an estimate: some may have gone away). */
  get waiting(): number {
    return Math.max(0, this.nextReturnAt - this.now()) / this.spacingMs;
  }

  /**
   * Records a refusal and returns the wait to ask of its caller, ms. `capMs` bounds it further for this caller (the
   * time its deadline leaves: a return after it is no use to anyone).
   */
  refused(capMs = Infinity): number {
    const t = this.now();
    const max = Math.max(MIN_PUSHBACK_MS, Math.min(this.maxMs, capMs));
    const spacing = this.spacingMs;
    const at = Math.min(t + max, Math.max(t + spacing, this.nextReturnAt));
    this.nextReturnAt = at + spacing;
    const ms = at - t + spacing * (this.random() - 0.5);
    return Math.round(Math.min(max, Math.max(MIN_PUSHBACK_MS, ms)));
  }
}
