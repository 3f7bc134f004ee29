/**
 * Admission at the door: decides, when a call's headers arrive and before its body is read, whether it goes on to the
 * limiter (src/util/limiter.ts), waits a little for a slot, or is refused (issue 22). Under overload with a closed
 * loop of clients the order in which freed slots are handed out decides who is served, and how fast refused clients
 * come back decides how much CPU refusals take from the admitted work. So:
 *
 * - **Retried calls go first.** A call that says it is a retry (grpc-js's `grpc-previous-rpc-attempts`, sent by a
 *   client with a retry policy after waiting the pushback) and finds no slot waits in a FIFO for the next one, up to
 *   `maxRetryWaitMs` and its deadline, if the calls ahead of it can be served in that time (one per slot-free
 *   interval); a slot that frees goes to it before any new call. A new call is refused while retries wait. Otherwise
 *   a client just answered takes back the slot it freed before a refused client returns, and under sustained overload
 *   the same few clients are served (47 of 200 before); with this each refused client is served in turn.
 * - **Refusals are paced per connection.** Each connection may be refused at the rate slots free plus the rate it is
 *   answered (a token bucket, burst = 16 times the slots). A new call beyond that waits, for a slot (then it goes on) or for its token (then
 *   it is refused). Clients that come straight back after a refusal then cost the executor a bounded number of
 *   refusals a second instead of as many as the CPU can answer (each one costs the executor ~0.4 ms of CPU with the
 *   ensemble's 100 KB JPEG, bench/refusal-cost.ts), and they are served in the order they wait. Clients that wait
 *   the pushback are refused at most about once per answered request, below the bucket, and so at once.
 *
 * The limiter's run() stays the authority; the door only counts the calls it let in until their handler starts (or
 * they end: through()), so that one freed slot does not let in a crowd whose bodies are read only for all but one to
 * be refused at run().
 */
import type { InferError } from '../errors';
import { TokenBucket } from './token-bucket';

export interface DoorLimiter {
  /** Slots of the limiter. */
  readonly slots: number;
  /** Calls holding a slot now. */
  readonly active: number;
  /** Interval at which slots free, ms (mean call / slots). */
  readonly spacingMs: number;
  /** The refusal to answer now (counted, carrying the pushback), or the closed limiter's UNAVAILABLE. */
  refuse(): InferError;
  /** Why a call is refused whatever the slots (closed), else undefined. */
  closed(): InferError | undefined;
}

export interface Knock {
  /** The call says it is a retry of a refused one. */
  retried: boolean;
  /** Names the caller's connection (the bucket key). */
  connection: string;
  /** ms until the caller's deadline (Infinity without one). */
  budgetMs: number;
}

/** Called once: undefined lets the call go on, else the refusal to answer it with. */
export type DoorAnswer = (refusal: InferError | undefined) => void;

export interface DoorOptions {
  /** Longest wait of a retried call for a slot, ms. */
  maxRetryWaitMs: number;
  /** Longest a new call beyond its connection's refusal rate is held, ms. */
  maxHoldMs: number;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

interface Waiter {
  answer: DoorAnswer;
  timer: unknown;
  bucket?: TokenBucket;
}

/** A call let in is counted as on its way to a slot for at most this long, should through() never come. */
const EN_ROUTE_MS = 30_000;
/** Buckets are kept for connections seen lately; the idle ones are dropped when there are more than this. */
const MAX_BUCKETS = 1024;
/**
 * A connection's refusals at once before the bucket paces them, per slot of the limiter: enough for the first wave of
 * a crowd on one connection (200 clients at once against 16 slots: 184 refusals), once.
 */
const BURST_PER_SLOT = 16;
/** A wait shorter than this is not worth a timer: refuse at once. */
const MIN_WAIT_MS = 1;

export class AdmissionDoor {
  private readonly retries: Waiter[] = [];
  private readonly held: Waiter[] = [];
  /** Expiry of each call let in that has not reached a slot yet, oldest first. */
  private enRoute: number[] = [];
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (t: unknown) => void;

  constructor(
    private readonly limiter: DoorLimiter,
    private readonly o: DoorOptions,
  ) {
    this.now = o.now ?? (() => performance.now());
    this.setTimer = o.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = o.clearTimer ?? ((t) => clearTimeout(t as NodeJS.Timeout));
  }

