/**
 * The logger's bounded queue and its senders. A request only pushes (O(1), never waits): when the queue is full the
 * event is dropped and counted, so a slow or dead sink costs the request path nothing but the push. A few senders
 * take events in order and send each with a per-send timeout; a transient failure (5xx, 429, connection refused or
 * reset, timeout) is retried with exponential backoff and jitter, a permanent one (4xx, an event that cannot be
 * encoded) is not. Seldon's executor hands each log to a goroutine and a worker pool with no bound and no retry;
 * KServe's agent logger queues with a bound; this is the bounded kind, with retry.
 */

/** A sink's failure; `transient` failures are retried. */
export class SendError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
  }
}

export interface SendQueueOptions {
  /** Events that may wait; beyond them, drops. */
  capacity: number;
  /** Sends in flight at once. */
  concurrency: number;
  /** One send's limit, ms: a hanging sink is given up on after it (a transient failure). */
  timeoutMs: number;
  /** Retries of a transient failure (0: one try). */
  maxRetries: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_QUEUE: SendQueueOptions = {
  capacity: 1000,
  concurrency: 4,
  timeoutMs: 2000,
  maxRetries: 3,
  initialBackoffMs: 100,
  maxBackoffMs: 2000,
};

/** What the queue reports: each outcome once per event (plus every retry). */
export interface QueueEvents {
  sent(): void;
  /** Given up: permanent failure, or the last retry failed. */
  failed(err: Error): void;
  dropped(): void;
  retried(): void;
}

/** The delay before retry `attempt` (1-based): doubling from the initial delay up to the cap, with ±20% jitter. */
export function backoffMs(attempt: number, o: Pick<SendQueueOptions, 'initialBackoffMs' | 'maxBackoffMs'>): number {
  const base = Math.min(o.maxBackoffMs, o.initialBackoffMs * 2 ** (attempt - 1));
  return Math.round(base * (0.8 + 0.4 * Math.random()));
}

export class SendQueue<T> {
  private readonly items: (T | undefined)[] = [];
  private head = 0;
  private busy = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  /** Backoff sleeps in progress: close() ends them. */
  private readonly sleeps = new Map<NodeJS.Timeout, () => void>();

  constructor(
    private readonly send: (item: T, signal: AbortSignal) => Promise<void>,
    private readonly o: SendQueueOptions,
    private readonly on: QueueEvents,
  ) {}

  /** Events waiting (not yet being sent). */
  get depth(): number {
    return this.items.length - this.head;
  }

  /** Events being sent (including those waiting out a backoff). */
  get inFlight(): number {
    return this.busy;
  }

  /** Enqueues without waiting; false (and a counted drop) when the queue is full or closed. */
  push(item: T): boolean {
    if (this.closed || this.depth >= this.o.capacity) {
      this.on.dropped();
      return false;
    }
    this.items.push(item);
    if (this.busy < this.o.concurrency) this.startSender();
    return true;
  }

  /** Resolves when nothing waits or is in flight, or after `timeoutMs`; true when it emptied. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.depth === 0 && this.busy === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** Stops taking events; what waits is dropped (counted), sends in flight finish or time out. */
  close(): void {
    this.closed = true;
    while (this.depth > 0) {
      this.take();
      this.on.dropped();
    }
    for (const [t, wake] of this.sleeps) {
      clearTimeout(t);
      wake();
    }
    this.sleeps.clear();
    this.checkIdle();
  }

  private take(): T | undefined {
    if (this.depth === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    // Compact now and then: the array does not grow without bound under steady traffic.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return item;
  }

  private startSender(): void {
    this.busy++;
    void this.senderLoop().finally(() => {
      this.busy--;
      this.checkIdle();
    });
  }

  private async senderLoop(): Promise<void> {
    for (let item = this.take(); item !== undefined && !this.closed; item = this.take()) {
      await this.deliver(item);
    }
  }

  private async deliver(item: T): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.sendOnce(item);
        this.on.sent();
        return;
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        const transient = !(e instanceof SendError) || e.transient;
        if (!transient || attempt >= this.o.maxRetries || this.closed) {
          this.on.failed(e);
          return;
        }
        this.on.retried();
        await this.sleep(backoffMs(attempt + 1, this.o));
        if (this.closed) {
          this.on.failed(e);
          return;
        }
      }
    }
  }

  private async sendOnce(item: T): Promise<void> {
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ac.abort();
        reject(new SendError(`no answer from the sink within ${this.o.timeoutMs} ms`, true));
      }, this.o.timeoutMs);
    });
    const sending = this.send(item, ac.signal);
    sending.catch(() => undefined); // after a timeout, its own rejection is not unhandled
    try {
      await Promise.race([sending, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.sleeps.delete(t);
        resolve();
      }, ms);
      this.sleeps.set(t, resolve);
    });
  }

  private checkIdle(): void {
    if (this.depth === 0 && this.busy === 0) {
      const ws = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of ws) w();
    }
  }
}
