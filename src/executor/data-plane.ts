import { Code, invalidArgument, toInferError, unimplemented, type CodeValue } from '../errors';
import { GraphExecutor } from '../graph/executor';
import { collectModelMetadata } from '../graph/metadata';
import type { NodeClient } from '../graph/node-client';
import { DEFAULT_PREDICTOR, type GraphSpec } from '../graph/spec';
import type { ModelMetadata } from '../components/api';
import type { FeedbackMessage } from '../message/feedback';
import { emptyMeta, type InferMessage, type JsonValue, type Payload } from '../message/message';
import { TIMELINE_TAG, TimelineRecorder } from '../telemetry/timeline';
import type { Limiter } from '../util/limiter';

/**
 * The executor's data plane: the one protocol-neutral path every front door (Seldon and V2, gRPC and REST) calls.
 * A front door only decodes its wire form, calls `infer` and encodes the answer; the plane owns the default
 * deadline, admission, the choice of predictor, the walk, the hop timeline, request logging, request metrics and the
 * mapping of every failure into an InferError. MLServer calls the same role its DataPlane.
 */

/** Which front door a request came through: names it in metrics. */
export interface FrontDoor {
  /** Seldon's `service` label: the gRPC method path, or the REST route's service name ('predictions', …). */
  service: string;
  /** HTTP method for REST doors (metrics label it as Seldon's REST server does); absent for gRPC. */
  http?: string;
}

/** Request metrics: `start` when a request arrives, the returned function when it is answered. */
export interface RequestMeter {
  start(door: FrontDoor): RequestEnd;
  /** A shadow predictor's copy of a request (Seldon's request histogram under the shadow's predictor_name). */
  shadow?(door: FrontDoor, predictor: string): RequestEnd;
  /** A copy not sent because the shadow had as many in flight as it may (spec.shadowMaxInFlight). */
  shadowDropped?(predictor: string): void;
}
/**
 * `httpStatus` when a REST door answered with a status that no gRPC code names (413, 415); `predictor` the one that
 * walked the request (absent when the request failed before one was chosen).
 */
export type RequestEnd = (code: CodeValue, httpStatus?: number, predictor?: string) => void;

/**
 * One predictor: a walk of a graph. A graph written with spec.graph is one predictor; spec.predictors (#19) are
 * several, chosen among by PredictorSet.choose (src/executor/predictors.ts), shadows fed by PredictorSet.mirror.
 */
export interface Predictor {
  readonly name: string;
  readonly graph: GraphSpec;
  walk(
    request: InferMessage,
    opts: { deadline: number; signal?: AbortSignal; timeline?: TimelineRecorder },
  ): Promise<InferMessage>;
  /** Delivers feedback along the route its response records (GraphExecutor.feedback); absent: UNIMPLEMENTED. */
  feedback?(fb: FeedbackMessage, opts: { deadline: number; signal?: AbortSignal }): Promise<InferMessage>;
}

export interface PredictorSet {
  /** The predictor for this request: the pinned one (INVALID_ARGUMENT naming the predictors if none is so called). */
  choose(request: InferMessage, pinned?: string): Predictor;
  /**
   * The predictor that answered the request a feedback is about: the pinned one, else the one whose graph holds the
   * nodes the feedback's response names (meta.routing, meta.requestPath); absent: choose().
   */
  chooseForFeedback?(fb: FeedbackMessage, pinned?: string): Predictor;
  /**
   * Copies an admitted request to the shadow predictors, off the critical path: returns at once, and nothing a
   * shadow does reaches the caller.
   */
  mirror?(request: InferMessage, o: { door: FrontDoor; deadline: number }): void;
}

/** Request metadata (gRPC) and HTTP header that pins a predictor, and that names the one that answered. */
export const PREDICTOR_HEADER = 'x-infergraph-predictor';

/** The refusal of a pinned predictor that is not there. */
export const unknownPredictor = (pinned: string, names: readonly string[]): Error =>
  invalidArgument(`${PREDICTOR_HEADER} '${pinned}': no such predictor (predictors: ${names.join(', ')})`);

/** Request logging (#21): sees every answered or failed request; a no-op today. */
export interface RequestLogger {
  log(entry: { door: FrontDoor; request: InferMessage; reply?: InferMessage; error?: unknown; ms: number }): void;
}

/** What a front door hands the plane. */
export interface PlaneRequest<T> {
  door: FrontDoor;
  /**
   * Decodes the wire request. It runs inside the plane, so a bad request is counted and mapped like any other
   * failure (INVALID_ARGUMENT, NOT_FOUND for a wrong model).
   */
  decode: () => InferMessage;
  /** The answer in the front door's wire form; a failure here (an unknown requested output) is the request's. */
  encode: (reply: InferMessage) => T;
  /** The caller's deadline, ms since epoch; spec.deadlineMs from now when absent. */
  deadline?: number;
  /** Aborted when the caller goes away before the answer. */
  signal?: AbortSignal;
  /** The caller asked for its hop timeline (x-infergraph-timeline): the reply's meta.tags carries it. */
  timeline?: boolean;
  /** The predictor the caller pinned (PREDICTOR_HEADER); such a request is not copied to shadows. */
  predictor?: string;
  /** Told which predictor walks the request, once chosen (the door answers with it in PREDICTOR_HEADER). */
  served?: (predictor: string) => void;
}

