import type { ProcessMetrics } from '../telemetry/metrics';

/**
 * The request logger's Prometheus series, per sink (a URL, file:<path> or log): events sent, failed (given up after
 * retries, or refused for good), dropped (the queue was full, or the executor stopped with events still waiting),
 * retried sends, and the queue's depth read at scrape time. Seldon's executor has no logger metrics to follow.
 */
export interface LogMetrics {
  forSink(sink: string, depth: () => number): SinkCounters;
}

export interface SinkCounters {
  sent(): void;
  failed(): void;
  dropped(): void;
  retried(): void;
}

export function requestLogMetrics({ prom, registry }: ProcessMetrics, graph: string): LogMetrics {
  const labelNames = ['deployment_name', 'sink'];
  const counter = (name: string, help: string) =>
    new prom.Counter({ name: `infergraph_request_log_${name}_total`, help, labelNames, registers: [registry] });
  const sent = counter('sent', 'Payload-log events the sink accepted');
  const failed = counter('failed', 'Payload-log events given up on: refused by the sink, or every retry failed');
  const dropped = counter('dropped', 'Payload-log events dropped because the queue was full (the sink slow or down)');
  const retried = counter('retries', 'Payload-log sends retried after a transient failure');
  const depths = new Map<string, () => number>();
  new prom.Gauge({
    name: 'infergraph_request_log_queue_depth',
    help: 'Payload-log events waiting to be sent',
    labelNames,
    registers: [registry],
    collect() {
      for (const [sink, depth] of depths) this.set({ deployment_name: graph, sink }, depth());
    },
  });
  return {
    forSink(sink, depth) {
      depths.set(sink, depth);
      const l = { deployment_name: graph, sink };
      const s = sent.labels(l);
      const f = failed.labels(l);
      const d = dropped.labels(l);
      const r = retried.labels(l);
      return { sent: () => s.inc(), failed: () => f.inc(), dropped: () => d.inc(), retried: () => r.inc() };
    },
  };
}
