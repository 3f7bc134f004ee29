import type { CallContext, Component, ComponentDefinition, FeedbackInput, ModelMetadata } from '../components/api';
import { CollectingCallContext, plainWork, type WorkRunner } from '../components/call-context';
import type { ParamValue } from '../components/types';
import { toInferError, unimplemented, withHop } from '../errors';
import type { GraphSpec, NodeSpec } from '../graph/spec';
import type { NodeMethod } from '../hop/vocabulary';
import type { FeedbackMessage } from '../message/feedback';
import { emptyMeta, type InferMessage, type JsonValue, type Meta, type Payload } from '../message/message';
import { Limiter } from '../util/limiter';
import type { Logger } from '../util/logger';
import { loadNodeComponent } from './component-loader';

/**
 * One component, hosted: created and loaded from its NodeSpec, invoked by method name with internal payloads, its
 * reply meta built, its compute time measured (MLServer's DataPlane). Protocol-free: the gRPC node server
 * (node-server.ts) and the in-process baseline (src/bench/inprocess.ts) are thin front ends over it, and so will be
 * any later transport.
 */

export interface HostOptions {
  logger: Logger;
  /** Runs ctx.work() units; tracing swaps in one that opens spans. Per call, HostCall.work overrides it. */
  work?: WorkRunner;
  /** Adjusts the validated parameters before create() (the in-process baseline sets onnx-model's threads). */
  parameters?: (definition: ComponentDefinition, params: Record<string, ParamValue>) => Record<string, ParamValue>;
}

/** What one invocation needs besides its inputs. */
export interface HostCall {
  /** The request meta as received (the first message's, for aggregate). */
  meta: Readonly<Meta>;
  signal: AbortSignal;
  /** Absolute deadline, ms since epoch. */
  deadline?: number;
  work?: WorkRunner;
}

export interface HostReply {
  /** The component's answer, with only what this node added to meta: the caller merges. */
  message: InferMessage;
  /** The component's own time for the call, µs: decoding and encoding around it count as transport. */
  computeUs: number;
}

export class ComponentHost {
  private readonly staticTags: Record<string, JsonValue>;

  private constructor(
    readonly node: NodeSpec,
    readonly definition: ComponentDefinition,
    private readonly component: Component,
    private readonly work: WorkRunner,
    deadlineMs: number,
  ) {
    this.staticTags = component.tags?.() ?? {};
    const { maxConcurrency, maxQueue } = node.runtime;
    this.admission = new Limiter({
      maxConcurrency,
      maxQueue,
      what: `node ${node.name}`,
      limitName: `runtime.maxConcurrency ${maxConcurrency}, runtime.maxQueue ${maxQueue}`,
      maxPushbackMs: deadlineMs,
    });
  }

  /** At most runtime.maxConcurrency calls run, runtime.maxQueue wait; dead calls are dropped, never started. */
  readonly admission: Limiter;

  /** Creates and loads the node's component; a component whose load() fails is closed before the error is thrown. */
  static async create(graph: GraphSpec, node: NodeSpec, opts: HostOptions): Promise<ComponentHost> {
    // A user module is loaded only here, in its own node's process, and its parameters checked against its schema.
    const loaded = loadNodeComponent(node, graph.baseDir);
    const definition = loaded.def;
    const params = opts.parameters ? opts.parameters(definition, { ...loaded.params }) : loaded.params;
    const component = await definition.create(params, {
      nodeName: node.name,
      nodeType: node.type,
      baseDir: graph.baseDir,
      logger: opts.logger,
    });
    const t0 = performance.now();
    try {
      await component.load?.();
    } catch (err) {
      await Promise.resolve(component.close?.()).catch(() => undefined);
      throw err;
    }
    opts.logger.info(
      { node: node.name, implementation: definition.name, loadMs: Math.round(performance.now() - t0) },
      'component loaded',
    );
    return new ComponentHost(node, definition, component, opts.work ?? plainWork, graph.deadlineMs);
  }

  /**
   * Calls the component's `method`: one payload, or the children's payloads for aggregate. Errors are InferErrors
   * naming this node and method (UNIMPLEMENTED when the component lacks the method).
   */
  invoke(method: Exclude<NodeMethod, 'sendFeedback'>, inputs: Payload | Payload[], call: HostCall): Promise<HostReply> {
    return this.admission
      .run(() => this.invokeNow(method, inputs, call), { signal: call.signal, deadline: call.deadline })
      .catch((err: unknown) => {
        throw withHop(toInferError(err), { node: this.node.name, method });
      });
  }

