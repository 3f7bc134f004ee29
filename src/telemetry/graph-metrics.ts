import * as grpc from '@grpc/grpc-js';
import { toInferError } from '../errors';
import type { HopInput, HopOptions, HopReply, NodeClient, NodeMethod } from '../graph/node-client';
import type { ModelMetadata } from '../components/api';
import type { FeedbackMessage } from '../message/feedback';
import { predictorOfNode, type GraphSpec, type NodeSpec } from '../graph/spec';
import { hopWire } from '../protocol/hop-codec';
import { COMPUTE_TRAILER } from '../rpc/trailers';
import type { ProcessMetrics } from './metrics';

/**
 * What the executor and the nodes record. Executor: Seldon Core v1's own histograms, same names, labels and buckets,
 * so dashboards built for Seldon's executor work; plus infergraph_* for what Seldon has not: hop transport versus
 * node compute (the node's trailer), in-flight. Nodes: infergraph_node_* request and compute histograms, in-flight.
 * Executor requests are observed by its data plane (src/executor/data-plane.ts), whatever front door they came
 * through; its hops by wrapping its NodeClient; a node's calls by wrapping its service implementations where it adds
 * them (meteredService). Nothing patches a server: the composition root hands these to the processes as a bundle.
 * The wrappers' own cost is small and measurable alone (bench/metrics-cost.ts, ~3.5 µs CPU per hop), the
 * interceptor chain stays tracing's, and the walk and the handlers stay metric-free.
 */

/** Seldon's executor labels codes with Go's status names (codes.Code.String()). */
const GO_CODE_NAMES = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];
export const codeLabel = (code: number): string => GO_CODE_NAMES[code] ?? `Code(${code})`;

/** Seldon's buckets: Prometheus' defaults (client_golang DefBuckets), seconds. */
export const SELDON_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** A hop is ~0.1–2 ms: finer buckets below Seldon's first. */
export const FINE_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** The predictor labels of Seldon's metrics; a graph is one predictor named 'default' with no version annotation. */
export const PREDICTOR = { predictor_name: 'default', predictor_version: '' };

export const elapsedSeconds = (t0: number): number => (performance.now() - t0) / 1000;

/** Label children per status code, made on first use: labels() validates and builds its arguments once per series. */
function perCode<T>(make: (code: string) => T): (code: number) => T {
  const byCode: (T | undefined)[] = [];
  return (code) => (byCode[code] ??= make(codeLabel(code)));
}

/** What the series below record into: a prom-client histogram child, or one that defers to it. */
export interface Observer {
  observe(value: number): void;
}

const pendingSeries: Observer[] = [];
const pendingValues: number[] = [];
let flushScheduled = false;

function flushObservations(): void {
  flushScheduled = false;
  for (let i = 0; i < pendingSeries.length; i++) (pendingSeries[i] as Observer).observe(pendingValues[i] as number);
  pendingSeries.length = 0;
  pendingValues.length = 0;
}

/**
 * `child`, recording after the current turn of the event loop (setImmediate) instead of where the call ends:
 * prom-client validates and hashes a child's labels on every observe, and a request makes ~25 observations across
 * the graph, each on its critical path (the executor observes a hop before it sends the next; a node observes its
 * call before it writes the answer). Deferred, they run once the next write is out. A scrape sees an observation at
 * most one loop turn late.
 */
export function deferred(child: Observer): Observer {
  return {
    observe(value) {
      pendingSeries.push(child);
      pendingValues.push(value);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushObservations);
      }
    },
  };
}

function computeSeconds(md: grpc.Metadata | null | undefined): number | undefined {
  const v = md?.get(COMPUTE_TRAILER)[0];
  const us = v === undefined ? NaN : Number(v);
  return Number.isFinite(us) ? us / 1e6 : undefined;
}

/**
 * An in-flight gauge kept as plain counters and read at scrape time (prom-client's collect): a call pays an increment
 * and a decrement, not two label lookups.
 */
