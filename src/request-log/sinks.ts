import { createWriteStream, type WriteStream } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { HTTP, type CloudEvent } from 'cloudevents';
import type { Logger } from '../util/logger';
import { SendError } from './send-queue';

/**
 * Where events go. HTTP: a POST per event in CloudEvents' binary content mode (attributes as ce-* headers, the payload
 * as the body), as Seldon's and KServe's loggers send to a Knative broker or any service. A JSON-lines file: one
 * event per line in CloudEvents' JSON format (structured mode), for `infergraph up`. The process log: each event as
 * an info line, which `infergraph up` prints.
 */
export interface Sink {
  /** For logs and the metrics' sink label. */
  readonly name: string;
  send(event: CloudEvent<unknown>, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** Statuses worth another try: the sink is overloaded or briefly away. */
const TRANSIENT_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'EHOSTUNREACH']);

export class HttpSink implements Sink {
  private readonly agent: http.Agent;
  private readonly target: URL;

  constructor(
    url: string,
    /** Sockets kept open to the sink: the queue's senders. */
    maxSockets: number,
  ) {
    this.target = new URL(url);
    const Agent = this.target.protocol === 'https:' ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  get name(): string {
    return this.target.href;
  }

  send(event: CloudEvent<unknown>, signal: AbortSignal): Promise<void> {
    const msg = HTTP.binary(event);
    const body = typeof msg.body === 'string' || Buffer.isBuffer(msg.body) ? msg.body : JSON.stringify(msg.body);
    const headers: Record<string, string | number> = { ...(msg.headers as Record<string, string>) };
    headers['content-length'] = Buffer.byteLength(body);
    const request = this.target.protocol === 'https:' ? https.request : http.request;
    return new Promise<void>((resolve, reject) => {
      const req = request(this.target, { method: 'POST', headers, agent: this.agent, signal }, (res) => {
        res.resume(); // the answer's body is not needed; reading it frees the socket
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new SendError(`the sink answered HTTP ${status}`, TRANSIENT_STATUS.has(status)));
        });
        res.on('error', (err) => reject(new SendError(err.message, true)));
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        const code = err.code ?? err.name;
        const transient = TRANSIENT_CODES.has(code) || err.name === 'AbortError';
        reject(new SendError(`${code}: ${err.message}`, transient));
      });
      req.end(body);
    });
  }

  close(): Promise<void> {
    this.agent.destroy();
    return Promise.resolve();
  }
}

/** One CloudEvent per line, in the CloudEvents JSON format (the payload under `data`). */
export class JsonLinesSink implements Sink {
  private readonly out: WriteStream;

  constructor(readonly file: string) {
    this.out = createWriteStream(file, { flags: 'a' });
    // A write failure (disk full, a removed folder) fails sends, one by one; it must not crash the executor.
    this.out.on('error', () => undefined);
  }

  get name(): string {
    return `file:${this.file}`;
  }

  send(event: CloudEvent<unknown>): Promise<void> {
    const line = `${JSON.stringify(event)}\n`;
    return new Promise((resolve, reject) =>
      this.out.write(line, (err) => (err ? reject(new SendError(err.message, false)) : resolve())),
    );
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(() => resolve()));
  }
}

/** Each event as an info line of the process's log: `infergraph up --log-requests -` prints them. */
export class LogLineSink implements Sink {
  readonly name = 'log';
  constructor(private readonly logger: Logger) {}

  send(event: CloudEvent<unknown>): Promise<void> {
    const { data, ...attributes } = event.toJSON();
    this.logger.info({ cloudevent: attributes, data }, `payload ${String(attributes.type).split('.').pop() ?? ''}`);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
