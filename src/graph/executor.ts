import { setMaxListeners } from 'node:events';
import { Code, InferError, internal, invalidArgument, toInferError } from '../errors';
import type { FeedbackMessage } from '../message/feedback';
import { emptyMeta, type InferMessage, type Meta } from '../message/message';
import { mergeBranches, mergeMeta, newPuid } from '../message/meta';
import { toNumbers } from '../tensor/tensor';
import type { HopOptions, HopReply, NodeClient } from './node-client';
import { walkNodes, type GraphSpec, type NodeSpec } from './spec';

/**
 * The graph walk — all of it, in this one file. Seldon Core v1 semantics per node:
 *   transformInput (MODEL → predict, TRANSFORMER → transformInput)
 *   → route (ROUTER → route; -1 all children, -2 none, N child N; others: all children)
 *   → children in parallel
 *   → aggregate (COMBINER → aggregate; otherwise the first child's answer)
 *   → transformOutput (OUTPUT_TRANSFORMER → transformOutput).
 * Improvements over Seldon: the first failing child aborts its siblings and its own status is returned; one
 * end-to-end deadline goes to every hop; meta (tags, metrics, routing, requestPath) is merged through every node,
 * combiners included. Every ROUTER's choice is recorded in meta.routing {router: branch}, as Seldon does.
 *
 * Feedback (Seldon's SendFeedback) walks the same tree along the route an answer records in its meta.routing: from
 * the root, a ROUTER's recorded branch (-1 all children, -2 none), every child of other nodes. Each MODEL and ROUTER
 * on that route gets the whole Feedback (Seldon's executor delivers to those types); a router's component reads the
 * branch it chose from the response's routing. Deliveries run in parallel (Seldon's go children first; nothing
 * depends on the order) and all settle before the answer, so a node that refuses one does not stop the others (the
 * first refusal is the answer); a node whose component has no sendFeedback answers UNIMPLEMENTED and is skipped.
 */

const WALK_OVER = new InferError(Code.CANCELLED, 'the request is over');

export const ROUTE_ALL = -1;
export const ROUTE_NONE = -2;

export interface WalkOptions {
  /** Absolute deadline (ms since epoch). */
  deadline: number;
  /** Client cancellation. */
  signal?: AbortSignal;
}

export class GraphExecutor {
  constructor(
    readonly graph: GraphSpec,
    private readonly client: NodeClient,
  ) {}

