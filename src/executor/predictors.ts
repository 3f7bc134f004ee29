import { Code, invalidArgument, toInferError } from '../errors';
import { GraphExecutor } from '../graph/executor';
import type { NodeClient } from '../graph/node-client';
import { predictorGraph, predictorsOf, walkNodes, type GraphSpec, type PredictorSpec } from '../graph/spec';
import type { FeedbackMessage } from '../message/feedback';
import type { InferMessage } from '../message/message';
import type { Logger } from '../util/logger';
import {
  PREDICTOR_HEADER,
  unknownPredictor,
  type FrontDoor,
  type Predictor,
  type PredictorSet,
  type RequestMeter,
} from './data-plane';

/**
 * Traffic between predictors without a service mesh (Seldon's predictors, which Seldon splits with Istio route
 * weights and mirrors): each request walks one live predictor drawn by its `traffic` weight, or the one the caller
 * pinned; each shadow gets a copy of the admitted, unpinned requests (its `traffic` percent of them) that runs
 * beside the live walk and whose answer, latency and errors go to metrics only. A shadow has at most
 * spec.shadowMaxInFlight copies in flight; a copy beyond that is dropped and counted, never queued, so a slow or
 * stuck shadow cannot hold memory or sockets the live path needs.
 */

/**
 * The index drawn for `r` in [0, 1) over integer weights: weight w_i takes the share w_i / sum of [0, 1). Weights of
 * 0 are never drawn; undefined when every weight is 0.
 */
export function pickByWeight(weights: readonly number[], r: number): number | undefined {
  const total = weights.reduce((a, w) => a + Math.max(0, w), 0);
  if (total <= 0) return undefined;
  let x = r * total;
  let last: number | undefined;
  for (let i = 0; i < weights.length; i++) {
    const w = Math.max(0, weights[i] as number);
    if (w === 0) continue;
    last = i;
    if (x < w) return i;
    x -= w;
  }
  return last; // r * total rounded up to total: the last positive weight
}

export interface TrafficSplitOptions {
  /** Request metrics: the shadows' copies and drops are recorded through it. */
  meter?: RequestMeter;
  logger?: Logger;
  /** [0, 1) uniform: Math.random unless a test draws its own. */
  random?: () => number;
}

interface Shadow {
  predictor: Predictor;
  /** Percent of requests copied. */
  percent: number;
  inFlight: number;
}

export class TrafficSplit implements PredictorSet {
  private readonly live: Predictor[] = [];
  private readonly weights: number[] = [];
  private readonly byName = new Map<string, Predictor>();
  private readonly shadows: Shadow[] = [];
  private readonly random: () => number;
  /** Each predictor's node names, for placing feedback (made on first use). */
  private readonly nodeNames = new Map<Predictor, Set<string>>();

  constructor(
    private readonly graph: GraphSpec,
    hops: NodeClient,
    private readonly o: TrafficSplitOptions = {},
  ) {
    this.random = o.random ?? Math.random;
    for (const spec of predictorsOf(graph)) {
      const p = predictorOf(graph, spec, hops);
      this.byName.set(p.name, p);
      if (spec.shadow) this.shadows.push({ predictor: p, percent: spec.traffic, inFlight: 0 });
      else {
        this.live.push(p);
        this.weights.push(spec.traffic);
      }
    }
    if (this.live.length === 0) throw new Error(`graph ${graph.name}: no live predictor`);
  }

  /** Predictor names, live then shadows (in manifest order within each). */
  get names(): string[] {
    return [...this.byName.keys()];
  }

  choose(_request: InferMessage, pinned?: string): Predictor {
    if (pinned !== undefined) return this.named(pinned);
    if (this.live.length === 1) return this.live[0] as Predictor;
    return this.live[pickByWeight(this.weights, this.random()) ?? 0] as Predictor;
  }

  /**
   * Feedback belongs to the predictor that answered: the pinned one; else the live predictor whose graph holds every
   * node the response names in meta.routing and meta.requestPath (node names are unique across predictors); else,
   * with one live predictor, that one. A response that names no node of exactly one predictor, with several live,
   * cannot be placed: INVALID_ARGUMENT naming the header that would place it.
   */
  chooseForFeedback(fb: FeedbackMessage, pinned?: string): Predictor {
    if (pinned !== undefined) return this.named(pinned);
    const meta = fb.response?.meta;
    const named = meta ? [...Object.keys(meta.routing), ...Object.keys(meta.requestPath)] : [];
    const holding = named.length === 0 ? [] : this.live.filter((p) => named.every((n) => this.nodesOf(p).has(n)));
    if (holding.length === 1) return holding[0] as Predictor;
    if (this.live.length === 1) return this.live[0] as Predictor;
    throw invalidArgument(
      `feedback: the response's meta.routing/requestPath do not name the nodes of one predictor (predictors: ${this.live
        .map((p) => p.name)
        .join(', ')}); send the predictor that answered in ${PREDICTOR_HEADER}`,
    );
  }

  private named(pinned: string): Predictor {
    const p = this.byName.get(pinned);
    if (!p) throw unknownPredictor(pinned, this.names);
    return p;
  }

  private nodesOf(p: Predictor): Set<string> {
    let names = this.nodeNames.get(p);
    if (!names) this.nodeNames.set(p, (names = new Set(walkNodes(p.graph.graph).map((n) => n.name))));
    return names;
  }

  mirror(request: InferMessage, o: { door: FrontDoor; deadline: number }): void {
    for (const s of this.shadows) {
      if (s.percent < 100 && this.random() * 100 >= s.percent) continue;
      const name = s.predictor.name;
      if (s.inFlight >= this.graph.shadowMaxInFlight) {
        this.o.meter?.shadowDropped?.(name);
        continue;
      }
      s.inFlight++;
      const end = this.o.meter?.shadow?.(o.door, name);
      // The copy starts on a later turn of the event loop, so the live walk's first hop goes out first; the
      // caller's abort signal is not passed: a copy ends at the request's deadline, not when the caller leaves.
      setImmediate(() => {
        s.predictor.walk(request, { deadline: o.deadline }).then(
          () => {
            s.inFlight--;
            end?.(Code.OK, undefined, name);
          },
          (err: unknown) => {
            s.inFlight--;
            const e = toInferError(err);
            end?.(e.code, undefined, name);
            this.o.logger?.debug({ predictor: name, code: e.code, err: e.message }, 'shadow copy failed');
          },
        );
      });
    }
  }
}

function predictorOf(graph: GraphSpec, spec: PredictorSpec, hops: NodeClient): Predictor {
  const g = predictorGraph(graph, spec);
  const executor = new GraphExecutor(g, hops);
  return {
    name: spec.name,
    graph: g,
    walk: (request, w) =>
      // Only a request that asks for its timeline walks through a recorder; the others pay nothing.
      (w.timeline ? new GraphExecutor(g, w.timeline) : executor).execute(request, w),
    feedback: (fb, o) => executor.feedback(fb, o),
  };
}
