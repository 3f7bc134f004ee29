import type { ComponentDefinition, ModelMetadata } from '../components/api';
import { unimplemented } from '../errors';
import type { HopInput, HopOptions, HopReply, NodeClient, NodeMethod } from '../graph/node-client';
import { walkNodes, type GraphSpec, type NodeSpec, type ParamValue } from '../graph/spec';
import type { FeedbackMessage } from '../message/feedback';
import { emptyMeta, type InferMessage } from '../message/message';
import type { WorkRunner } from '../components/call-context';
import { ComponentHost } from '../node/component-host';
import type { Logger } from '../util/logger';

/**
 * Components called in this process through the same ComponentHost a node process serves: the nodes of
 * `runtime.placement: executor` inside the executor, and every node of the bench's in-process baseline.
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
  /** Runs ctx.work() units (tracing's opens spans). */
  work?: WorkRunner;
}

export type BaselineModels = 'parallel' | 'serial';

/** NodeClient that calls components in this process through the same ComponentHost a node process serves. */
export class LocalNodeClient implements NodeClient {
  /** With models 'serial': resolves when the model computing now is done. */
  private modelTurn: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly hosts: Map<string, ComponentHost>,
    private readonly serial: boolean,
  ) {}

  static async create(
    graph: GraphSpec,
    opts: InProcessOptions,
    nodes: NodeSpec[] = walkNodes(graph.graph),
  ): Promise<LocalNodeClient> {
    const hosts = new Map<string, ComponentHost>();
    const threads = opts.onnxThreads;
    const parameters =
      threads === undefined
        ? undefined
        : (def: ComponentDefinition, params: Record<string, ParamValue>): Record<string, ParamValue> =>
            def.name === 'onnx-model' ? { ...params, intraOpThreads: threads } : params;
    const hostOptions = {
      logger: opts.logger,
      ...(parameters ? { parameters } : {}),
      ...(opts.work ? { work: opts.work } : {}),
    };
    try {
      for (const node of nodes) {
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

  /** Whether this client hosts `node`. */
  has(node: NodeSpec): boolean {
    return this.hosts.has(node.name);
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
