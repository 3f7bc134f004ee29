import net from 'node:net';
import { Code, InferError } from '../errors';
import { parseFrameAddress } from './address';
import { encodeCancel, encodeRequestHead, FrameType, type BodyCodec, type Frame, type FrameMethod } from './frame';
import { FrameReader } from './reader';
import { logEvent } from '../util/event-log';

/**
 * The caller's side of the framed transport: one connection to one node, many requests in flight on it (request
 * ids), connected on first use and again after it drops. Errors are InferErrors whose messages the caller prefixes
 * with the hop (FramedNodeClient). Semantics follow the gRPC channel's as the executor configures it:
 *  - fail fast: a call while the node is down fails at once with UNAVAILABLE; reconnection is attempted on the next
 *    call after a backoff (by default 100 ms doubling to 1 s, reset by a successful connect), so a restarted node is found;
 *  - calls in flight when the connection drops fail with UNAVAILABLE;
 *  - the deadline is enforced here (DEADLINE_EXCEEDED) and by the node; giving up on a call (deadline, abort signal)
 *    sends CANCEL so the node aborts the work;
 *  - a body over the message limit is refused before it is sent, and a reply over it from its length prefix
 *    (RESOURCE_EXHAUSTED naming limit and size);
 *  - backpressure: while more than `maxQueuedBytes` wait in the socket's buffer, new frames wait for 'drain'.
 *  - drain: after the node's GOAWAY, the calls sent on that connection are still answered there; new calls go to a
 *    fresh connection. A call the node refused NOT_STARTED, or that cannot be sent because the node went away and
 *    nothing listens yet, fails UNAVAILABLE with `notStarted` set: the node did none of its work, so the caller may
 *    send it again (src/executor/resend-not-started.ts decides when).
 */

export interface FrameChannelOptions {
  maxMessageBytes: number;
  /** bytes the socket may hold unsent before new requests queue here; default 4 × maxMessageBytes, at least 8 MiB */
  maxQueuedBytes?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** connect timeout, ms */
  connectTimeoutMs?: number;
}

export interface FrameCallOptions {
  deadline: number;
  signal: AbortSignal;
  traceparent?: string;
  tracestate?: string;
}

export interface FrameResult {
  body: Buffer;
  computeUs: number | undefined;
}

interface Pending {
  resolve(r: FrameResult): void;
  reject(e: InferError): void;
  timer: NodeJS.Timeout;
  signal: AbortSignal;
  onAbort: () => void;
  /** the connection it was written to; undefined while queued */
  socket?: net.Socket;
}

interface Queued {
  id: number;
  head: Buffer;
  /** the body's buffers, written after the head in one writev (never copied into one) */
  body: readonly Buffer[];
  bodyLength: number;
}

export class FrameChannel {
  private socket: net.Socket | undefined;
  private connected = false;
  private connecting: Promise<void> | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly queue: Queued[] = [];
  private nextId = 1;
  private retryAt = 0;
  private backoffMs: number;
  private lastError = '';
  private readonly maxQueuedBytes: number;
  private closed = false;
  /** the node sent GOAWAY and no connection has been made since: calls that cannot go out were never started */
  private goneAway = false;
  /** connections the node sent GOAWAY on, still answering the calls written to them */
  private readonly leaving = new Set<net.Socket>();

  constructor(
    readonly address: string,
    private readonly opts: FrameChannelOptions,
  ) {
    parseFrameAddress(address);
    this.backoffMs = opts.initialBackoffMs ?? 100;
    this.maxQueuedBytes = opts.maxQueuedBytes ?? Math.max(8 * 2 ** 20, 4 * opts.maxMessageBytes);
  }

  /** Requests in flight (sent or queued, not yet answered). */
  get inFlight(): number {
    return this.pending.size;
  }

