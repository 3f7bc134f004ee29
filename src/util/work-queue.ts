/**
 * A bounded FIFO of pending work with admission control that knows about cancellation and deadlines. It is the one
 * admission mechanism of the house: onnx-model's instance pool uses it today; executor admission and per-node queues
 * are meant to reuse it rather than grow a second one. It knows nothing about gRPC: it settles callers with
 * InferErrors (src/errors.ts) and the gRPC edge maps those to statuses.
 *
 * Semantics
 * - `submit` admits an item or refuses it at once: RESOURCE_EXHAUSTED when `maxQueue` items are already waiting
 *   (the message names the limit; with a `pushback`, it asks the caller to come back later), CANCELLED when the signal is already aborted, DEADLINE_EXCEEDED when the deadline
 *   has already passed. An admitted item waits until a consumer `take`s it; the returned promise settles with what
 *   the consumer resolves or rejects.
 * - Only waiting items count against `maxQueue`; items taken by a consumer are the consumer's to bound (a pool of N
 *   instances holds at most N batches in flight).
 * - A waiting item whose signal aborts, or whose deadline passes, leaves the queue at that moment and its caller gets
 *   CANCELLED / DEADLINE_EXCEEDED: it is never handed to a consumer, so cancelled work never runs. `take` checks both
 *   again, so an item is never handed out dead even if a timer has not fired yet.
 * - `take` is FIFO: it hands out the oldest live item, then (for batching) up to `max - 1` more that `compatible`
 *   accepts, in arrival order; items it skips keep their place.
 * - `close` refuses new items and fails every waiting one with UNAVAILABLE.
 */
import { Code, InferError, deadlineExceeded, resourceExhausted, unavailable } from '../errors';
import type { Pushback } from './pushback';

export interface Admission {
  /** Aborted when the caller goes away. */
  signal?: AbortSignal;
  /** Absolute deadline in ms since epoch (Date.now() clock). */
  deadline?: number;
}

export interface WorkQueueOptions {
  /** How many items may wait; item maxQueue + 1 is refused with RESOURCE_EXHAUSTED. At least 1. */
  maxQueue: number;
  /** Names the queue in error messages, e.g. "onnx-model resnet50.onnx". */
  what: string;
  /** Called (synchronously) after an item is admitted, so a consumer can pull it at once. */
  onSubmit?: () => void;
  /**
   * Asks refused callers to come back later (`grpc-retry-pushback-ms`), on this schedule, capped by the time each
   * caller's deadline leaves. The owner tells it how long its consumers take (Pushback.callFinished).
   */
  pushback?: Pushback;
}

/** An item handed to a consumer, which must call exactly one of resolve / reject. */
export interface TakenItem<T, R> {
  readonly item: T;
  /** When it was admitted (performance.now()). */
  readonly enqueuedAt: number;
  readonly signal?: AbortSignal;
  readonly deadline?: number;
  resolve(result: R): void;
  reject(err: unknown): void;
}

interface Entry<T, R> extends TakenItem<T, R> {
  cleanup(): void;
}

export class WorkQueue<T, R> {
  private readonly entries: Entry<T, R>[] = [];
  private closedReason: string | undefined;
  private admittedCount = 0;
  private droppedCount = 0;
  private refusedCount = 0;

  constructor(private readonly opts: WorkQueueOptions) {
    if (!Number.isInteger(opts.maxQueue) || opts.maxQueue < 1) {
      throw new Error(`${opts.what}: maxQueue must be an integer >= 1, got ${opts.maxQueue}`);
    }
  }

  /** Items waiting (not yet taken). */
  get length(): number {
    return this.entries.length;
  }

  get maxQueue(): number {
    return this.opts.maxQueue;
  }

  /** Counters since creation: admitted, dropped while waiting (cancelled or expired), refused at admission. */
  get stats(): { admitted: number; dropped: number; refused: number } {
    return { admitted: this.admittedCount, dropped: this.droppedCount, refused: this.refusedCount };
  }

