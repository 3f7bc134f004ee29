import { ConfigError } from '../errors';
import type { HopInput, HopOptions, HopReply, NodeClient, NodeMethod } from '../graph/node-client';
import { walkNodes, type GraphSpec, type LoggerSpec, type NodeSpec } from '../graph/spec';
import type { InferMessage } from '../message/message';
import { newPuid } from '../message/meta';
import type { Logger } from '../util/logger';
import { noSinkProblem } from './config';
import { toCloudEvent, type EventContext, type PendingEvent } from './event';
import type { LogMetrics, SinkCounters } from './metrics';
import type { BodyProtocol } from './payload';
import { DEFAULT_QUEUE, SendQueue, type SendQueueOptions } from './send-queue';
import { HttpSink, JsonLinesSink, LogLineSink, type Sink } from './sinks';

/**
 * Payload logging (issue 21), in the executor: the graph's `spec.logger` sees each request at the data plane (the
 * RequestLogger seam of src/executor/data-plane.ts), a node's `logger` sees each call to that node (a NodeClient
 * wrapper: the executor makes every hop). Logging a payload is a push of references onto the sink's bounded queue;
 * encoding and sending happen after, in the queue's senders, so the request neither waits for nor fails with the
 * sink. Seldon Core v1 logs per unit in the same places (transformInput/predict, aggregate, transformOutput; not
 * route) and its default URL comes from REQUEST_LOGGER_DEFAULT_ENDPOINT, which its operator sets from
 * `executor.requestLogger.defaultEndpoint`.
 */

/** The data plane's entry (src/executor/data-plane.ts RequestLogger), restated: this folder does not import it. */
export interface GraphLogEntry {
  door: { service: string; http?: string };
  request: InferMessage;
  reply?: InferMessage;
  error?: unknown;
  ms: number;
}

export interface PayloadLoggerOptions {
  graph: GraphSpec;
  logger: Logger;
  /** URL for loggers that give none (--request-log-url, else REQUEST_LOGGER_DEFAULT_ENDPOINT). */
  defaultUrl?: string;
  /** Every event to this JSON-lines file instead of any URL; '-': to the process's log (up prints it). */
  file?: string;
  queue?: Partial<SendQueueOptions>;
  metrics?: LogMetrics;
  /** The W3C traceparent of the active span, when tracing is on. */
  traceparent?: () => string | undefined;
}

export interface SinkStats {
  sink: string;
  sent: number;
  failed: number;
  dropped: number;
  retried: number;
  depth: number;
}

interface Channel {
  sink: Sink;
  queue: SendQueue<PendingEvent>;
  stats: SinkStats;
}

/** V2 front doors log V2 JSON; the Seldon ones (and every hop: hops speak Seldon) SeldonMessage JSON. */
export function protocolOfDoor(service: string): BodyProtocol {
  return service.startsWith('/inference.') || service.startsWith('v2-') ? 'v2' : 'seldon';
}

export class PayloadLogger {
  private readonly channels = new Map<string, Channel>();
  /** Node name -> its logger's channel. */
  private readonly nodes = new Map<string, { spec: LoggerSpec; channel: Channel }>();
  private readonly graphChannel: Channel | undefined;
  private readonly ctx: EventContext;
  private readonly queueOptions: SendQueueOptions;

  constructor(private readonly o: PayloadLoggerOptions) {
    const g = o.graph;
    this.queueOptions = { ...DEFAULT_QUEUE, ...o.queue };
    this.ctx = {
      source: `urn:infergraph:${g.namespace ?? 'default'}:${g.name}`,
      graph: g.name,
      ...(g.namespace ? { namespace: g.namespace } : {}),
      endpoint: 'default',
    };
    const missing: string[] = [];
    const channelFor = (spec: LoggerSpec, where: string): Channel | undefined => {
      const key = o.file ?? spec.url ?? o.defaultUrl;
      if (key === undefined) {
        missing.push(where);
        return undefined;
      }
      return this.channel(key);
    };
    if (g.logger) this.graphChannel = channelFor(g.logger, 'spec.logger');
    for (const n of walkNodes(g.graph))
      if (n.logger) {
        const channel = channelFor(n.logger, `${n.path} (${n.name}).logger`);
        if (channel) this.nodes.set(n.name, { spec: n.logger, channel });
      }
    if (missing.length) throw new ConfigError(missing.map(noSinkProblem));
  }

  /** The sinks (URL, file:<path> or log) with their counts: tests and the bench read them. */
  stats(): SinkStats[] {
    return [...this.channels.values()].map((c) => ({ ...c.stats, depth: c.queue.depth }));
  }

