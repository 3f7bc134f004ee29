/**
 * Admission for "at most N running, at most M waiting": the executor's in-flight bound (M = 0: refuse at once) and a
 * node's call queue (src/node/component-host.ts). The waiting part is the house's one admission mechanism, WorkQueue:
 * a waiter whose caller cancels or whose deadline passes leaves the queue then and never runs, and a slot is only
 * handed to a live waiter (WorkQueue.take checks again). Refusals are RESOURCE_EXHAUSTED naming the limit.
 */
import { Code, InferError, deadlineExceeded, resourceExhausted, unavailable } from '../errors';
import { AdmissionDoor, type DoorLimiter, type DoorOptions } from './admission-door';
import { Pushback } from './pushback';
import { WorkQueue, type Admission } from './work-queue';

export interface LimiterOptions {
  /** Calls that may run at once. */
  maxConcurrency: number;
  /** Calls that may wait for a slot; 0 refuses as soon as every slot is taken. */
  maxQueue: number;
  /** Names the limiter in messages, e.g. "executor" or "node resnet50". */
  what: string;
  /** How a full limiter is named in its refusal, e.g. "spec.maxInFlight 64". */
  limitName: string;
  /** Upper bound of the pushback a refusal asks for (retryAfterMs), ms; default 10 s. */
  maxPushbackMs?: number;
}

export class Limiter implements DoorLimiter {
  private running = 0;
  private readonly queue: WorkQueue<undefined, void> | undefined;
  private closedReason: string | undefined;
  private refusedCount = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly pushback: Pushback;
  private doorway: AdmissionDoor | undefined;

  constructor(private readonly opts: LimiterOptions) {
    if (!Number.isInteger(opts.maxConcurrency) || opts.maxConcurrency < 1) {
      throw new Error(`${opts.what}: maxConcurrency must be an integer >= 1, got ${opts.maxConcurrency}`);
    }
    if (opts.maxQueue > 0) {
      this.queue = new WorkQueue({ maxQueue: opts.maxQueue, what: opts.what, onSubmit: () => this.pump() });
    }
    this.pushback = new Pushback(opts.maxConcurrency, opts.maxPushbackMs ?? 10_000);
  }

  /** Calls running now. */
  get active(): number {
    return this.running;
  }

  /** Calls that may run at once. */
  get slots(): number {
    return this.opts.maxConcurrency;
  }

  /** Interval at which slots free (mean answered call / slots), ms: the pushback schedule's spacing. */
  get spacingMs(): number {
    return this.pushback.spacingMs;
  }

  /**
   * The limiter's admission door (src/util/admission-door.ts): fair and paced admission when the call's headers
   * arrive, for a limiter without a queue (the executor). Made once, by its first caller, with that caller's options.
   */
  door(o: Omit<DoorOptions, 'now' | 'setTimer' | 'clearTimer'>): AdmissionDoor {
    return (this.doorway ??= new AdmissionDoor(this, o));
  }

  /** The refusal for a call arriving now, counted: UNAVAILABLE when closed, else RESOURCE_EXHAUSTED with a pushback. */
  refuse(): InferError {
    const closed = this.closed();
    if (closed) return closed;
    this.refusedCount++;
    return this.full();
  }

  /** UNAVAILABLE naming why, once the limiter is closed; else undefined. */
  closed(): InferError | undefined {
    return this.closedReason === undefined ? undefined : unavailable(`${this.opts.what}: ${this.closedReason}`);
  }

  /** Calls waiting for a slot. */
  get waiting(): number {
    return this.queue?.length ?? 0;
  }

  /** Refused at admission (limiter full) since creation, waiting queue included. */
  get refused(): number {
    return this.refusedCount + (this.queue?.stats.refused ?? 0);
  }

  /** Dropped while waiting (cancelled or expired): work that was never run. */
  get dropped(): number {
    return this.queue?.stats.dropped ?? 0;
  }

  /** Why a call arriving now would be refused (closed, or full with no queue), without counting a slot; else undefined. */
  refusal(): InferError | undefined {
    if (this.closedReason !== undefined) return unavailable(`${this.opts.what}: ${this.closedReason}`);
    if (this.queue || this.running < this.opts.maxConcurrency) return undefined;
    this.refusedCount++;
    return this.full();
  }

  /** Runs `fn` when a slot is free; refuses at once when all slots and the queue are taken. */
  async run<T>(fn: () => Promise<T>, admission: Admission = {}): Promise<T> {
    if (this.closedReason !== undefined) throw unavailable(`${this.opts.what}: ${this.closedReason}`);
    // Work whose caller went away or whose deadline passed is never started, queued or not.
    if (admission.signal?.aborted) {
      throw new InferError(Code.CANCELLED, `${this.opts.what}: request cancelled before it started; it was not run`);
    }
    if (admission.deadline !== undefined && Date.now() >= admission.deadline) {
      throw deadlineExceeded(`${this.opts.what}: deadline passed before the request started; it was not run`);
    }
    if (this.running < this.opts.maxConcurrency && this.waiting === 0) {
      this.running++;
    } else if (!this.queue) {
      this.refusedCount++;
      throw this.full();
    } else {
      try {
        await this.queue.submit(undefined, admission); // resolves with the slot already counted (pump)
      } catch (err) {
        throw this.named(err);
      }
    }
    const t0 = performance.now();
    try {
      const out = await fn();
      // Only answered calls: fast failures (a node's refusal, a bad request) would make slots look quicker to free.
      this.pushback.callFinished(performance.now() - t0);
      return out;
    } finally {
      this.running--;
      this.pump();
      this.doorway?.freed();
      if (this.running === 0 && this.waiting === 0) this.idleWaiters.splice(0).forEach((f) => f());
    }
  }

  /** Refuses new calls (UNAVAILABLE) and fails waiting ones; running calls go on (see idle()). */
  close(reason: string): void {
    this.closedReason = reason;
    this.queue?.close(reason);
    this.doorway?.close();
  }

  /** Resolves when nothing runs or waits, or after `timeoutMs`; true when idle. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.running === 0 && this.waiting === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((f) => f !== done);
        resolve(false);
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(done);
    });
  }

  private full(): InferError {
    const { what, maxConcurrency, limitName } = this.opts;
    return resourceExhausted(
      `${what}: ${maxConcurrency} requests in flight (${limitName}); try again later`,
      this.pushback.refused(),
    );
  }

  private pump(): void {
    while (this.queue && this.running < this.opts.maxConcurrency) {
      const [next] = this.queue.take(1);
      if (!next) return;
      this.running++;
      next.resolve();
    }
  }

  /** A full queue's refusal names the concurrency limit too, so the caller can tell which bound was hit. */
  private named(err: unknown): unknown {
    if (err instanceof InferError && /queue full/.test(err.message)) {
      return resourceExhausted(
        `${err.message}, ${this.opts.maxConcurrency} running (${this.opts.limitName})`,
        this.pushback.refused(),
      );
    }
    return err;
  }
}
