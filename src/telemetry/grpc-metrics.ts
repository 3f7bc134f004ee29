import * as grpc from '@grpc/grpc-js';
import type { GraphSpec, NodeSpec } from '../graph/spec';
import { COMPUTE_TRAILER } from '../rpc/trailers';
import type { ProcessMetrics } from './metrics';

/**
 * What the executor and the nodes record, as gRPC interceptors (the walk and the handlers stay free of metrics).
 * Executor: Seldon Core v1's own histograms, same names, labels and buckets, so dashboards built for Seldon's executor
 * work; plus infergraph_* for what Seldon has not: hop transport versus node compute (the node's trailer), in-flight.
 * Nodes: infergraph_node_* request and compute histograms and in-flight requests.
 */

/** Seldon's executor labels codes with Go's status names (codes.Code.String()). */
const GO_CODE_NAMES = [
  'OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied',
  'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable',
  'DataLoss', 'Unauthenticated',
];
export const codeLabel = (code: number): string => GO_CODE_NAMES[code] ?? `Code(${code})`;

/** Seldon's buckets: Prometheus' defaults (client_golang DefBuckets), seconds. */
export const SELDON_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** A hop is ~0.1–2 ms: finer buckets below Seldon's first. */
export const FINE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Health checks and reflection are not requests: their (long-lived) calls would skew every histogram. */
const UNMEASURED = ['/grpc.health.', '/grpc.reflection.'];
const measured = (path: string): boolean => !UNMEASURED.some((p) => path.startsWith(p));

/** The predictor labels of Seldon's metrics; a graph is one predictor named 'default' with no version annotation. */
export const PREDICTOR = { predictor_name: 'default', predictor_version: '' };

const elapsedSeconds = (t0: number): number => (performance.now() - t0) / 1000;

/** Label children cached per (path, code): labels() hashes its arguments, once per series here. */
function cached<T>(make: (path: string, code: string) => T): (path: string, code: string) => T {
  const m = new Map<string, T>();
  return (path, code) => {
    const k = `${path}\u0000${code}`;
    let v = m.get(k);
    if (!v) m.set(k, (v = make(path, code)));
    return v;
  };
}

function computeSeconds(md: grpc.Metadata | undefined): number | undefined {
  const v = md?.get(COMPUTE_TRAILER)[0];
  const us = v === undefined ? NaN : Number(v);
  return Number.isFinite(us) ? us / 1e6 : undefined;
}

export function executorServerMetrics({ prom, registry }: ProcessMetrics, graph: GraphSpec): grpc.ServerInterceptor {
  const requests = new prom.Histogram({
    name: 'seldon_api_executor_server_requests_seconds',
    help: 'A histogram of latencies for executor server',
    labelNames: ['deployment_name', 'predictor_name', 'predictor_version', 'service', 'method', 'code'],
    buckets: SELDON_BUCKETS,
    registers: [registry],
  });
  const inFlight = new prom.Gauge({
    name: 'infergraph_executor_in_flight_requests',
    help: 'Requests the executor has accepted and not answered yet, by gRPC method',
    labelNames: ['deployment_name', 'service'],
    registers: [registry],
  });
  const series = cached((service, code) => requests.labels({ deployment_name: graph.name, ...PREDICTOR, service, method: 'unary', code }));
  const gauges = cached((service) => inFlight.labels({ deployment_name: graph.name, service }));
  return serverInterceptor((path) => {
    const g = gauges(path, '');
    g.inc();
    return (code, seconds) => {
      g.dec();
      series(path, codeLabel(code)).observe(seconds);
    };
  });
}

export function executorClientMetrics({ prom, registry }: ProcessMetrics, graph: GraphSpec): (node: NodeSpec) => grpc.Interceptor {
  const hop = new prom.Histogram({
    name: 'seldon_api_executor_client_requests_seconds',
    help: 'A histogram of latencies for client calls from executor',
    labelNames: ['deployment_name', 'predictor_name', 'predictor_version', 'service', 'model_name', 'model_image', 'model_version', 'method', 'code'],
    buckets: SELDON_BUCKETS,
    registers: [registry],
  });
  const transport = new prom.Histogram({
    name: 'infergraph_hop_transport_seconds',
    help: "Hop time outside the node's component: encoding, gRPC, the network or socket, decoding (hop minus the node's reported compute)",
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
  const inFlight = new prom.Gauge({
    name: 'infergraph_hop_in_flight_requests',
    help: 'Calls from the executor to a node not answered yet',
    labelNames: ['deployment_name', 'model_name'],
    registers: [registry],
  });
  return (node) => {
    const base = { deployment_name: graph.name, model_name: node.name };
    const gauge = inFlight.labels(base);
    const hops = cached((service, code) => hop.labels({ ...base, ...PREDICTOR, service, model_image: node.implementation, model_version: '', method: 'unary', code }));
    const split = cached((service) => ({ transport: transport.labels({ ...base, service }), compute: compute.labels({ ...base, service }) }));
    return (options, nextCall) => {
      const path = options.method_definition.path;
      const t0 = performance.now();
      gauge.inc();
      return new grpc.InterceptingCall(nextCall(options), {
        start(metadata, _listener, next) {
          next(metadata, {
            onReceiveStatus(status, nextStatus) {
              const seconds = elapsedSeconds(t0);
              gauge.dec();
              hops(path, codeLabel(status.code)).observe(seconds);
              const c = computeSeconds(status.metadata);
              if (c !== undefined) {
                const s = split(path, '');
                s.compute.observe(c);
                s.transport.observe(Math.max(0, seconds - c));
              }
              nextStatus(status);
            },
          });
        },
      });
    };
  };
}

export function nodeServerMetrics({ prom, registry }: ProcessMetrics, node: NodeSpec): grpc.ServerInterceptor {
  const requests = new prom.Histogram({
    name: 'infergraph_node_requests_seconds',
    help: 'Calls served by this node, from request headers to status (decode, component, encode)',
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
  const inFlight = new prom.Gauge({
    name: 'infergraph_node_in_flight_requests',
    help: 'Calls this node has accepted and not answered yet: its queue depth',
    labelNames: ['node'],
    registers: [registry],
  });
  const gauge = inFlight.labels({ node: node.name });
  const series = cached((method, code) => ({ requests: requests.labels({ node: node.name, method, code }), compute: compute.labels({ node: node.name, method, code }) }));
  return serverInterceptor((path) => {
    gauge.inc();
    return (code, seconds, trailer) => {
      gauge.dec();
      const s = series(path, codeLabel(code));
      s.requests.observe(seconds);
      const c = computeSeconds(trailer);
      if (c !== undefined) s.compute.observe(c);
    };
  });
}

/** Calls `begin` when a call starts; its result once with the status, on the answer or on cancellation. */
function serverInterceptor(begin: (path: string) => (code: number, seconds: number, trailer: grpc.Metadata | undefined) => void): grpc.ServerInterceptor {
  return (method, call) => {
    if (!measured(method.path)) return new grpc.ServerInterceptingCall(call);
    const t0 = performance.now();
    const end = begin(method.path);
    let done = false;
    const finish = (code: number, trailer: grpc.Metadata | undefined): void => {
      if (done) return;
      done = true;
      end(code, elapsedSeconds(t0), trailer);
    };
    return new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({ onCancel: () => finish(grpc.status.CANCELLED, undefined) });
      },
      sendStatus(status, next) {
        finish(status.code ?? grpc.status.UNKNOWN, status.metadata ?? undefined);
        next(status);
      },
    });
  };
}