  /** The graph's logger: called by the data plane with every answered or failed request. */
  log(entry: GraphLogEntry): void {
    const spec = this.o.graph.logger;
    const channel = this.graphChannel;
    if (!spec || !channel) return;
    const puid = entry.reply?.meta.puid || entry.request.meta.puid || newPuid();
    const protocol = protocolOfDoor(entry.door.service);
    const base = { puid, modelId: this.o.graph.name, component: 'graph' as const, protocol, spec };
    const request = entry.request;
    if (spec.mode !== 'response')
      this.push(channel, {
        ...base,
        kind: 'request',
        // The walk gave the request its puid: the logged request carries it as the answer does.
        body: { message: request.meta.puid ? request : { ...request, meta: { ...request.meta, puid } } },
      });
    if (spec.mode !== 'request') {
      // A Seldon front door answers tensors in the request's encoding (ndarray in, ndarray out): logged alike.
      const p = entry.reply?.payload;
      const asked = request.payload.kind === 'tensor' ? request.payload.encoding : undefined;
      const reply =
        entry.reply && p?.kind === 'tensor' && asked
          ? { ...entry.reply, payload: { ...p, encoding: asked } }
          : entry.reply;
      this.push(channel, { ...base, kind: 'response', body: reply ? { message: reply } : { error: entry.error } });
    }
  }

  /** The node client, wrapped: calls to nodes with a logger are logged (what went in, what came out). */
  hops(client: NodeClient): NodeClient {
    if (this.nodes.size === 0) return client;
    return {
      call: <M extends NodeMethod>(node: NodeSpec, method: M, input: HopInput<M>, opts: HopOptions) =>
        this.loggedCall(client, node, method, input, opts),
      metadata: (node, opts) => client.metadata(node, opts),
    };
  }

  /** Waits up to `timeoutMs` for queued events to go, then stops (what still waits is dropped and counted). */
  async close(timeoutMs: number): Promise<void> {
    const queues = [...this.channels.values()];
    await Promise.all(queues.map((c) => c.queue.idle(timeoutMs)));
    for (const c of queues) c.queue.close();
    await Promise.all(queues.map((c) => c.sink.close()));
  }

  private async loggedCall<M extends NodeMethod>(
    client: NodeClient,
    node: NodeSpec,
    method: M,
    input: HopInput<M>,
    opts: HopOptions,
  ): Promise<HopReply> {
    const n = this.nodes.get(node.name);
    // Seldon logs what a unit transforms or combines; a router's route call is not a payload of its own, nor is
    // feedback a prediction.
    if (!n || method === 'route' || method === 'sendFeedback') return client.call(node, method, input, opts);
    const { spec, channel } = n;
    const given = input as InferMessage | InferMessage[];
    const first = Array.isArray(given) ? given[0] : given;
    const puid = first?.meta.puid || newPuid();
    const base = { puid, modelId: node.name, component: 'node' as const, method, protocol: 'seldon' as const, spec };
    if (spec.mode !== 'response')
      this.push(channel, {
        ...base,
        kind: 'request',
        body: Array.isArray(given) ? { messages: given } : { message: given },
      });
    if (spec.mode === 'request') return client.call(node, method, input, opts);
    try {
      const reply = await client.call(node, method, input, opts);
      this.push(channel, { ...base, kind: 'response', body: { message: reply.message } });
      return reply;
    } catch (err) {
      this.push(channel, { ...base, kind: 'response', body: { error: err } });
      throw err;
    }
  }

  private push(
    channel: Channel,
    e: Omit<PendingEvent, 'time' | 'traceparent' | 'maxPayloadBytes'> & { spec: LoggerSpec },
  ): void {
    const { spec, ...rest } = e;
    const traceparent = this.o.traceparent?.();
    channel.queue.push({
      ...rest,
      maxPayloadBytes: spec.maxPayloadBytes,
      time: Date.now(),
      ...(traceparent ? { traceparent } : {}),
    });
  }

  private channel(key: string): Channel {
    let c = this.channels.get(key);
    if (c) return c;
    const sink: Sink =
      key === '-'
        ? new LogLineSink(this.o.logger)
        : /^https?:\/\//.test(key)
          ? new HttpSink(key, this.queueOptions.concurrency)
          : new JsonLinesSink(key);
    const stats: SinkStats = { sink: sink.name, sent: 0, failed: 0, dropped: 0, retried: 0, depth: 0 };
    const counters: SinkCounters | undefined = this.o.metrics?.forSink(sink.name, () => queue.depth);
    let lastWarn = 0;
    const log = this.o.logger;
    const queue = new SendQueue<PendingEvent>(
      (p, signal) => sink.send(toCloudEvent(p, this.ctx), signal),
      this.queueOptions,
      {
        sent: () => {
          stats.sent++;
          counters?.sent();
        },
        failed: (err) => {
          stats.failed++;
          counters?.failed();
          // One line a few seconds at most: a dead sink must not flood the log either.
          if (Date.now() - lastWarn > 5000) {
            lastWarn = Date.now();
            log.warn({ sink: sink.name, failed: stats.failed, err: err.message }, 'payload log: event not delivered');
          }
        },
        dropped: () => {
          stats.dropped++;
          counters?.dropped();
        },
        retried: () => {
          stats.retried++;
          counters?.retried();
        },
      },
    );
    c = { sink, queue, stats };
    this.channels.set(key, c);
    return c;
  }
}
