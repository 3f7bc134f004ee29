/**
 * A token bucket in its "virtual scheduling" form (GCRA): `burst` tokens at most, refilled at `rate()` a second.
 * reserve() always books a token and says how long until it is covered, so callers beyond the bucket can be served
 * in order, each at its own time, instead of all at once when a token comes back. The rate is read at every call: the
 * admission door (src/util/admission-door.ts) ties it to how fast the limiter's slots free.
 */
export class TokenBucket {
  /** When the bucket is next full again, with every booked token paid: the theoretical arrival time. */
  private tat = -Infinity;

  constructor(
    private readonly rate: () => number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  private get intervalMs(): number {
    return 1000 / Math.max(this.rate(), 1e-3);
  }

  /** Books one token; resolves how long until it is covered, ms (0: there was one in the bucket). */
  reserve(): number {
    const t = this.now();
    const interval = this.intervalMs;
    const from = Math.max(this.tat, t);
    this.tat = from + interval;
    return Math.max(0, from - t - (this.burst - 1) * interval);
  }

  /** Gives back a token booked by reserve() and not used. */
  refund(): void {
    this.tat -= this.intervalMs;
  }

  /** Full and nothing booked: the bucket can be forgotten. */
  get idle(): boolean {
    return this.tat <= this.now();
  }
}