export interface DataPlaneOptions {
  graph: GraphSpec;
  /** The node client the walk goes through (already metered, when metrics are on). */
  hops: NodeClient;
  /** The in-flight bound shared by every front door. */
  admission: Limiter;
  meter?: RequestMeter;
  predictors?: PredictorSet;
  requestLogger?: RequestLogger;
}

const NO_METER: RequestEnd = () => undefined;
const NONE: Payload = { kind: 'none' };

/** The graph as the one predictor of today's executors. */
export function singlePredictor(graph: GraphSpec, hops: NodeClient): PredictorSet {
  const executor = new GraphExecutor(graph, hops);
  const predictor: Predictor = {
    name: DEFAULT_PREDICTOR,
    graph,
    walk: (request, o) =>
      // Only a request that asks for its timeline walks through a recorder; the others pay nothing.
      (o.timeline ? new GraphExecutor(graph, o.timeline) : executor).execute(request, o),
    feedback: (fb, o) => executor.feedback(fb, o),
  };
  return {
    choose: (_request, pinned) => {
      if (pinned !== undefined && pinned !== predictor.name) throw unknownPredictor(pinned, [predictor.name]);
      return predictor;
    },
  };
}

export class DataPlane {
  readonly graph: GraphSpec;
  readonly admission: Limiter;
  private readonly predictors: PredictorSet;

  constructor(private readonly o: DataPlaneOptions) {
    this.graph = o.graph;
    this.admission = o.admission;
    this.predictors = o.predictors ?? singlePredictor(o.graph, o.hops);
  }

  /**
   * Decode, admit, walk, encode. Resolves with the encoded answer or rejects with an InferError; the request is
   * metered from the call to the settled answer, whatever happened in between.
   */
  async infer<T>(req: PlaneRequest<T>): Promise<T> {
    const end = this.start(req.door);
    const t0 = performance.now();
    let request: InferMessage | undefined;
    let chosen: string | undefined;
    try {
      request = req.decode();
      const message = request;
      const deadline = req.deadline ?? Date.now() + this.graph.deadlineMs;
      const predictor = this.predictors.choose(message, req.predictor);
      chosen = predictor.name;
      req.served?.(chosen);
      const timeline = req.timeline ? new TimelineRecorder(this.o.hops) : undefined;
      const walk = (): Promise<InferMessage> => {
        // Only an admitted request is copied: a refused one costs the shadows nothing either.
        if (req.predictor === undefined) this.predictors.mirror?.(message, { door: req.door, deadline });
        return predictor.walk(message, {
          deadline,
          ...(req.signal ? { signal: req.signal } : {}),
          ...(timeline ? { timeline } : {}),
        });
      };
      let reply = await this.admission.run(walk);
      if (timeline) {
        const tags = { ...reply.meta.tags, [TIMELINE_TAG]: timeline.finish() as unknown as JsonValue };
        reply = { ...reply, meta: { ...reply.meta, tags } };
      }
      const out = req.encode(reply);
      end(Code.OK, undefined, chosen);
      this.o.requestLogger?.log({ door: req.door, request, reply, ms: performance.now() - t0 });
      return out;
    } catch (err) {
      const e = toInferError(err);
      end(e.code, undefined, chosen);
      if (request) this.o.requestLogger?.log({ door: req.door, request, error: e, ms: performance.now() - t0 });
      throw e;
    }
  }

  /**
   * Seldon's SendFeedback from any front door: decoded, admitted and metered like a request, delivered by the
   * predictor that answered the request it is about (PredictorSet.chooseForFeedback).
   */
  async feedback<T>(req: {
    door: FrontDoor;
    decode: () => FeedbackMessage;
    encode: (reply: InferMessage) => T;
    deadline?: number;
    signal?: AbortSignal;
    predictor?: string;
    served?: (name: string) => void;
  }): Promise<T> {
    return this.call(req.door, async () => {
      const fb = req.decode();
      const deadline = req.deadline ?? Date.now() + this.graph.deadlineMs;
      const predictor = this.predictors.chooseForFeedback
        ? this.predictors.chooseForFeedback(fb, req.predictor)
        : this.predictors.choose(fb.request ?? fb.response ?? { meta: emptyMeta(), payload: NONE }, req.predictor);
      req.served?.(predictor.name);
      if (!predictor.feedback) throw unimplemented(`predictor ${predictor.name} takes no feedback`);
      const deliver = predictor.feedback.bind(predictor);
      const reply = await this.admission.run(() =>
        deliver(fb, { deadline, ...(req.signal ? { signal: req.signal } : {}) }),
      );
      return req.encode(reply);
    });
  }

  /** A call that is not a walk (metadata, readiness), metered and error-mapped as requests are. */
  async call<T>(door: FrontDoor, fn: () => Promise<T> | T): Promise<T> {
    const end = this.start(door);
    try {
      const out = await fn();
      end(Code.OK);
      return out;
    } catch (err) {
      const e = toInferError(err);
      end(e.code);
      throw e;
    }
  }

  /** Meters a request a front door refused before it reached the plane (an oversized or unparsable body). */
  refused(door: FrontDoor, err: unknown, httpStatus?: number): void {
    this.start(door)(toInferError(err).code, httpStatus);
  }

  /** The nodes' metadata, asked through the node client (best effort, see collectModelMetadata). */
  models(): Promise<Record<string, ModelMetadata>> {
    return collectModelMetadata(this.graph, this.o.hops);
  }

  private start(door: FrontDoor): RequestEnd {
    return this.o.meter ? this.o.meter.start(door) : NO_METER;
  }
}
