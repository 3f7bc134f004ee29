import type { ComponentDefinition, ModelMetadata } from '../components/api';
import { unimplemented } from '../errors';
import { GraphExecutor } from '../graph/executor';
import type { HopInput, HopOptions, HopReply, NodeClient, NodeMethod } from '../graph/node-client';
import { walkNodes, type GraphSpec, type NodeSpec, type ParamValue } from '../graph/spec';
import type { FeedbackMessage } from '../message/feedback';
import { emptyMeta, type InferMessage, type Payload } from '../message/message';
import { ComponentHost } from '../node/component-host';
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
  /** onnx-model intra-op threads in the baseline; undefined keeps the manifest's values. */
  onnxThreads?: number;
  /**
   * 'serial': one model computes at a time (a lock around MODEL nodes), as a server that calls its models one after
   * the other would; 'parallel' (default): the walk's parallel branches run at once, each onnx-model in its own
   * worker thread.
   */
  models?: BaselineModels;
  logger: Logger;
}

export type BaselineModels = 'parallel' | 'serial';

/**
 * The baseline configuration `bench` uses unless told otherwise: the one that gave a single process its best
 * throughput, measured on the ImageNet ensemble on 2 cores (bench/baseline-configs.ts, docs/performance.md): one
 * intra-op thread per model with the two models computing at once, as the single-process Python pipeline does.
 */
export const BEST_BASELINE: { onnxThreads: number; models: BaselineModels } = { onnxThreads: 1, models: 'parallel' };

export function describeBaseline(o: { onnxThreads?: number; models?: BaselineModels }): string {
  const threads =
    o.onnxThreads === undefined ? "the manifest's onnx-model threads" : `onnx-model intraOpThreads ${o.onnxThreads}`;
  return `${threads}, models ${o.models === 'serial' ? 'one at a time' : 'in parallel'}`;
}

/** NodeClient that calls components in this process through the same ComponentHost a node process serves. */
export class LocalNodeClient implements NodeClient {
  /** With models 'serial': resolves when the model computing now is done. */
  private modelTurn: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly hosts: Map<string, ComponentHost>,
    private readonly serial: boolean,
  ) {}

  static async create(graph: GraphSpec, opts: InProcessOptions): Promise<LocalNodeClient> {
    const hosts = new Map<string, ComponentHost>();
    const threads = opts.onnxThreads;
    const parameters =
      threads === undefined
        ? undefined
        : (def: ComponentDefinition, params: Record<string, ParamValue>): Record<string, ParamValue> =>
            def.name === 'onnx-model' ? { ...params, intraOpThreads: threads } : params;
    const hostOptions = { logger: opts.logger, ...(parameters ? { parameters } : {}) };
    try {
      for (const node of walkNodes(graph.graph)) {
        if (node.endpoint)
          throw new Error(`node '${node.name}' is an external endpoint (${node.endpoint}): it cannot run in-process`);
        hosts.set(node.name, await ComponentHost.create(graph, node, hostOptions));
      }
    } catch (err) {
      await Promise.allSettled([...hosts.values()].map((h) => h.close()));
      throw err;
    }
    return new LocalNodeClient(hosts, opts.models === 'serial');
  }

  async call<M extends NodeMethod>(node: NodeSpec, method: M, input: HopInput<M>, opts: HopOptions): Promise<HopReply> {
    if (method === 'sendFeedback') {
      const fb = input as FeedbackMessage;
      const meta = fb.response?.meta ?? emptyMeta();
      return this.host(node).feedback(fb, { meta, signal: opts.signal, deadline: opts.deadline });
    }
    const one = input as InferMessage | InferMessage[];
    const meta = Array.isArray(one) ? (one[0]?.meta ?? emptyMeta()) : one.meta;
    const inputs = Array.isArray(one) ? one.map((m) => m.payload) : one.payload;
    const call = { meta, signal: opts.signal, deadline: opts.deadline };
    const invoke = (): ReturnType<ComponentHost['invoke']> => this.host(node).invoke(method, inputs, call);
    let run: ReturnType<ComponentHost['invoke']>;
    if (this.serial && node.type === 'MODEL') {
      run = this.modelTurn.then(invoke, invoke);
      this.modelTurn = run.catch(() => undefined);
    } else run = invoke();
    const { message, computeUs } = await run;
    return { message, computeUs };
  }

  async metadata(node: NodeSpec): Promise<ModelMetadata> {
    return this.host(node).metadata();
  }

  private host(node: NodeSpec): ComponentHost {
    const h = this.hosts.get(node.name);
    if (!h) throw unimplemented(`no in-process component for node '${node.name}'`);
    return h;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.hosts.values()].map((h) => h.close()));
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

  static async create(
    graph: GraphSpec,
    payload: Payload,
    timeoutMs: number,
    opts: InProcessOptions,
  ): Promise<InProcessTarget> {
    return new InProcessTarget(graph, await LocalNodeClient.create(graph, opts), payload, timeoutMs);
  }

  async send(): Promise<Sample> {
    // A recorder per request, as the executor does for a request that asks for its timeline.
    const rec = new TimelineRecorder(this.client);
    const t0 = performance.now();
    try {
      const reply = await new GraphExecutor(this.graph, rec).execute(
        { meta: emptyMeta(), payload: this.payload },
        { deadline: Date.now() + this.timeoutMs },
      );
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