  /** Calls waiting at the door: retries for a slot, new calls beyond their connection's refusal rate. */
  get waiting(): { retries: number; held: number } {
    return { retries: this.retries.length, held: this.held.length };
  }

  /** Slots neither running nor promised to a call let in. */
  private free(): number {
    const t = this.now();
    while (this.enRoute.length > 0 && (this.enRoute[0] as number) <= t) this.enRoute.shift();
    return this.limiter.slots - this.limiter.active - this.enRoute.length;
  }

  /**
   * A call's headers arrived. `answer` is called once, now or later; the returned function withdraws the call (its
   * caller went away) without an answer.
   */
  knock(k: Knock, answer: DoorAnswer): () => void {
    const closed = this.limiter.closed();
    if (closed) {
      answer(closed);
      return noop;
    }
    this.pump();
    if (this.free() > 0 && this.retries.length === 0 && (k.retried || this.held.length === 0)) {
      this.letIn(answer);
      return noop;
    }
    if (k.retried) {
      const cap = Math.min(this.o.maxRetryWaitMs, k.budgetMs);
      if ((this.retries.length + 1) * this.limiter.spacingMs > cap) {
        answer(this.limiter.refuse());
        return noop;
      }
      return this.wait(this.retries, { answer, timer: undefined }, cap);
    }
    const bucket = this.bucket(k.connection);
    // Half the time left at most: the refusal should reach its caller well before the caller's own deadline does.
    const delay = Math.min(bucket.reserve(), this.o.maxHoldMs, k.budgetMs / 2);
    if (delay < MIN_WAIT_MS) {
      answer(this.limiter.refuse());
      return noop;
    }
    return this.wait(this.held, { answer, timer: undefined, bucket }, delay);
  }

  /** A call let in reached its handler (which takes a slot at once) or ended: it is no longer on its way. */
  through(): void {
    this.enRoute.shift();
  }

  /**
   * A call of `connection` was answered. Its client, in a closed loop, sends a new call that is likely refused (the
   * slot goes to a waiting retry): the connection's bucket gets that refusal back, so clients that wait the pushback
   * are never held however many share a connection, and a connection is refused at most as often as slots free plus
   * as often as it is answered.
   */
  answered(connection: string): void {
    const b = this.buckets.get(connection);
    if (b && !b.idle) b.refund();
  }

  /** A slot freed: it goes to a waiting retry first, then to a held new call. */
  freed(): void {
    this.pump();
  }

  /** The limiter closed: every waiting call gets its refusal now. */
  close(): void {
    for (const w of [...this.retries.splice(0), ...this.held.splice(0)]) {
      this.clearTimer(w.timer);
      w.answer(this.limiter.refuse());
    }
  }

  private pump(): void {
    while (this.retries.length + this.held.length > 0 && this.free() > 0) {
      const w = (this.retries.shift() ?? this.held.shift()) as Waiter;
      this.clearTimer(w.timer);
      w.bucket?.refund(); // it was not refused: its connection keeps the token
      this.letIn(w.answer);
    }
  }

  private letIn(answer: DoorAnswer): void {
    this.enRoute.push(this.now() + EN_ROUTE_MS);
    answer(undefined);
  }

  private wait(queue: Waiter[], w: Waiter, ms: number): () => void {
    w.timer = this.setTimer(() => {
      const i = queue.indexOf(w);
      if (i < 0) return;
      queue.splice(i, 1);
      w.answer(this.limiter.refuse());
    }, ms);
    queue.push(w);
    return () => {
      const i = queue.indexOf(w);
      if (i < 0) return;
      queue.splice(i, 1);
      this.clearTimer(w.timer);
      w.bucket?.refund();
    };
  }

  private bucket(connection: string): TokenBucket {
    let b = this.buckets.get(connection);
    if (!b) {
      if (this.buckets.size >= MAX_BUCKETS) {
        for (const [key, old] of this.buckets) if (old.idle) this.buckets.delete(key);
      }
      // Refused at most as often as slots free (plus its answers: answered()), after a burst for a crowd's first wave.
      b = new TokenBucket(() => 1000 / this.limiter.spacingMs, BURST_PER_SLOT * this.limiter.slots, this.now);
      this.buckets.set(connection, b);
    }
    return b;
  }
}

const noop = (): void => undefined;
