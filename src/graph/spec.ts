/**
 * The typed graph specification that manifest validation produces (src/graph/manifest.ts) and everything else reads.
 * Defaults are applied during validation, so these fields are all present.
 */
import type { NodeType, ParamValue } from '../components/types';
import type { HopCodec } from '../message/hop';

// Node types and parameter values belong to the component API; methods and codecs sit below src/graph and
// src/protocol. Re-exported so the spec reads as one vocabulary.
export { NODE_TYPES, type NodeType, type ParamValue } from '../components/types';
export { HOP_CODECS, type HopCodec } from '../message/hop';

export interface NodeRuntime {
  /** Per-node limit for received and sent gRPC messages, bytes. */
  maxMessageBytes: number;
  /** Environment variables set for the node process. */
  env: Record<string, string>;
  /** Restart policy for the local runner. */
  restart: { maxRestarts: number; initialBackoffMs: number; maxBackoffMs: number };
  /** Calls the node's component host runs at once (issue 11 admission). */
  maxConcurrency: number;
  /** Calls that may wait for one of those slots; beyond them RESOURCE_EXHAUSTED at once. */
  maxQueue: number;
}

export interface NodeSpec {
  name: string;
  type: NodeType;
  /** Built-in component name, or a module path resolved against the manifest's folder (absolute after validation). */
  implementation: string;
  parameters: Record<string, ParamValue>;
  children: NodeSpec[];
  /** An already-running Seldon-protocol node (host:port or unix:/path): not spawned by the runner. */
  endpoint?: string;
  runtime: NodeRuntime;
  /** JSON-pointer-like path for messages, e.g. spec.graph.children[0] (resnet50). */
  path: string;
}

export interface GraphSpec {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  /** Folder of the manifest file; relative paths in parameters resolve against it. */
  baseDir: string;
  /** Default end-to-end deadline when the client sends none. */
  deadlineMs: number;
  /** Payload encoding for tensors on hops between executor and nodes. */
  codec: HopCodec;
  /** Max message size on the executor's external API and its client channels. */
  maxMessageBytes: number;
  /** spec.tracing when the manifest has one; the standard OTEL_* variables can override it (src/telemetry/config.ts). */
  tracing?: TracingSpec;
  /** spec.metrics (defaults applied by validation); absent only in specs built by hand (tests). */
  metrics?: MetricsSpec;
  /** Requests the executor walks at once (both APIs); beyond it RESOURCE_EXHAUSTED at once. */
  maxInFlight: number;
  /** On SIGTERM, how long the executor lets in-flight requests finish before it stops. */
  drainTimeoutMs: number;
  /** gRPC server reflection on the executor and nodes. */
  reflection: boolean;
  /** spec.tls: TLS on the executor's public port and/or mutual TLS between executor and nodes. */
  tls?: TlsSpec;
  graph: NodeSpec;
}

/** PEM file paths, absolute after validation. */
export interface TlsSpec {
  /** The executor's public port: its certificate chain and key; clientCa makes client certificates required. */
  server?: { cert: string; key: string; clientCa?: string };
  /** Executor <-> node hops: both sides present `cert` and accept only peers whose certificate `ca` signed. */
  hops?: { ca: string; cert: string; key: string };
}

export interface MetricsSpec {
  /** Serve Prometheus /metrics from every process. */
  enabled: boolean;
  /** Port of a standalone process's /metrics (pods); `infergraph up` picks free ports. */
  port: number;
}

export const TRACE_EXPORTERS = ['none', 'jaeger', 'otlp-grpc', 'otlp-http'] as const;
export type TraceExporterKind = (typeof TRACE_EXPORTERS)[number];

export interface TracingSpec {
  exporter: TraceExporterKind;
  /** OTLP: http(s) URL; Jaeger: http(s) collector URL (…/api/traces) or agent host:port (UDP). Absent: the exporter's default. */
  endpoint?: string;
  /** Fraction of new traces sampled, 0..1; nodes always follow the executor's decision. */
  sampleRatio: number;
}

export function walkNodes(root: NodeSpec): NodeSpec[] {
  const out: NodeSpec[] = [];
  const visit = (n: NodeSpec): void => {
    out.push(n);
    n.children.forEach(visit);
  };
  visit(root);
  return out;
}

export function findNode(g: GraphSpec, name: string): NodeSpec | undefined {
  return walkNodes(g.graph).find((n) => n.name === name);
}