export function inFlightGauge(
  prom: ProcessMetrics['prom'],
  registry: ProcessMetrics['registry'],
  name: string,
  help: string,
  labels: Record<string, string>,
  key: string,
): (value: string) => { n: number } {
  const counters = new Map<string, { n: number }>();
  new prom.Gauge({
    name,
    help,
    labelNames: [...Object.keys(labels), ...(key ? [key] : [])],
    registers: [registry],
    collect() {
      for (const [v, c] of counters) this.set(key ? { ...labels, [key]: v } : labels, c.n);
    },
  });
  return (v) => {
    let c = counters.get(v);
    if (!c) counters.set(v, (c = { n: 0 }));
    return c;
  };
}

export interface MethodMeter {
  start(): void;
  /** `computeUs` or a trailer carrying it: the node's own time, when the call reported one. */
  end(code: number, seconds: number, trailer: grpc.Metadata | null | undefined, computeUs?: number): void;
}

/**
 * A node's meter: `service` wraps the implementation of a gRPC service where the node adds it, and `forMethod(path)`
 * meters any other front end that serves the same calls, such as the framed hop transport, so a node's histograms
 * count every call, whatever it came over.
 */
export interface NodeMeter {
  service: <I extends grpc.UntypedServiceImplementation>(definition: grpc.ServiceDefinition, impl: I) => I;
  forMethod: (path: string) => MethodMeter;
}

/**
 * `impl` with every unary handler metered: `forMethod(path)` once per method, then start() when a call arrives and
 * end() when the handler answers (a cancelled call's handler still answers, CANCELLED).
 */
export function meteredService<I extends grpc.UntypedServiceImplementation>(
  definition: grpc.ServiceDefinition,
  impl: I,
  forMethod: (path: string) => MethodMeter,
): I {
  const wrapped: grpc.UntypedServiceImplementation = { ...impl };
  for (const [name, def] of Object.entries(definition)) {
    if (def.requestStream || def.responseStream) continue;
    for (const key of [name, def.originalName]) {
      const h = key ? (impl[key] as grpc.handleUnaryCall<unknown, unknown> | undefined) : undefined;
      if (!key || !h) continue;
      const m = forMethod(def.path);
      wrapped[key] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const t0 = performance.now();
        m.start();
        h(call, (err, value, trailer, flags) => {
          m.end(err ? (err.code ?? grpc.status.UNKNOWN) : grpc.status.OK, elapsedSeconds(t0), trailer ?? err?.metadata);
          callback(err, value, trailer, flags);
        });
      }) as grpc.UntypedHandleCall;
    }
  }
  return wrapped as I;
}

export function nodeServerMetrics({ prom, registry }: ProcessMetrics, node: NodeSpec): NodeMeter {
  const requests = new prom.Histogram({
    name: 'infergraph_node_requests_seconds',
    help: 'Calls served by this node, from the decoded request to the encoded answer (decode, component, encode)',
    labelNames: ['node', 'method', 'code'],
    buckets: FINE_BUCKETS,
    registers: [registry],
  });
  const compute = new prom.Histogram({
    name: 'infergraph_node_compute_seconds',
    help: "The node's component time per call (what it reports in the infergraph-compute-us trailer)",
    labelNames: ['node', 'method', 'code'],
    buckets: FINE_BUCKETS,
    registers: [registry],
  });
  const gauge = inFlightGauge(
    prom,
    registry,
    'infergraph_node_in_flight_requests',
    'Calls this node has accepted and not answered yet: its queue depth',
    { node: node.name },
    '',
  )('');
  const meters = new Map<string, MethodMeter>();
  const forMethod = (method: string): MethodMeter => {
    let m = meters.get(method);
    if (m) return m;
    const byCode = perCode((code) => ({
      requests: deferred(requests.labels({ node: node.name, method, code })),
      compute: deferred(compute.labels({ node: node.name, method, code })),
    }));
    m = {
      start: () => gauge.n++,
      end: (code, seconds, trailer, computeUs) => {
        gauge.n--;
        const s = byCode(code);
        s.requests.observe(seconds);
        const c = computeUs !== undefined ? computeUs / 1e6 : computeSeconds(trailer);
        if (c !== undefined) s.compute.observe(c);
      },
    };
    meters.set(method, m);
    return m;
  };
  return { service: (definition, impl) => meteredService(definition, impl, forMethod), forMethod };
}