  /** Arrival time of the oldest waiting item, if any (for batch delay decisions). */
  get oldestEnqueuedAt(): number | undefined {
    return this.entries[0]?.enqueuedAt;
  }

  submit(item: T, admission: Admission = {}): Promise<R> {
    const { what, maxQueue } = this.opts;
    const { signal, deadline } = admission;
    if (this.closedReason !== undefined) return Promise.reject(unavailable(`${what}: ${this.closedReason}`));
    if (signal?.aborted) return Promise.reject(cancelled(what));
    if (deadline !== undefined && Date.now() >= deadline) return Promise.reject(expired(what));
    if (this.entries.length >= maxQueue) {
      this.refusedCount++;
      const retryAfterMs = this.opts.pushback?.refused(deadline === undefined ? Infinity : deadline - Date.now());
      return Promise.reject(
        resourceExhausted(
          `${what}: queue full, ${this.entries.length} requests already waiting (maxQueue ${maxQueue})`,
          retryAfterMs,
        ),
      );
    }
    return new Promise<R>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => this.drop(entry, cancelled(what));
      const entry: Entry<T, R> = {
        item,
        enqueuedAt: performance.now(),
        signal,
        deadline,
        resolve,
        reject,
        cleanup: () => {
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (deadline !== undefined) {
        timer = setTimeout(() => this.drop(entry, expired(what)), Math.max(0, deadline - Date.now()));
      }
      this.entries.push(entry);
      this.admittedCount++;
      this.opts.onSubmit?.();
    });
  }

  /**
   * Removes and returns up to `max` live items: the oldest, then later ones `compatible` with it. Dead items met on
   * the way are settled (CANCELLED / DEADLINE_EXCEEDED) and skipped. Empty when nothing live waits.
   */
  take(max = 1, compatible: (first: T, other: T) => boolean = () => true): TakenItem<T, R>[] {
    const out: Entry<T, R>[] = [];
    for (let i = 0; i < this.entries.length && out.length < max;) {
      const e = this.entries[i] as Entry<T, R>;
      const dead = this.deadReason(e);
      if (dead) {
        this.drop(e, dead);
        continue; // drop() removed index i
      }
      const first = out[0];
      if (first === undefined || compatible(first.item, e.item)) {
        this.entries.splice(i, 1);
        e.cleanup();
        out.push(e);
      } else {
        i++;
      }
    }
    return out;
  }

  /** The oldest live item without taking it (dead ones met on the way are settled and dropped). */
  peek(): T | undefined {
    for (;;) {
      const e = this.entries[0];
      if (!e) return undefined;
      const dead = this.deadReason(e);
      if (!dead) return e.item;
      this.drop(e, dead);
    }
  }

  /** Refuses new items and fails the waiting ones with UNAVAILABLE. */
  close(reason = 'shutting down'): void {
    this.closedReason = reason;
    for (const e of this.entries.splice(0)) {
      e.cleanup();
      e.reject(unavailable(`${this.opts.what}: ${reason}`));
    }
  }

  private deadReason(e: Entry<T, R>): InferError | undefined {
    if (e.signal?.aborted) return cancelled(this.opts.what);
    if (e.deadline !== undefined && Date.now() >= e.deadline) return expired(this.opts.what);
    return undefined;
  }

  private drop(e: Entry<T, R>, err: InferError): void {
    const i = this.entries.indexOf(e);
    if (i < 0) return; // already taken or dropped
    this.entries.splice(i, 1);
    e.cleanup();
    this.droppedCount++;
    e.reject(err);
  }
}

const cancelled = (what: string): InferError =>
  new InferError(Code.CANCELLED, `${what}: request cancelled while waiting in the queue; it was not run`);
const expired = (what: string): InferError =>
  deadlineExceeded(`${what}: deadline passed while waiting in the queue; the request was not run`);