  async execute(request: InferMessage, opts: WalkOptions): Promise<InferMessage> {
    const meta: Meta = { ...request.meta, puid: request.meta.puid || newPuid() };
    const controller = new AbortController();
    // Every hop in flight listens to this one signal: a wide graph has more than Node's default of 10 at once.
    setMaxListeners(0, controller.signal);
    const unlink = linkAbort(opts.signal, controller);
    let timer: NodeJS.Timeout | undefined;
    let answered = false;
    try {
      if (Date.now() >= opts.deadline)
        throw new InferError(Code.DEADLINE_EXCEEDED, 'deadline passed before the graph was entered');
      const hop = { deadline: opts.deadline, signal: controller.signal };
      const walk = this.walk(this.graph.graph, { ...request, meta }, hop);
      // The answer is due at the deadline whatever a node does: a hop that ignores its deadline (or a slow
      // transport) must not hold the caller past it. The walk is aborted in `finally`.
      const due = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => {
            const late = Date.now() - opts.deadline;
            const msg = `deadline of the request passed (${late} ms ago) before the graph answered`;
            reject(new InferError(Code.DEADLINE_EXCEEDED, msg));
          },
          Math.max(0, opts.deadline - Date.now()),
        );
      });
      walk.catch(() => undefined); // a late rejection after the timer won is not unhandled
      const answer = await Promise.race([walk, due]);
      answered = true;
      return answer;
    } catch (err) {
      throw toInferError(err);
    } finally {
      clearTimeout(timer);
      unlink();
      // A failure, the deadline or the caller's cancel stops whatever is still in flight: the failing branch's
      // siblings included (they share this signal). An answered walk has nothing in flight (every hop it started
      // has settled), and an abort dispatches an event: ~10 µs a request saved. The fixed reason spares a
      // DOMException (stack trace).
      if (!answered) controller.abort(WALK_OVER);
    }
  }

  /**
   * Delivers `fb` to the MODEL and ROUTER nodes on the route its response took. INVALID_ARGUMENT, naming the
   * problem, for a feedback without a response, a non-finite reward, or a routing that does not fit this graph (an
   * unknown node, a branch a router does not have, a router on the route with no recorded branch). The reply carries
   * the response's puid and routing, and the tags and metrics the nodes added.
   */
  async feedback(fb: FeedbackMessage, opts: WalkOptions): Promise<InferMessage> {
    const response = fb.response;
    if (!response)
      throw invalidArgument(
        'feedback has no response: send the answer the graph gave (its meta.routing says which branch each router chose)',
      );
    if (!Number.isFinite(fb.reward)) throw invalidArgument(`feedback reward ${fb.reward} is not a finite number`);
    const targets = this.feedbackRoute(response.meta.routing);
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    const unlink = linkAbort(opts.signal, controller);
    let delivered = false;
    try {
      if (Date.now() >= opts.deadline)
        throw new InferError(Code.DEADLINE_EXCEEDED, 'deadline passed before feedback was delivered');
      const hop = { deadline: opts.deadline, signal: controller.signal };
      // Every delivery settles before the answer, failures too (as Seldon's executor waits for all children): a
      // feedback one node refuses (a router's reward out of range) has still reached the others, deterministically.
      const settled = await Promise.allSettled(
        targets.map((node) =>
          this.client.call(node, 'sendFeedback', fb, hop).catch((err: unknown): HopReply | undefined => {
            if (err instanceof InferError && err.code === Code.UNIMPLEMENTED) return undefined;
            throw err;
          }),
        ),
      );
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      const replies = settled.map((r) => (r as PromiseFulfilledResult<HopReply | undefined>).value);
      delivered = true;
      const meta = mergeMeta(
        { ...emptyMeta(response.meta.puid), routing: { ...response.meta.routing } },
        ...replies.flatMap((r) => (r ? [{ ...r.message.meta, routing: {}, requestPath: {} }] : [])),
      );
      return { meta, payload: { kind: 'none' } };
    } catch (err) {
      throw toInferError(err);
    } finally {
      unlink();
      if (!delivered) controller.abort(WALK_OVER);
    }
  }

  /** The MODEL and ROUTER nodes on the route `routing` records; INVALID_ARGUMENT when it does not fit the graph. */
  private feedbackRoute(routing: Readonly<Record<string, number>>): NodeSpec[] {
    const nodes = new Map(walkNodes(this.graph.graph).map((n) => [n.name, n]));
    const routers = [...nodes.values()].filter((n) => n.type === 'ROUTER').map((n) => n.name);
    const known = routers.length ? `routers: ${routers.join(', ')}` : 'it has no routers';
    for (const [name, branch] of Object.entries(routing)) {
      const node = nodes.get(name);
      if (!node)
        throw invalidArgument(
          `feedback response.meta.routing names '${name}', which is not a node of graph ${this.graph.name} (${known})`,
        );
      // Seldon's executor (with routing injection) records -1 for the models and combiners it passed: accepted.
      if (node.type !== 'ROUTER') {
        if (branch !== ROUTE_ALL)
          throw invalidArgument(
            `feedback response.meta.routing gives '${name}' branch ${branch}, but it is a ${node.type}, not a router (${known})`,
          );
        continue;
      }
      const n = node.children.length;
      if (!Number.isInteger(branch) || branch < ROUTE_NONE || branch >= n)
        throw invalidArgument(
          `feedback response.meta.routing gives router '${name}' branch ${branch}, out of range: it has ${n} children (valid: -2, -1, 0..${n - 1})`,
        );
    }
    const out: NodeSpec[] = [];
    const visit = (node: NodeSpec): void => {
      if (node.type === 'MODEL' || node.type === 'ROUTER') out.push(node);
      if (node.children.length === 0) return;
      let branch = ROUTE_ALL;
      if (node.type === 'ROUTER') {
        const b = routing[node.name];
        if (b === undefined)
          throw invalidArgument(
            `feedback response.meta.routing has no branch for router '${node.name}': send the answer's meta as the graph returned it`,
          );
        branch = b;
      }
      if (branch === ROUTE_NONE) return;
      for (const child of branch === ROUTE_ALL ? node.children : [node.children[branch] as NodeSpec]) visit(child);
    };
    visit(this.graph.graph);
    return out;
  }

  private async walk(node: NodeSpec, input: InferMessage, hop: HopOptions): Promise<InferMessage> {
    let msg = withPath(input, node);
    if (node.type === 'MODEL') msg = await this.hop(node, 'predict', msg, hop);
    else if (node.type === 'TRANSFORMER') msg = await this.hop(node, 'transformInput', msg, hop);

    if (node.children.length > 0) {
      const route = node.type === 'ROUTER' ? await this.route(node, msg, hop) : ROUTE_ALL;
      if (node.type === 'ROUTER')
        msg = { ...msg, meta: { ...msg.meta, routing: { ...msg.meta.routing, [node.name]: route } } };
      if (route !== ROUTE_NONE) {
        const targets = route === ROUTE_ALL ? node.children : [node.children[route] as NodeSpec];
        const outputs = await this.children(targets, msg, hop);
        const merged = mergeBranches(
          msg.meta,
          outputs.map((o) => o.meta),
        );
        if (node.type === 'COMBINER') {
          const { message: reply } = await this.client.call(
            node,
            'aggregate',
            outputs.map((o) => ({ ...o, meta: merged })),
            hop,
          );
          msg = { ...reply, meta: mergeMeta(merged, reply.meta) };
        } else {
          msg = { ...(outputs[0] as InferMessage), meta: merged };
        }
      }
    }

    if (node.type === 'OUTPUT_TRANSFORMER') msg = await this.hop(node, 'transformOutput', msg, hop);
    return msg;
  }

  private async hop(
    node: NodeSpec,
    method: 'predict' | 'transformInput' | 'transformOutput',
    msg: InferMessage,
    hop: HopOptions,
  ): Promise<InferMessage> {
    const { message: reply } = await this.client.call(node, method, msg, hop);
    return { ...reply, meta: mergeMeta(msg.meta, reply.meta) };
  }

  private async route(node: NodeSpec, msg: InferMessage, hop: HopOptions): Promise<number> {
    const { message: reply } = await this.client.call(node, 'route', msg, hop);
    const p = reply.payload;
    const value =
      p.kind === 'tensor' && p.tensor.dtype !== 'string' && p.tensor.data.length > 0
        ? toNumbers(p.tensor)[0]
        : undefined;
    if (value === undefined || !Number.isInteger(value)) {
      throw internal(`router '${node.name}' answered without an integer route (expected a tensor like [[N]])`);
    }
    if (value !== ROUTE_ALL && value !== ROUTE_NONE && (value < 0 || value >= node.children.length)) {
      throw internal(
        `router '${node.name}' chose route ${value} but has ${node.children.length} children (valid: -2, -1, 0..${node.children.length - 1})`,
      );
    }
    return value;
  }

  /**
   * Children run in parallel; the first failure is the error returned, and it aborts the others: it fails the whole
   * walk, whose `finally` aborts the signal every hop of the request shares (in the same turn of the event loop).
   */
  private async children(targets: NodeSpec[], msg: InferMessage, hop: HopOptions): Promise<InferMessage[]> {
    if (targets.length === 1) return [await this.walk(targets[0] as NodeSpec, msg, hop)];
    return Promise.all(targets.map((child) => this.walk(child, msg, hop)));
  }
}

function withPath(msg: InferMessage, node: NodeSpec): InferMessage {
  const where = node.endpoint ?? node.implementation;
  return { ...msg, meta: { ...msg.meta, requestPath: { ...msg.meta.requestPath, [node.name]: where } } };
}

function linkAbort(parent: AbortSignal | undefined, child: AbortController): () => void {
  if (!parent) return () => undefined;
  if (parent.aborted) {
    child.abort(parent.reason);
    return () => undefined;
  }
  const onAbort = (): void => child.abort(parent.reason);
  parent.addEventListener('abort', onAbort, { once: true });
  return () => parent.removeEventListener('abort', onAbort);
}
