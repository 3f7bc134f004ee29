import net from 'node:net';
import { Code, toInferError } from '../errors';
import type { Logger } from '../util/logger';
import { boundAddress, parseFrameAddress, removeStaleSocket } from './address';
import {
  encodeError,
  encodeGoaway,
  encodeResponseHead,
  FrameType,
  type BodyCodec,
  type Frame,
  type FrameMethod,
  type RequestFrame,
} from './frame';
import { FrameReader } from './reader';
import type { FrameServerTracer, FrameSpan } from './tracing';
import { logEvent } from '../util/event-log';

/**
 * The node's side of the framed transport: accepts connections on a unix socket or TCP port and hands each REQUEST
 * to an abstract handler (the node runtime decodes the message and runs the component). Per request: an abort
 * signal (fired by a CANCEL frame, the deadline, or the connection closing), the caller's absolute deadline
 * (enforced here too: the work is aborted and DEADLINE_EXCEEDED answered when it passes) and its trace context.
 * A bad frame closes only its connection, with the reason logged; nothing a peer sends can throw out of here.
 *
 * Drain, in two steps the node runtime takes: stopAccepting() (no new connection; the callers connected go on being
 * served, since a graph's requests in flight at its executor still need this node), then goAway() (a GOAWAY frame
 * on every connection: REQUESTs that reach it later are refused NOT_STARTED, each connection ends once it owes no
 * answer).
 */

export interface FrameRequest {
  method: FrameMethod;
  codec: BodyCodec;
  body: Buffer;
  deadline: number | undefined;
  signal: AbortSignal;
  /** the server span of this call when tracing is on: the handler adds the decoded request and reply to it */
  span: FrameSpan | undefined;
}

export interface FrameReply {
  /** one buffer, or several written one after the other as one body (a large tensor uncopied) */
  body: Buffer | readonly Buffer[];
  /** the component's own time, µs */
  computeUs: number | undefined;
}

export type FrameHandler = (req: FrameRequest) => Promise<FrameReply>;

export interface FrameServerOptions {
  address: string;
  /** largest request and reply body, bytes (the node's maxMessageBytes plus the hop envelope) */
  maxMessageBytes: number;
  handler: FrameHandler;
  logger: Logger;
  /** for messages: "node 'x'" */
  name: string;
  tracer?: FrameServerTracer;
  /** span name per request, e.g. seldon.protos.Model/Predict */
  methodPath?: (method: FrameMethod, codec: BodyCodec) => string;
}

export interface RunningFrameServer {
  address: string;
  /** Connections open now. */
  readonly connections: number;
  /** Calls received and not yet answered, on every connection. */
  readonly inFlight: number;
  /** No new connection from now on; those open are served as before. */
  stopAccepting(): void;
  /** GOAWAY on every connection: new requests refused NOT_STARTED, each connection closed once it owes nothing. */
  goAway(reason: string): void;
  /** Ends every connection now (calls in flight are aborted). */
  close(): Promise<void>;
}

