import type { Component } from '../components/api';
import { CollectingCallContext } from '../components/call-context';
import { loadNodeComponent } from '../node/component-loader';
import { unimplemented } from '../errors';
import type { ObservedHopOptions } from '../executor/grpc-node-client';
import { GraphExecutor } from '../graph/executor';
import type { HopOptions, NodeClient, NodeMethod } from '../graph/node-client';
import { walkNodes, type GraphSpec, type NodeSpec, type ParamValue } from '../graph/spec';
import { emptyMeta, type InferMessage, type Payload } from '../message/message';
import { TimelineRecorder } from '../telemetry/timeline';
import type { Logger } from '../util/logger';
import type { BenchTarget, Sample } from './target';

/**
 * The in-process baseline: the graph's own components, created from the same manifest through the component registry,
 * called directly by a NodeClient that hands the walk's messages to them — the real GraphExecutor, no gRPC, no
 * encoding, no processes. Its numbers are what this machine can do with these components; the graph's numbers over
 * these are the price of one-process-per-node and the wire.
 */

export interface InProcessOptions {
  /**
   * onnx-model intra-op threads in the baseline. One process runs its models one after the other on the JS thread
   * (onnxruntime-node's run is synchronous), so a single-process server gives each model all cores; copying the
   * manifest's per-node value (tuned for parallel processes) would leave cores idle and flatter the graph.
   */
  onnxThreads?: number;
  logger: Logger;
}

/** NodeClient that calls components in this process; the reply meta is what node-server would send. */
export class LocalNodeClient implements NodeClient {
  private constructor(private readonly components: Map<string, { component: Component; staticTags: InferMessage['meta']['tags'] }>) {}

  static async create(graph: GraphSpec, opts: InProcessOptions): Promise<LocalNodeClient> {
    const map = new Map<string, { component: Component; staticTags: InferMessage['meta']['tags'] }>();
    try {
      for (const node of walkNodes(graph.graph)) {
        if (node.endpoint) throw new Error(`node '${node.name}' is an external endpoint (${node.endpoint}): it cannot run in-process`);
        const loaded = loadNodeComponent(node, graph.baseDir);
        const def = loaded.def;
        const params: Record<string, ParamValue> = { ...loaded.params };
        if (def.name === 'onnx-model' && opts.onnxThreads !== undefined) params.intraOpThreads = opts.onnxThreads;
        const component = await def.create(params, { nodeName: node.name, nodeType: node.type, baseDir: graph.baseDir, logger: opts.logger });
        // Registered before load() so a failure further on still closes it.
        map.set(node.name, { component, staticTags: {} });
        await component.load?.();
        (map.get(node.name) as { staticTags: InferMessage['meta']['tags'] }).staticTags = component.tags?.() ?? {};
      }
    } catch (err) {
      await Promise.allSettled([...map.values()].map((c) => c.component.close?.()));
      throw err;
    }
    return new LocalNodeClient(map);
  }

  call(node: NodeSpec, method: Exclude<NodeMethod, 'aggregate'>, input: InferMessage, opts: HopOptions): Promise<InferMessage>;
  call(node: NodeSpec, method: 'aggregate', input: InferMessage[], opts: HopOptions): Promise<InferMessage>;
  async call(node: NodeSpec, method: NodeMethod, input: InferMessage | InferMessage[], opts: HopOptions): Promise<InferMessage> {
    const entry = this.components.get(node.name);
    if (!entry) throw unimplemented(`no in-process component for node '${node.name}'`);
    const { component: c, staticTags } = entry;
    const meta = Array.isArray(input) ? (input[0]?.meta ?? emptyMeta()) : input.meta;
    const ctx = new CollectingCallContext(meta, opts.signal, opts.deadline);
    const missing = (): never => {
      throw unimplemented(`${node.name}: component does not implement ${method}`);
    };
    const t0 = performance.now();
    let payload: Payload;
    if (method === 'aggregate') payload = await (c.aggregate ?? missing).call(c, (input as InferMessage[]).map((m) => m.payload), ctx);
    else if (method === 'route') {
      const route = await (c.route ?? missing).call(c, (input as InferMessage).payload, ctx);
      payload = { kind: 'tensor', tensor: { dtype: 'float64', shape: [1, 1], data: new Float64Array([route]) } };
    } else payload = await (c[method] ?? missing).call(c, (input as InferMessage).payload, ctx);
    const ms = performance.now() - t0;
    (opts as ObservedHopOptions).observe?.(node, method, ms, Math.round(ms * 1000));
    return {
      meta: { puid: meta.puid, tags: { ...staticTags, ...ctx.tags }, routing: {}, requestPath: {}, metrics: [...ctx.metrics, ...(c.metrics?.() ?? [])] },
      payload,
    };
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.components.values()].map((c) => c.component.close?.()));
  }
}

export class InProcessTarget implements BenchTarget {
  readonly label = 'in-process';
  private first: InferMessage | undefined;

  private constructor(
    private readonly graph: GraphSpec,
    private readonly client: LocalNodeClient,
    private readonly payload: Payload,
    private readonly timeoutMs: number,
  ) {}

  static async create(graph: GraphSpec, payload: Payload, timeoutMs: number, opts: InProcessOptions): Promise<InProcessTarget> {
    return new InProcessTarget(graph, await LocalNodeClient.create(graph, opts), payload, timeoutMs);
  }

  async send(): Promise<Sample> {
    // A recorder per request, as the executor does for a request that asks for its timeline.
    const rec = new TimelineRecorder(this.client);
    const t0 = performance.now();
    try {
      const reply = await new GraphExecutor(this.graph, rec).execute({ meta: emptyMeta(), payload: this.payload }, { deadline: Date.now() + this.timeoutMs });
      const ms = performance.now() - t0;
      this.first ??= reply;
      return { ok: true, ms, timeline: rec.finish() };
    } catch (err) {
      return { ok: false, ms: performance.now() - t0, error: (err as Error).message };
    }
  }

  firstReply(): InferMessage | undefined {
    return this.first;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