  /**
   * The component's sendFeedback with Seldon's Feedback as payloads; a router gets the branch it chose for the
   * request (the response's meta.routing[node]). `call.meta` is the response's meta. UNIMPLEMENTED when the
   * component has none: the executor skips such nodes. Feedback is admitted like any call: it shares the component
   * (and its state) with predictions.
   */
  feedback(fb: FeedbackMessage, call: HostCall): Promise<HostReply> {
    return this.admission
      .run(() => this.feedbackNow(fb, call), { signal: call.signal, deadline: call.deadline })
      .catch((err: unknown) => {
        throw withHop(toInferError(err), { node: this.node.name, method: 'sendFeedback' });
      });
  }

  private async feedbackNow(fb: FeedbackMessage, call: HostCall): Promise<HostReply> {
    const c = this.component;
    if (!c.sendFeedback) throw unimplemented(`${this.node.name}: component does not implement sendFeedback`);
    const ctx = new CollectingCallContext(call.meta, call.signal, call.deadline, call.work ?? this.work);
    const input: FeedbackInput = {
      request: fb.request?.payload ?? { kind: 'none' },
      response: fb.response?.payload ?? { kind: 'none' },
      reward: fb.reward,
      ...(fb.truth ? { truth: fb.truth.payload } : {}),
    };
    const routing = fb.response?.meta.routing[this.node.name];
    if (routing !== undefined) input.routing = routing;
    const t0 = performance.now();
    let payload: Payload;
    try {
      payload = (await c.sendFeedback(input, ctx)) ?? { kind: 'none' };
    } catch (err) {
      throw withHop(toInferError(err), { node: this.node.name, method: 'sendFeedback' });
    }
    const computeUs = Math.round((performance.now() - t0) * 1000);
    const meta: Meta = {
      ...emptyMeta(call.meta.puid),
      tags: { ...ctx.tags },
      metrics: [...ctx.metrics],
    };
    return { message: { meta, payload }, computeUs };
  }

  private async invokeNow(
    method: Exclude<NodeMethod, 'sendFeedback'>,
    inputs: Payload | Payload[],
    call: HostCall,
  ): Promise<HostReply> {
    const ctx = new CollectingCallContext(call.meta, call.signal, call.deadline, call.work ?? this.work);
    const t0 = performance.now();
    let payload: Payload;
    try {
      // One await per call: this is the hot path of every hop.
      if (method === 'route') payload = routeAnswer(await this.route(inputs as Payload, ctx));
      else payload = await this.answer(method, inputs, ctx);
    } catch (err) {
      throw withHop(toInferError(err), { node: this.node.name, method });
    }
    const computeUs = Math.round((performance.now() - t0) * 1000);
    const meta: Meta = {
      puid: call.meta.puid,
      tags: { ...this.staticTags, ...ctx.tags },
      routing: {},
      requestPath: {},
      metrics: [...ctx.metrics, ...(this.component.metrics?.() ?? [])],
    };
    return { message: { meta, payload }, computeUs };
  }

  metadata(): ModelMetadata {
    const m = this.component.metadata?.() ?? {};
    return {
      name: this.node.name,
      platform: m.platform ?? '',
      versions: m.versions ?? [],
      inputs: m.inputs ?? [],
      outputs: m.outputs ?? [],
    };
  }

  async close(): Promise<void> {
    await this.component.close?.();
  }

  /** The component's `method` called: no await of its own, so a hop costs one await (the hot path). */
  private answer(
    method: Exclude<NodeMethod, 'route' | 'sendFeedback'>,
    inputs: Payload | Payload[],
    ctx: CallContext,
  ): Answer<Payload> {
    const c = this.component;
    if (method === 'aggregate') return (c.aggregate ?? this.missing(method)).call(c, inputs as Payload[], ctx);
    return (c[method] ?? this.missing(method)).call(c, inputs as Payload, ctx);
  }

  private route(input: Payload, ctx: CallContext): Answer<number> {
    const c = this.component;
    return (c.route ?? this.missing('route')).call(c, input, ctx);
  }

  private missing(method: NodeMethod): () => never {
    return () => {
      throw unimplemented(`${this.node.name}: component does not implement ${method}`);
    };
  }
}

type Answer<T> = T | Promise<T>;

/** Seldon routers answer with the child index as a [[N]] tensor. */
const routeAnswer = (route: number): Payload => ({
  kind: 'tensor',
  tensor: { dtype: 'float64', shape: [1, 1], data: new Float64Array([route]) },
});