  /** `body`: one buffer, or several to be sent one after the other as one body. */
  call(
    method: FrameMethod,
    codec: BodyCodec,
    body: Buffer | readonly Buffer[],
    o: FrameCallOptions,
  ): Promise<FrameResult> {
    if (this.closed) return Promise.reject(new InferError(Code.UNAVAILABLE, 'channel closed'));
    if (o.signal.aborted) return Promise.reject(new InferError(Code.CANCELLED, 'cancelled before the call'));
    const parts = Buffer.isBuffer(body) ? [body] : body;
    let bodyLength = 0;
    for (const p of parts) bodyLength += p.length;
    if (bodyLength > this.opts.maxMessageBytes) {
      return Promise.reject(
        new InferError(
          Code.RESOURCE_EXHAUSTED,
          `request of ${bodyLength} bytes is over the message limit of ${this.opts.maxMessageBytes} bytes`,
        ),
      );
    }
    const left = o.deadline - Date.now();
    if (left <= 0) return Promise.reject(new InferError(Code.DEADLINE_EXCEEDED, 'deadline passed before the call'));
    if (!this.connected && !this.connecting && Date.now() < this.retryAt) {
      return Promise.reject(
        new InferError(
          Code.UNAVAILABLE,
          `not connected (${this.lastError}); next attempt in ${this.retryAt - Date.now()} ms`,
          { notStarted: this.goneAway },
        ),
      );
    }
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    const head = encodeRequestHead({
      id,
      method,
      codec,
      deadline: o.deadline,
      traceparent: o.traceparent,
      tracestate: o.tracestate,
      bodyLength,
    });
    return new Promise<FrameResult>((resolve, reject) => {
      const onAbort = (): void => this.giveUp(id, new InferError(Code.CANCELLED, 'cancelled'));
      const timer = setTimeout(
        () => this.giveUp(id, new InferError(Code.DEADLINE_EXCEEDED, `deadline exceeded after ${left} ms`)),
        left,
      );
      this.pending.set(id, { resolve, reject, timer, signal: o.signal, onAbort });
      o.signal.addEventListener('abort', onAbort, { once: true });
      if (this.connected) this.write({ id, head, body: parts, bodyLength });
      else {
        this.queue.push({ id, head, body: parts, bodyLength });
        this.connect();
      }
    });
  }

  close(): void {
    this.closed = true;
    this.drop(new InferError(Code.UNAVAILABLE, 'channel closed'));
    this.socket?.destroy();
    this.socket = undefined;
    for (const s of this.leaving) s.destroy();
    this.leaving.clear();
  }

