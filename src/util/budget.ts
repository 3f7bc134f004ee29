/**
 * A budget of units (bytes) shared by at most `maxHolders` holders at once: jpeg-input's decode memory. A request
 * for more than is free waits, first come first served (a large image is not starved by small ones), in the house's
 * WorkQueue, so a waiter whose caller cancels or whose deadline passes leaves without ever decoding. A request for
 * more than the whole budget can never be met and is refused by the caller before it gets here. A request refused
 * because `maxWaiting` already wait is asked to come back when holders have had time to finish (the refusal's
 * pushback, spaced by how long holders hold).
 */
import { Pushback } from './pushback';
import { WorkQueue, type Admission } from './work-queue';

export class Budget {
  private used = 0;
  private holders = 0;
  private readonly queue: WorkQueue<number, void>;
  private readonly pushback: Pushback;

  constructor(
    readonly capacity: number,
    readonly maxHolders: number,
    what: string,
    maxWaiting = 256,
  ) {
    this.pushback = new Pushback(maxHolders, 10_000);
    this.queue = new WorkQueue({ maxQueue: maxWaiting, what, onSubmit: () => this.pump(), pushback: this.pushback });
  }

  get inUse(): number {
    return this.used;
  }

  /** Runs `fn` holding `units` of the budget. */
  async with<T>(units: number, fn: () => Promise<T>, admission: Admission = {}): Promise<T> {
    const n = Math.min(units, this.capacity);
    if (this.queue.length === 0 && this.fits(n)) this.hold(n);
    else await this.queue.submit(n, admission); // pump() holds the units before it resolves
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.pushback.callFinished(performance.now() - t0);
      this.used -= n;
      this.holders--;
      this.pump();
    }
  }

  private fits(n: number): boolean {
    return this.holders < this.maxHolders && this.used + n <= this.capacity;
  }

  private hold(n: number): void {
    this.used += n;
    this.holders++;
  }

  private pump(): void {
    for (;;) {
      const next = this.queue.peek();
      if (next === undefined || !this.fits(next)) return;
      const [taken] = this.queue.take(1);
      if (!taken) return;
      this.hold(taken.item);
      taken.resolve();
    }
  }
}