/** Wraps the executor's NodeClient: one observation per hop, from the call to its settled answer. */
export function executorHopMetrics(
  { prom, registry }: ProcessMetrics,
  graph: GraphSpec,
): (client: NodeClient) => NodeClient {
  const hop = new prom.Histogram({
    name: 'seldon_api_executor_client_requests_seconds',
    help: 'A histogram of latencies for client calls from executor',
    labelNames: [
      'deployment_name',
      'predictor_name',
      'predictor_version',
      'service',
      'model_name',
      'model_image',
      'model_version',
      'method',
      'code',
    ],
    buckets: SELDON_BUCKETS,
    registers: [registry],
  });
  const transport = new prom.Histogram({
    name: 'infergraph_hop_transport_seconds',
    help: "Hop time outside the node's component: encoding, gRPC, socket, decoding (the hop minus the node's compute)",
    labelNames: ['deployment_name', 'model_name', 'service'],
    buckets: FINE_BUCKETS,
    registers: [registry],
  });
  const compute = new prom.Histogram({
    name: 'infergraph_hop_compute_seconds',
    help: 'Compute time the node reported for the hop (infergraph-compute-us trailer)',
    labelNames: ['deployment_name', 'model_name', 'service'],
    buckets: FINE_BUCKETS,
    registers: [registry],
  });
  // Seldon's feedback counters (its Python wrapper's and Java engine's names, with _total as both expose them):
  // one per node that took a feedback, and the rewards it was given, counted where the executor delivers them.
  const feedbackLabels = [
    'deployment_name',
    'predictor_name',
    'predictor_version',
    'model_name',
    'model_image',
    'model_version',
    'method',
  ];
  const feedback = new prom.Counter({
    name: 'seldon_api_model_feedback_total',
    help: 'Feedback delivered to the node (Seldon SendFeedback), counted when the node took it',
    labelNames: feedbackLabels,
    registers: [registry],
  });
  const reward = new prom.Counter({
    name: 'seldon_api_model_feedback_reward_total',
    help: 'Sum of the rewards of the feedback the node took',
    labelNames: feedbackLabels,
    registers: [registry],
  });
  const inFlight = inFlightGauge(
    prom,
    registry,
    'infergraph_hop_in_flight_requests',
    'Calls from the executor to a node not answered yet',
    { deployment_name: graph.name },
    'model_name',
  );
  interface Route {
    /** sendFeedback only: counts a delivered feedback and its reward. */
    took?: (reward: number) => void;
    gauge: { n: number };
    /** Seldon's client histogram child per status code. */
    code: (c: number) => Observer;
    compute: Observer;
    transport: Observer;
  }
  // Resolved once per (node, method): a hop then costs two counter updates and at most three observations.
  const routes = new Map<NodeSpec, Map<NodeMethod, Route>>();
  const route = (node: NodeSpec, method: NodeMethod): Route => {
    let byMethod = routes.get(node);
    if (!byMethod) routes.set(node, (byMethod = new Map<NodeMethod, Route>()));
    let r = byMethod.get(method);
    if (!r) {
      const service = hopWire(graph.codec, method).path;
      const base = { deployment_name: graph.name, model_name: node.name };
      const labels = {
        ...base,
        ...PREDICTOR,
        predictor_name: predictorOfNode(graph, node.name)?.name ?? PREDICTOR.predictor_name,
        service,
        model_image: node.implementation,
        model_version: '',
        method: 'unary',
      };
      r = {
        gauge: inFlight(node.name),
        code: perCode((code) => deferred(hop.labels({ ...labels, code }))),
        compute: deferred(compute.labels({ ...base, service })),
        transport: deferred(transport.labels({ ...base, service })),
      };
      if (method === 'sendFeedback') {
        const fl = {
          ...base,
          ...PREDICTOR,
          model_image: node.implementation,
          model_version: '',
          method: 'feedback',
        };
        const count = feedback.labels(fl);
        const sum = reward.labels(fl);
        r.took = (value) => {
          count.inc();
          // prom-client counters refuse negative increments; Seldon's rewards are >= 0, a negative one is not summed
          if (value > 0) sum.inc(value);
        };
      }
      byMethod.set(method, r);
    }
    return r;
  };
  return (inner) =>
    new MeteredNodeClient(inner, (node, method, input) => {
      const r = route(node, method);
      r.gauge.n++;
      return (code, seconds, computeUs) => {
        r.gauge.n--;
        r.code(code).observe(seconds);
        if (r.took && code === Number(grpc.status.OK)) r.took((input as FeedbackMessage).reward);
        if (computeUs !== undefined && Number.isFinite(computeUs)) {
          r.compute.observe(computeUs / 1e6);
          r.transport.observe(Math.max(0, seconds - computeUs / 1e6));
        }
      };
    });
}