  private connect(): void {
    if (this.connecting || this.connected) return;
    const target = parseFrameAddress(this.address);
    const socket = 'path' in target ? net.connect(target.path) : net.connect(target.port, target.host);
    this.socket = socket;
    const reader = new FrameReader(this.opts.maxMessageBytes, {
      frame: (f) => this.onFrame(f, socket),
      oversized: (p) => {
        if (p.type !== FrameType.RESPONSE) return;
        this.settle(p.id)?.reject(
          new InferError(
            Code.RESOURCE_EXHAUSTED,
            `reply of ${p.bodyLength} bytes is over the message limit of ${this.opts.maxMessageBytes} bytes`,
          ),
        );
      },
    });
    const connectTimer = setTimeout(
      () => socket.destroy(new Error(`connect timed out after ${this.opts.connectTimeoutMs ?? 5000} ms`)),
      this.opts.connectTimeoutMs ?? 5000,
    );
    this.connecting = new Promise<void>((resolve) => {
      socket.once('connect', () => {
        clearTimeout(connectTimer);
        if (this.socket !== socket) return resolve();
        if ('host' in target) socket.setNoDelay(true);
        this.connected = true;
        this.connecting = undefined;
        this.goneAway = false;
        this.backoffMs = this.opts.initialBackoffMs ?? 100;
        this.flush();
        resolve();
      });
      socket.once('close', () => {
        clearTimeout(connectTimer);
        resolve();
      });
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (err) {
        this.lost(socket, `malformed frame from the node: ${(err as Error).message}`, Code.INTERNAL);
        socket.destroy();
      }
    });
    socket.on('drain', () => this.flush());
    socket.on('error', (err) => (this.lastError = err.message));
    socket.on('close', () => {
      if (this.leaving.delete(socket)) {
        return this.lost(socket, `draining node at ${this.address} closed with the call in flight`, Code.UNAVAILABLE);
      }
      const wasConnected = this.connected && this.socket === socket;
      this.lost(
        socket,
        wasConnected
          ? `connection to ${this.address} closed with the call in flight`
          : `cannot connect to ${this.address}: ${this.lastError || 'closed'}`,
        Code.UNAVAILABLE,
      );
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.connected = false;
      this.connecting = undefined;
      if (wasConnected) this.retryAt = 0;
      else {
        this.retryAt = Date.now() + this.backoffMs;
        this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs ?? 1000);
      }
    });
  }

  /**
   * Every call written to `socket` fails: it is gone. Calls still queued fail with it when it was the connection
   * they waited for (never sent: not started, which matters once the node has said it is going away).
   */
  private lost(socket: net.Socket, why: string, code: typeof Code.UNAVAILABLE | typeof Code.INTERNAL): void {
    const current = this.socket === socket;
    const sent = new InferError(code, why);
    const unsent = new InferError(code, why, { notStarted: this.goneAway });
    for (const [id, p] of [...this.pending]) {
      if (p.socket === socket) this.settle(id)?.reject(sent);
      else if (current && p.socket === undefined) this.settle(id)?.reject(unsent);
    }
    if (current) this.queue.length = 0;
  }

  /** The node is draining: what was sent on `socket` is answered there, anything new goes to a fresh connection. */
  private goAway(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.connected = false;
    this.connecting = undefined;
    this.goneAway = true;
    this.retryAt = 0;
    this.leaving.add(socket);
    let owes = false;
    for (const p of this.pending.values()) if (p.socket === socket) owes = true;
    if (!owes) socket.destroy();
    if (this.queue.length > 0) this.connect();
  }

  private drop(err: InferError): void {
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(err);
  }

  private write(q: Queued): void {
    const s = this.socket;
    if (!s) return;
    if (this.queue.length > 0 || (s.writableLength > 0 && s.writableLength + q.bodyLength > this.maxQueuedBytes)) {
      this.queue.push(q);
      return;
    }
    this.send(s, q);
  }

  /** Head and body in one writev: the payload is never copied into a frame buffer. */
  private send(s: net.Socket, q: Queued): void {
    logEvent('c.send', q.id);
    const p = this.pending.get(q.id);
    if (p) p.socket = s;
    if (q.bodyLength > 0) {
      s.cork();
      s.write(q.head);
      for (const b of q.body) if (b.length > 0) s.write(b);
      s.uncork();
    } else s.write(q.head);
  }

  private flush(): void {
    const s = this.socket;
    while (s && this.connected && this.queue.length > 0) {
      const q = this.queue[0] as Queued;
      if (s.writableLength > 0 && s.writableLength + q.bodyLength > this.maxQueuedBytes) return;
      this.queue.shift();
      if (this.pending.has(q.id)) this.send(s, q);
    }
  }

  private onFrame(f: Frame, socket: net.Socket): void {
    if (f.type === FrameType.RESPONSE) {
      logEvent('c.resp', f.id);
      this.settle(f.id)?.resolve({ body: f.body, computeUs: f.computeUs });
    } else if (f.type === FrameType.ERROR) {
      this.settle(f.id)?.reject(
        new InferError(f.code as (typeof Code)[keyof typeof Code], f.message, {
          ...(f.retryAfterMs === undefined ? {} : { retryAfterMs: f.retryAfterMs }),
          ...(f.notStarted ? { notStarted: true } : {}),
        }),
      );
    } else if (f.type === FrameType.GOAWAY) this.goAway(socket);
    else throw new Error(`a node sends RESPONSE, ERROR and GOAWAY frames, got type ${f.type}`);
    if (this.leaving.has(socket) && ![...this.pending.values()].some((p) => p.socket === socket)) socket.destroy();
  }

  /** Deadline or abort: the call fails here and the node is told to stop (if the request went out). */
  private giveUp(id: number, err: InferError): void {
    const p = this.settle(id);
    if (!p) return;
    const i = this.queue.findIndex((q) => q.id === id);
    if (i >= 0) this.queue.splice(i, 1);
    else if (p.socket && !p.socket.destroyed) p.socket.write(encodeCancel(id));
    p.reject(err);
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.signal.removeEventListener('abort', p.onAbort);
    return p;
  }
}
