import * as grpc from '@grpc/grpc-js';
import { hopChannelCredentials } from '../rpc/tls';
import type { ModelMetadata } from '../components/api';
import { Code, InferError, unimplemented, type HopFields } from '../errors';
import type { HopInput, HopOptions, HopReply, NodeClient, NodeMethod } from '../graph/node-client';
import type { GraphSpec, NodeSpec } from '../graph/spec';
import { containerCodec, hopMethodLabel, hopWire } from '../protocol/hop-codec';
import { metadataRpc, modelMetadataFromWire } from '../protocol/seldon/metadata';
import type { WireModelMetadata } from '../protocol/seldon/wire-types';
import { channelLimits } from '../rpc/channel-options';
import { COMPUTE_TRAILER } from '../rpc/trailers';
import { fromServiceError } from '../rpc/status';
import { hopLimitBytes } from '../protocol/hop-envelope';

/**
 * NodeClient over gRPC: one channel per node, reused by every request; the walk's deadline and abort signal become
 * the call's deadline and cancellation; the node's own status comes back as an InferError naming the hop. The
 * graph's hop codec (src/protocol/hop-codec.ts) decides the method path and how messages become bytes.
 */

const cancelledBefore = (context: string, hop: HopFields): InferError =>
  new InferError(Code.CANCELLED, `${context}: cancelled before the call`, hop);

/**
 * Every node channel balances round-robin over all addresses its target resolves to: a Kubernetes headless Service
 * (`dns:///<graph>-<node>:9000`, one A record per ready pod) or the runner's `ipv4:127.0.0.1:p1,127.0.0.1:p2` list
 * of local replicas. grpc-js's default (pick_first) would pin every call to one replica, as Seldon v1's executor
 * does (seldon-core#4748). A replica whose connection fails leaves the rotation until it reconnects; the failure also
 * makes the channel re-resolve DNS (at most every grpc.dns_min_time_between_resolutions_ms, 30 s by default).
 */
export const ROUND_ROBIN_SERVICE_CONFIG = JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] });

/**
 * For a replicated node, a call that fails UNAVAILABLE before any answer started (the replica died or closed its
 * connection) is sent once more, through the same round-robin pick, so it lands on another replica. Without it a
 * SIGKILLed replica failed every call in flight on it and the calls routed to it in the milliseconds before the
 * executor saw its connection close (up to 6 at ~300 calls/s on a loaded machine); with it, none failed in our runs.
 * One retry at most, and gRPC retry throttling (100 tokens, -1 per failure, +0.1 per success, no retries below 50)
 * stops retrying when a whole node fails rather than one replica; a request that crashes its node can take down a
 * second replica, not the fleet. Node calls are inference, safe to repeat; a call already answering is never retried.
 */
export const RETRYING_ROUND_ROBIN_SERVICE_CONFIG = JSON.stringify({
  loadBalancingConfig: [{ round_robin: {} }],
  methodConfig: [
    {
      name: [{}],
      retryPolicy: {
        maxAttempts: 2,
        initialBackoff: '0.01s',
        maxBackoff: '0.1s',
        backoffMultiplier: 2,
        retryableStatusCodes: ['UNAVAILABLE'],
      },
    },
  ],
  retryThrottling: { maxTokens: 100, tokenRatio: 0.1 },
});

export class GrpcNodeClient implements NodeClient {
  private readonly clients = new Map<string, grpc.Client>();

  constructor(
    private readonly graph: GraphSpec,
    private readonly addresses: Record<string, string>,
    /** Per-node client interceptors (tracing); none when tracing is off. */
    private readonly interceptors?: (node: NodeSpec, address: string) => grpc.Interceptor[],
  ) {}