export async function listenFrames(opts: FrameServerOptions): Promise<RunningFrameServer> {
  const target = parseFrameAddress(opts.address);
  if ('path' in target) removeStaleSocket(target.path);
  const conns = new Set<FrameServerConnection>();
  const server = net.createServer((socket) => {
    const c = new FrameServerConnection(socket, opts, () => conns.delete(c));
    conns.add(c);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen for frames on ${opts.address}: ${err.message}`)));
    if ('path' in target) server.listen(target.path, resolve);
    else server.listen(target.port, target.host, resolve);
  });
  server.on('error', (err) => opts.logger.error({ err: err.message }, 'frame server error'));
  let listening = true;
  const stopAccepting = (): void => {
    if (!listening) return;
    listening = false;
    server.close();
  };
  return {
    address: boundAddress(target, server),
    get connections() {
      return conns.size;
    },
    get inFlight() {
      let n = 0;
      for (const c of conns) n += c.inFlight;
      return n;
    },
    stopAccepting,
    goAway(reason) {
      stopAccepting();
      for (const c of conns) c.goAway(reason);
    },
    close: () => {
      stopAccepting();
      for (const c of conns) c.close('server shutting down');
      return Promise.resolve();
    },
  };
}

interface InFlight {
  abort: AbortController;
  timer: NodeJS.Timeout | undefined;
  /** why it ended without an answer: the span's status */
  gone?: [code: number, details: string];
}

class FrameServerConnection {
  private readonly inflight = new Map<number, InFlight>();
  private readonly reader: FrameReader;
  private closed = false;
  /** GOAWAY sent: new requests are refused NOT_STARTED, and the connection ends once it owes no answer. */
  private goingAway: string | undefined;
  private readonly peer: string;

  constructor(
    private readonly socket: net.Socket,
    private readonly opts: FrameServerOptions,
    private readonly onClose: () => void,
  ) {
    this.peer = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unix peer';
    if (socket.remoteAddress) socket.setNoDelay(true);
    this.reader = new FrameReader(opts.maxMessageBytes, {
      frame: (f) => this.onFrame(f),
      oversized: (p) => {
        if (p.type === FrameType.REQUEST) {
          this.send(
            encodeError(
              p.id,
              Code.RESOURCE_EXHAUSTED,
              `${opts.name}: request of ${p.bodyLength} bytes is over the message limit of ${opts.maxMessageBytes} bytes`,
            ),
          );
        } else
          this.fail(`${p.bodyLength}-byte frame of type ${p.type} over the limit of ${opts.maxMessageBytes} bytes`);
      },
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.closed) return;
      try {
        this.reader.push(chunk);
      } catch (err) {
        this.fail((err as Error).message);
      }
    });
    // A reply that cannot go out yet: stop reading new requests until the peer takes what is queued.
    socket.on('drain', () => {
      if (!this.closed) socket.resume();
    });
    socket.on('error', (err) => opts.logger.debug({ peer: this.peer, err: err.message }, 'frame connection error'));
    socket.on('close', () => {
      if (!this.closed && this.reader.pending > 0) {
        opts.logger.warn(
          { peer: this.peer, bytes: this.reader.pending },
          'frame connection closed in the middle of a frame (truncated)',
        );
      }
      this.teardown();
    });
  }

  get inFlight(): number {
    return this.inflight.size;
  }

  goAway(reason: string): void {
    if (this.closed || this.goingAway !== undefined) return;
    this.goingAway = reason;
    this.send(encodeGoaway(reason));
    this.endIfDone();
  }

  private endIfDone(): void {
    if (this.goingAway !== undefined && this.inflight.size === 0 && !this.closed) this.close(this.goingAway);
  }

  close(reason: string): void {
    this.opts.logger.debug({ peer: this.peer, reason }, 'closing frame connection');
    this.teardown();
    this.socket.end();
  }

  private fail(reason: string): void {
    this.opts.logger.warn({ peer: this.peer, reason }, 'malformed frame: closing the connection');
    this.teardown();
    this.socket.destroy();
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    for (const f of this.inflight.values()) {
      if (f.timer) clearTimeout(f.timer);
      f.gone = [Code.CANCELLED, 'connection closed'];
      f.abort.abort();
    }
    this.inflight.clear();
    this.onClose();
  }

  private send(frame: Buffer, body: readonly Buffer[] = []): void {
    if (this.closed || this.socket.destroyed) return;
    let ok = true;
    if (body.length > 0) {
      this.socket.cork();
      this.socket.write(frame);
      for (const b of body) if (b.length > 0) ok = this.socket.write(b);
      this.socket.uncork();
    } else ok = this.socket.write(frame);
    if (!ok) this.socket.pause();
  }

  private onFrame(f: Frame): void {
    if (f.type === FrameType.CANCEL) {
      const c = this.inflight.get(f.id);
      if (!c) return;
      this.inflight.delete(f.id);
      if (c.timer) clearTimeout(c.timer);
      c.gone = [Code.CANCELLED, 'cancelled by the caller'];
      c.abort.abort();
      return this.endIfDone();
    }
    if (f.type !== FrameType.REQUEST) return this.fail(`a node accepts REQUEST and CANCEL frames, got type ${f.type}`);
    if (this.inflight.has(f.id)) return this.fail(`request id ${f.id} is already in flight`);
    if (this.goingAway !== undefined) {
      const msg = `${this.opts.name}: draining (${this.goingAway}); call not started`;
      return this.send(encodeError(f.id, Code.UNAVAILABLE, msg, undefined, { notStarted: true }));
    }
    this.start(f);
  }

  private start(f: RequestFrame): void {
    const { opts } = this;
    const abort = new AbortController();
    const entry: InFlight = { abort, timer: undefined };
    if (f.deadline !== undefined) {
      const left = f.deadline - Date.now();
      if (left <= 0)
        return this.send(
          encodeError(f.id, Code.DEADLINE_EXCEEDED, `${opts.name}: deadline passed before the call started`),
        );
      entry.timer = setTimeout(() => {
        if (this.inflight.get(f.id) !== entry) return;
        this.inflight.delete(f.id);
        entry.gone = [Code.DEADLINE_EXCEEDED, 'deadline exceeded'];
        abort.abort();
        this.send(encodeError(f.id, Code.DEADLINE_EXCEEDED, `${opts.name}: deadline exceeded`));
        this.endIfDone();
      }, left);
    }
    this.inflight.set(f.id, entry);
    const span = opts.tracer?.start(opts.methodPath?.(f.method, f.codec) ?? f.method, f.traceparent, f.tracestate);
    const req: FrameRequest = {
      method: f.method,
      codec: f.codec,
      body: f.body,
      deadline: f.deadline,
      signal: abort.signal,
      span,
    };
    logEvent('s.start', f.id);
    const run = (): Promise<FrameReply> => opts.handler(req);
    (span ? span.run(run) : run()).then(
      (reply) => {
        if (!this.settle(f.id, entry)) return span?.end(...(entry.gone ?? [Code.CANCELLED, 'cancelled']));
        const parts = Buffer.isBuffer(reply.body) ? [reply.body] : reply.body;
        let bodyLength = 0;
        for (const p of parts) bodyLength += p.length;
        if (bodyLength > opts.maxMessageBytes) {
          const msg = `${opts.name}: reply of ${bodyLength} bytes is over the message limit of ${opts.maxMessageBytes} bytes`;
          span?.end(Code.RESOURCE_EXHAUSTED, msg);
          this.send(encodeError(f.id, Code.RESOURCE_EXHAUSTED, msg));
          return this.endIfDone();
        }
        span?.end(Code.OK);
        logEvent('s.reply', f.id);
        this.send(encodeResponseHead(f.id, reply.computeUs, bodyLength), parts);
        logEvent('s.sent', f.id);
        this.endIfDone();
      },
      (err: unknown) => {
        const e = toInferError(err);
        span?.end(e.code, e.message);
        if (this.settle(f.id, entry)) this.send(encodeError(f.id, e.code, e.message, e.retryAfterMs));
        this.endIfDone();
      },
    );
  }

  /** True when this request is still owed an answer (not cancelled, timed out or its connection gone). */
  private settle(id: number, entry: InFlight): boolean {
    if (this.inflight.get(id) !== entry) return false;
    this.inflight.delete(id);
    if (entry.timer) clearTimeout(entry.timer);
    return true;
  }
}
