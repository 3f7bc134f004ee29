import type * as grpc from '@grpc/grpc-js';
import type { HopInput, HopOptions, HopReply, NodeClient, NodeMethod } from '../graph/node-client';
import { hopsOverFrames, allNodes, type GraphSpec, type NodeSpec } from '../graph/spec';
import type { ModelMetadata } from '../components/api';
import type { FrameClientTracer } from '../transport/tracing';
import { FramedNodeClient } from './framed-node-client';
import { GrpcNodeClient } from './grpc-node-client';
import type { LocalNodeClient } from './local-node-client';

/**
 * The executor's choice of hop transport, per node: frames (src/transport) for the nodes it has a frame address
 * for when the graph says `hopTransport: frames`, gRPC for everything else — `endpoint:` nodes (a Seldon component
 * speaks gRPC only) and nodes started without a frame listener (Kubernetes, `infergraph node` by hand). Nodes of
 * `runtime.placement: executor` are no hop at all: their components are called in this process.
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

export class HopClient implements NodeClient {
  private readonly grpc: GrpcNodeClient;
  private readonly frames: FramedNodeClient | undefined;
  private readonly framed = new Set<string>();
  private readonly local: LocalNodeClient | undefined;

  constructor(o: HopClientOptions) {
    this.local = o.local;
    this.grpc = new GrpcNodeClient(o.graph, o.addresses, o.grpcInterceptors);
    if (o.framesAddresses) {
      for (const n of allNodes(o.graph))
        if (hopsOverFrames(o.graph, n) && o.framesAddresses[n.name]) this.framed.add(n.name);
      if (this.framed.size) this.frames = new FramedNodeClient(o.graph, o.framesAddresses, o.frameTracer);
    }
  }

  /** 'frames', 'grpc', or 'local' (in this process): what a hop to `node` travels over. */
  transportOf(node: NodeSpec): 'frames' | 'grpc' | 'local' {
    if (this.local?.has(node)) return 'local';
    return this.frames && this.framed.has(node.name) ? 'frames' : 'grpc';
  }

  call<M extends NodeMethod>(node: NodeSpec, method: M, input: HopInput<M>, opts: HopOptions): Promise<HopReply> {
    const c: Pick<NodeClient, 'call'> = this.local?.has(node)
      ? this.local
      : this.frames && this.framed.has(node.name)
        ? this.frames
        : this.grpc;
    return c.call(node, method, input, opts);
  }

  /** Metadata stays on gRPC (it is rare, and every node serves Seldon's Metadata rpc), or local. */
  metadata(node: NodeSpec, opts: HopOptions): Promise<ModelMetadata> {
    return this.local?.has(node) ? this.local.metadata(node) : this.grpc.metadata(node, opts);
  }

  async close(): Promise<void> {
    this.grpc.close();
    this.frames?.close();
    await this.local?.close();
  }
}