  call<M extends NodeMethod>(node: NodeSpec, method: M, input: HopInput<M>, opts: HopOptions): Promise<HopReply> {
    // A user's container speaks Seldon's protocol as its Python wrapper does (see containerCodec).
    const codec = node.runtime.container ? containerCodec(this.graph.codec) : this.graph.codec;
    const wire = hopWire(codec, method);
    const request = wire.encode(input);
    const client = this.client(node);
    const context = `node '${node.name}' (${hopMethodLabel(codec, method)})`;
    const hop: HopFields = { node: node.name, method };
    return new Promise<HopReply>((resolve, reject) => {
      if (opts.signal.aborted) return reject(cancelledBefore(context, hop));
      let outcome: { err: grpc.ServiceError | null; reply: unknown } | undefined;
      // grpc-js calls the unary callback before it emits 'status' (which carries the trailer with the node's
      // compute time), so the hop completes on 'status'.
      const finish = (trailer: grpc.Metadata | undefined): void => {
        opts.signal.removeEventListener('abort', onAbort);
        const v = trailer?.get(COMPUTE_TRAILER)[0];
        const computeUs = v === undefined ? undefined : Number(v);
        const { err, reply } = outcome ?? { err: null, reply: undefined };
        const failed: HopFields = computeUs === undefined ? hop : { ...hop, computeUs };
        if (err || !reply) {
          return reject(
            fromServiceError(withSentSize(err, sentBytes, node) ?? new Error('empty reply'), context, failed),
          );
        }
        try {
          const message = wire.decode(reply);
          resolve(computeUs === undefined ? { message } : { message, computeUs });
        } catch (e) {
          reject(fromServiceError(e, `${context}: bad reply`, failed));
        }
      };
      let sentBytes = 0;
      const call = client.makeUnaryRequest(
        wire.path,
        (r: unknown) => {
          const b = wire.serialize(r);
          sentBytes = b.byteLength;
          return b;
        },
        wire.deserialize,
        request,
        new grpc.Metadata(),
        { deadline: opts.deadline },
        (err, reply) => {
          outcome = { err, reply };
        },
      );
      const onAbort = (): void => call.cancel();
      opts.signal.addEventListener('abort', onAbort, { once: true });
      call.on('status', (s: grpc.StatusObject) => finish(s.metadata));
    });
  }

  /** Seldon's Model/Transformer Metadata rpc on the node's channel; other node types have none. */
  metadata(node: NodeSpec, opts: HopOptions): Promise<ModelMetadata> {
    const hop = { node: node.name };
    const context = `node '${node.name}' (Metadata)`;
    return new Promise<ModelMetadata>((resolve, reject) => {
      const rpc = metadataRpc(node.type);
      if (!rpc) return reject(unimplemented(`${context}: a ${node.type} node serves no Metadata`));
      if (opts.signal.aborted) return reject(cancelledBefore(context, hop));
      const settle = (err: grpc.ServiceError | null, v?: WireModelMetadata): void => {
        opts.signal.removeEventListener('abort', onAbort);
        if (err || !v) reject(fromServiceError(err ?? new Error('empty reply'), context, hop));
        else resolve(modelMetadataFromWire(v, node.name));
      };
      const call = this.client(node).makeUnaryRequest(
        rpc.path,
        rpc.serialize,
        rpc.deserialize,
        {},
        new grpc.Metadata(),
        { deadline: opts.deadline },
        settle,
      );
      const onAbort = (): void => call.cancel();
      opts.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private client(node: NodeSpec): grpc.Client {
    let c = this.clients.get(node.name);
    if (!c) {
      const address = this.addresses[node.name] ?? node.endpoint;
      if (!address) throw new InferError(Code.FAILED_PRECONDITION, `no address known for node '${node.name}'`);
      const hopLimit = hopLimitBytes(this.graph, node);
      c = new grpc.Client(address, hopChannelCredentials(this.graph.tls), {
        ...channelLimits(hopLimit),
        ...(node.runtime.replicas > 1
          ? {
              'grpc.service_config': RETRYING_ROUND_ROBIN_SERVICE_CONFIG,
              // A retry resends the request, so grpc-js must keep it until the answer starts (default 256 KB).
              'grpc.per_rpc_retry_buffer_size': hopLimit,
              'grpc.retry_buffer_size': 4 * hopLimit,
            }
          : { 'grpc.service_config': ROUND_ROBIN_SERVICE_CONFIG }),
        // Fail fast when a node is down (UNAVAILABLE) instead of waiting for it: the runner restarts it.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
        ...(this.interceptors ? { interceptors: this.interceptors(node, address) } : {}),
      });
      this.clients.set(node.name, c);
    }
    return c;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

/**
 * grpc-js refuses an outgoing message over the channel's limit with "Attempted to send message with a size larger
 * than M": the size itself is missing. We know it (we serialized it), so the message names both, and the setting.
 */
function withSentSize(err: grpc.ServiceError | null, bytes: number, node: NodeSpec): grpc.ServiceError | null {
  const over = err?.code === grpc.status.RESOURCE_EXHAUSTED;
  const m = over ? /size larger than (\d+)/.exec(err.details ?? '') : null;
  if (!err || !m) return err;
  const details =
    `request of ${bytes} bytes is larger than the node's limit ` +
    `(${bytes} vs ${m[1]}: runtime.maxMessageBytes ${node.runtime.maxMessageBytes} of ${node.name} plus the ` +
    `${Number(m[1]) - node.runtime.maxMessageBytes}-byte hop envelope)`;
  const copy = Object.create(Object.getPrototypeOf(err) as object) as grpc.ServiceError;
  return Object.assign(copy, err, { details, message: details });
}