type HopEnd = (code: number, seconds: number, computeUs: number | undefined) => void;

/** A NodeClient that reports each hop: its status, duration and the node's compute time. */
class MeteredNodeClient implements NodeClient {
  constructor(
    private readonly inner: NodeClient,
    private readonly begin: (node: NodeSpec, method: NodeMethod, input: unknown) => HopEnd,
  ) {}

  call<M extends NodeMethod>(node: NodeSpec, method: M, input: HopInput<M>, opts: HopOptions): Promise<HopReply> {
    const end = this.begin(node, method, input);
    const t0 = performance.now();
    return this.inner.call(node, method, input, opts).then(
      (reply) => (end(grpc.status.OK, elapsedSeconds(t0), reply.computeUs), reply),
      (err: unknown) => {
        const e = toInferError(err);
        end(e.code, elapsedSeconds(t0), e.computeUs);
        throw err;
      },
    );
  }

  metadata(node: NodeSpec, opts: HopOptions): Promise<ModelMetadata> {
    return this.inner.metadata(node, opts);
  }
}

/** What admission metrics read of a bound (src/util/limiter.ts), at scrape time. */
export interface AdmissionCounts {
  readonly active: number;
  readonly waiting: number;
  readonly refused: number;
  readonly dropped: number;
}

/**
 * Admission of the executor (spec.maxInFlight) or a node (runtime.maxConcurrency / maxQueue), read at scrape: refusals
 * (RESOURCE_EXHAUSTED, including the executor's early ones that never reach a handler), calls dropped from a queue
 * unrun (cancelled or expired), and the queue's depth. `where` is 'executor' or the node's name.
 */
export function admissionMetrics({ prom, registry }: ProcessMetrics, where: string): (counts: AdmissionCounts) => void {
  let counts: AdmissionCounts | undefined;
  const labels = { where };
  new prom.Counter({
    name: 'infergraph_admission_refused_total',
    help: 'Requests refused at once (RESOURCE_EXHAUSTED) because the in-flight bound and its queue were full',
    labelNames: ['where'],
    registers: [registry],
    collect() {
      if (!counts) return;
      this.reset();
      this.inc(labels, counts.refused);
    },
  });
  new prom.Counter({
    name: 'infergraph_admission_dropped_total',
    help: 'Queued calls dropped unrun because their caller cancelled or their deadline passed',
    labelNames: ['where'],
    registers: [registry],
    collect() {
      if (!counts) return;
      this.reset();
      this.inc(labels, counts.dropped);
    },
  });
  new prom.Gauge({
    name: 'infergraph_admission_queue_depth',
    help: 'Calls waiting for a slot (the executor has no queue: always 0 there)',
    labelNames: ['where'],
    registers: [registry],
    collect() {
      if (counts) this.set(labels, counts.waiting);
    },
  });
  return (c) => {
    counts = c;
  };
}
