import type * as grpc from '@grpc/grpc-js';
import type { HopInput, HopOptions, HopReply, NodeClient, NodeMethod } from '../graph/node-client';
import { hopsOverFrames, allNodes, type GraphSpec, type NodeSpec } from '../graph/spec';
import type { ModelMetadata } from '../components/api';
import type { FrameClientTracer } from '../transport/tracing';
import { FramedNodeClient } from './framed-node-client';
import { GrpcNodeClient } from './grpc-node-client';
import type { LocalNodeClient } from './local-node-client';
import { isRestAddress, RestNodeClient } from './rest-node-client';

/**
 * The executor's choice of hop transport, per node: frames (src/transport) for the nodes it has a frame address
 * for when the graph says `hopTransport: frames`, gRPC for everything else — `endpoint:` nodes (a Seldon component
 * speaks gRPC only) and nodes started without a frame listener (Kubernetes, `infergraph node` by hand) — and
 * Seldon's REST node API for the nodes that say so: a user's container with `transport: rest` (a SeldonDeployment's
 * default, as Seldon's executor calls it) or an `endpoint: http://host:port`. Nodes of `runtime.placement: executor`
 * are no hop at all: their components are called in this process.
 */
export interface HopClientOptions {
  graph: GraphSpec;
  /** node name → gRPC address */
  addresses: Record<string, string>;
  /** node name → frame address, for the nodes that listen for frames */
  framesAddresses?: Record<string, string>;
  grpcInterceptors?: (node: NodeSpec, address: string) => grpc.Interceptor[];
  frameTracer?: (node: NodeSpec, address: string) => FrameClientTracer;
  /** the components of the nodes placed in the executor */
  local?: LocalNodeClient;
}

/** Whether hops to `node` go over Seldon's REST node API: a container with transport rest, or an http:// address. */
export function hopsOverRest(node: NodeSpec, address: string | undefined): boolean {
  return node.runtime.container?.transport === 'rest' || isRestAddress(address ?? node.endpoint);
}

export class HopClient implements NodeClient {
  private readonly grpc: GrpcNodeClient;
  private readonly rest: RestNodeClient;
  private readonly frames: FramedNodeClient | undefined;
  private readonly framed = new Set<string>();
  private readonly local: LocalNodeClient | undefined;
  private readonly restNodes = new Set<string>();

  constructor(o: HopClientOptions) {
    this.local = o.local;
    this.grpc = new GrpcNodeClient(o.graph, o.addresses, o.grpcInterceptors);
    this.rest = new RestNodeClient(o.graph, o.addresses);
    for (const n of allNodes(o.graph)) if (hopsOverRest(n, o.addresses[n.name])) this.restNodes.add(n.name);
    if (o.framesAddresses) {
      for (const n of allNodes(o.graph))
        if (hopsOverFrames(o.graph, n) && o.framesAddresses[n.name]) this.framed.add(n.name);
      if (this.framed.size) this.frames = new FramedNodeClient(o.graph, o.framesAddresses, o.frameTracer);
    }
  }

  /** 'frames', 'grpc', 'rest', or 'local' (in this process): what a hop to `node` travels over. */
  transportOf(node: NodeSpec): 'frames' | 'grpc' | 'rest' | 'local' {
    if (this.local?.has(node)) return 'local';
    if (this.restNodes.has(node.name)) return 'rest';
    return this.frames && this.framed.has(node.name) ? 'frames' : 'grpc';
  }

  call<M extends NodeMethod>(node: NodeSpec, method: M, input: HopInput<M>, opts: HopOptions): Promise<HopReply> {
    const c: Pick<NodeClient, 'call'> = this.local?.has(node)
      ? this.local
      : this.restNodes.has(node.name)
        ? this.rest
        : this.frames && this.framed.has(node.name)
          ? this.frames
          : this.grpc;
    return c.call(node, method, input, opts);
  }

  /** Metadata on gRPC (every node serves Seldon's Metadata rpc), GET /metadata for a REST node, or local. */
  metadata(node: NodeSpec, opts: HopOptions): Promise<ModelMetadata> {
    if (this.local?.has(node)) return this.local.metadata(node);
    return this.restNodes.has(node.name) ? this.rest.metadata(node, opts) : this.grpc.metadata(node, opts);
  }

  async close(): Promise<void> {
    this.rest.close();
    this.grpc.close();
    this.frames?.close();
    await this.local?.close();
  }
}
