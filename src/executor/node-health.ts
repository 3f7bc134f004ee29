import * as grpc from '@grpc/grpc-js';
import { hopChannelCredentials } from '../rpc/tls';
import { service as healthService } from 'grpc-health-check';
import { allNodes, type GraphSpec } from '../graph/spec';
import type { Logger } from '../util/logger';
import { hopsOverRest } from './hop-client';
import { restBaseUrls } from './rest-node-client';

/**
 * The executor's view of its nodes' health: one grpc.health.v1 Watch stream per node on its own channel. A node
 * that dies breaks its stream at once (no polling interval to wait out); the watch is re-opened every `retryMs` until
 * the node answers again. Cost while healthy: one idle stream per node, no traffic. A node reached over Seldon's REST
 * node API has no stream to watch: its `GET /health/ping` (Seldon's wrapper answers "pong") is polled every
 * `pollMs` instead.
 */

export type NodeHealth = 'SERVING' | 'NOT_SERVING' | 'UNKNOWN';

export interface NodeHealthOptions {
  /** node name -> address */
  nodes: Record<string, string>;
  /** node name -> base URL of Seldon's REST node API, polled on /health/ping */
  restNodes?: Record<string, string>;
  /** How often a REST node is polled while it answers (default 1000 ms). */
  pollMs?: number;
  /** Called when "every node SERVING" flips, and once when it is first known. */
  onChange?: (allServing: boolean, notServing: string[]) => void;
  retryMs?: number;
  /** Channel credentials (mutual TLS on hops); plaintext by default. */
  credentials?: grpc.ChannelCredentials;
}

interface Watched {
  name: string;
  client?: grpc.Client;
  url?: string;
  status: NodeHealth;
  /** Its first answer (or failure) arrived: until every node has one, there is no verdict to report. */
  heard: boolean;
  call?: grpc.ClientReadableStream<unknown>;
  retry?: NodeJS.Timeout;
}

const WATCH = healthService.Watch as grpc.MethodDefinition<{ service: string }, { status?: string }>;

export class NodeHealthWatcher {
  private readonly watched: Watched[];
  private last: boolean | undefined;
  private closed = false;
  private readonly retryMs: number;

  constructor(private readonly opts: NodeHealthOptions) {
    this.retryMs = opts.retryMs ?? 250;
    this.watched = Object.entries(opts.nodes).map(([name, address]): Watched => ({
      name,
      status: 'UNKNOWN',
      heard: false,
      client: new grpc.Client(address, opts.credentials ?? grpc.credentials.createInsecure(), {
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
      }),
    }));
    for (const [name, url] of Object.entries(opts.restNodes ?? {}))
      this.watched.push({ name, url, status: 'UNKNOWN', heard: false });
    for (const w of this.watched) this.watch(w);
    if (this.watched.length === 0) this.update();
  }

  allServing(): boolean {
    return this.watched.every((w) => w.status === 'SERVING');
  }

  notServing(): string[] {
    return this.watched.filter((w) => w.status !== 'SERVING').map((w) => w.name);
  }

  statuses(): Record<string, NodeHealth> {
    return Object.fromEntries(this.watched.map((w) => [w.name, w.status]));
  }

  close(): void {
    this.closed = true;
    for (const w of this.watched) {
      if (w.retry) clearTimeout(w.retry);
      w.call?.cancel();
      w.client?.close();
    }
  }

  private watch(w: Watched): void {
    if (this.closed) return;
    if (w.url !== undefined) return this.ping(w, w.url);
    if (!w.client) return;
    const call = w.client.makeServerStreamRequest(WATCH.path, WATCH.requestSerialize, WATCH.responseDeserialize, {
      service: '',
    });
    w.call = call;
    call.on('data', (m: { status?: string }) => this.set(w, m.status === 'SERVING' ? 'SERVING' : 'NOT_SERVING'));
    call.on('error', (err: grpc.ServiceError) => {
      // A node without grpc.health.v1 (an external Seldon component) cannot say: count it as serving while it answers.
      // The stream may still emit 'end' after this error: it must not read as the node going away (a flap loop).
      if (err.code === grpc.status.UNIMPLEMENTED) {
        if (w.call === call) w.call = undefined;
        return this.set(w, 'SERVING');
      }
      this.set(w, 'UNKNOWN');
      this.again(w);
    });
    call.on('end', () => {
      if (w.call === call && w.status === 'SERVING') {
        this.set(w, 'UNKNOWN');
        this.again(w);
      }
    });
  }

  private ping(w: Watched, url: string): void {
    fetch(`${url}/health/ping`, { signal: AbortSignal.timeout(2000) }).then(
      async (res) => {
        await res.arrayBuffer();
        this.set(w, res.ok ? 'SERVING' : 'NOT_SERVING');
        this.again(w, res.ok ? (this.opts.pollMs ?? 1000) : this.retryMs);
      },
      () => {
        this.set(w, 'UNKNOWN');
        this.again(w);
      },
    );
  }

  private again(w: Watched, ms = this.retryMs): void {
    if (this.closed || w.retry) return;
    w.retry = setTimeout(() => {
      w.retry = undefined;
      this.watch(w);
    }, ms);
    // A REST node's poll must not keep a closing process alive.
    if (w.url !== undefined) w.retry.unref();
  }

  private set(w: Watched, status: NodeHealth): void {
    const first = !w.heard;
    w.heard = true;
    if (w.status === status && !first) return;
    w.status = status;
    this.update();
  }

  private update(): void {
    // Closing cancels the watches: their errors are not news.
    if (this.closed || !this.watched.every((w) => w.heard)) return;
    const all = this.allServing();
    if (all === this.last) return;
    this.last = all;
    this.opts.onChange?.(all, this.notServing());
  }
}

/** Watches every node of `graph` (runner addresses, else manifest endpoints) and reports "all SERVING" changes. */
export function watchGraphNodes(
  graph: GraphSpec,
  addresses: Record<string, string>,
  setServing: (serving: boolean) => void,
  logger: Logger,
): NodeHealthWatcher {
  const nodes: Record<string, string> = {};
  const restNodes: Record<string, string> = {};
  for (const n of allNodes(graph)) {
    const a = addresses[n.name] ?? n.endpoint;
    if (!a) continue;
    if (hopsOverRest(n, a)) restNodes[n.name] = restBaseUrls(a)[0] ?? `http://${a}`;
    else nodes[n.name] = a;
  }
  return new NodeHealthWatcher({
    nodes,
    restNodes,
    credentials: hopChannelCredentials(graph.tls),
    onChange: (ok, down) => {
      setServing(ok);
      if (ok) logger.info({ graph: graph.name }, 'all nodes SERVING: executor SERVING');
      else logger.warn({ graph: graph.name, notServing: down }, 'a node is not serving: executor NOT_SERVING');
    },
  });
}
