import type { NodeClient } from '../graph/node-client';
import type { GraphSpec } from '../graph/spec';
import { httpStatusOf } from '../http/status';
import {
  admissionMetrics,
  codeLabel,
  deferred,
  elapsedSeconds,
  executorHopMetrics,
  inFlightGauge,
  PREDICTOR,
  SELDON_BUCKETS,
  type AdmissionCounts,
  type Observer,
} from './graph-metrics';
import type { ProcessMetrics } from './metrics';

/**
 * The executor's request metrics, observed by its data plane (src/executor/data-plane.ts) for every front door, and
 * the bundle of everything the executor records that the composition root hands to it.
 */

/** The front door of an executor request (src/executor/data-plane.ts FrontDoor). */
export interface RequestDoor {
  service: string;
  http?: string;
}
/** What the executor's data plane calls: `start` when a request arrives, the returned function when it is answered. */
export interface RequestMetrics {
  start(door: RequestDoor): RequestDone;
  shadow(door: RequestDoor, predictor: string): RequestDone;
  shadowDropped(predictor: string): void;
}
/** `predictor`: the one that walked the request (Seldon's predictor_name label); the graph's only one when absent. */
type RequestDone = (code: number, httpStatus?: number, predictor?: string) => void;

/**
 * Seldon's server histogram for every executor request, gRPC and REST alike: gRPC requests as Seldon's gRPC server
 * labels them (service = method path, method 'unary', code = Go's status name), REST requests as its REST server
 * does (service = 'predictions', 'feedback', 'metadata' …, method = the HTTP verb in lower case, code = HTTP status).
 */
export function executorRequestMetrics({ prom, registry }: ProcessMetrics, graph: GraphSpec): RequestMetrics {
  const requests = new prom.Histogram({
    name: 'seldon_api_executor_server_requests_seconds',
    help: 'A histogram of latencies for executor server',
    labelNames: ['deployment_name', 'predictor_name', 'predictor_version', 'service', 'method', 'code'],
    buckets: SELDON_BUCKETS,
    registers: [registry],
  });
  const inFlight = inFlightGauge(
    prom,
    registry,
    'infergraph_executor_in_flight_requests',
    'Requests the executor has accepted and not answered yet, by front door (gRPC method or REST service)',
    { deployment_name: graph.name },
    'service',
  );
  const dropped = new prom.Counter({
    name: 'infergraph_shadow_dropped_total',
    help: 'Copies of requests not sent to a shadow predictor because it had spec.shadowMaxInFlight copies in flight',
    labelNames: ['deployment_name', 'predictor_name'],
    registers: [registry],
  });
  const shadowInFlight = inFlightGauge(
    prom,
    registry,
    'infergraph_shadow_in_flight_requests',
    'Copies of requests a shadow predictor is walking (off the critical path)',
    { deployment_name: graph.name },
    'predictor_name',
  );
  interface Door {
    gauge: { n: number };
    series: (label: string, predictor: string | undefined) => Observer;
  }
  const doors = new Map<string, Door>();
  const door = (d: RequestDoor): Door => {
    const key = `${d.http ?? ''} ${d.service}`;
    let x = doors.get(key);
    if (!x) {
      const byLabel = new Map<string, Observer>();
      const method = d.http ? d.http.toLowerCase() : 'unary';
      const base = { deployment_name: graph.name, ...PREDICTOR, service: d.service, method };
      x = {
        gauge: inFlight(d.service),
        series: (code, predictor = PREDICTOR.predictor_name) => {
          const key = `${predictor} ${code}`;
          let o = byLabel.get(key);
          if (!o) byLabel.set(key, (o = deferred(requests.labels({ ...base, predictor_name: predictor, code }))));
          return o;
        },
      };
      doors.set(key, x);
    }
    return x;
  };
  return {
    start(d) {
      const x = door(d);
      const t0 = performance.now();
      x.gauge.n++;
      return (code, httpStatus, predictor) => {
        x.gauge.n--;
        const label = d.http ? String(httpStatus ?? httpStatusOf(code)) : codeLabel(code);
        x.series(label, predictor).observe(elapsedSeconds(t0));
      };
    },
    shadow(d, predictor) {
      const x = door(d);
      const gauge = shadowInFlight(predictor);
      const t0 = performance.now();
      gauge.n++;
      return (code) => {
        gauge.n--;
        const label = d.http ? String(httpStatusOf(code)) : codeLabel(code);
        x.series(label, predictor).observe(elapsedSeconds(t0));
      };
    },
    shadowDropped(predictor) {
      dropped.inc({ deployment_name: graph.name, predictor_name: predictor });
    },
  };
}

/** Everything the executor records, as one bundle for the composition root to hand to startExecutorServer. */
export interface ExecutorMetrics {
  requests: RequestMetrics;
  hops: (client: NodeClient) => NodeClient;
  admission: (counts: AdmissionCounts) => void;
}

export function executorMetrics(m: ProcessMetrics, graph: GraphSpec): ExecutorMetrics {
  return {
    requests: executorRequestMetrics(m, graph),
    hops: executorHopMetrics(m, graph),
    admission: admissionMetrics(m, 'executor'),
  };
}
