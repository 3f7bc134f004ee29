import { ConfigError } from '../errors';
import { traceEndpointProblem } from '../graph/endpoint';
import { TRACE_EXPORTERS, type TraceExporterKind, type TracingSpec } from '../graph/spec';

/**
 * Where a process sends its spans: the manifest's spec.tracing overlaid with the standard OpenTelemetry variables.
 * Precedence is env > manifest > defaults, so `infergraph up --trace-*` (which sets these variables for every child)
 * and an operator's environment both win over what the manifest says. Pure: the caller passes the environment in.
 */

export type ActiveExporter = Exclude<TraceExporterKind, 'none'>;

export interface TracingConfig {
  exporter: ActiveExporter;
  /** OTLP gRPC: http(s)://host:port; OTLP HTTP: the full …/v1/traces URL; Jaeger: collector URL or agent host:port. */
  endpoint: string;
  /** Ratio for new traces; every process samples parent-based, so a trace is complete or absent. */
  sampleRatio: number;
  /** Batch span processor settings (OTEL_BSP_*); the SDK no longer reads them itself. */
  batch: BatchConfig;
}

export interface BatchConfig {
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
  maxQueueSize: number;
  maxExportBatchSize: number;
}

/**
 * The spec's defaults, except the delay: 1 s instead of 5 s, so a trace is in Jaeger by the time someone who just
 * sent a request looks for it. Batches stay cheap at that rate.
 */
export const DEFAULT_BATCH: BatchConfig = {
  scheduledDelayMillis: 1000,
  exportTimeoutMillis: 30_000,
  maxQueueSize: 2048,
  maxExportBatchSize: 512,
};

export const DEFAULT_ENDPOINTS: Record<ActiveExporter, string> = {
  'otlp-grpc': 'http://localhost:4317',
  'otlp-http': 'http://localhost:4318/v1/traces',
  jaeger: 'localhost:6832',
};

type Env = Record<string, string | undefined>;

/** Empty variables count as unset, as the OpenTelemetry spec asks (and so `up` can blank one out for its children). */
const get = (env: Env, name: string): string | undefined => {
  const v = env[name]?.trim();
  return v ? v : undefined;
};

/** Appends the OTLP/HTTP traces path to a base URL (OTEL_EXPORTER_OTLP_ENDPOINT semantics). */
export function otlpHttpTracesUrl(base: string): string {
  if (/\/v1\/traces\/?$/.test(base)) return base;
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

/** The tracing set-up of one process, or undefined when tracing is off (then nothing of OpenTelemetry is loaded). */
export function resolveTracing(spec: TracingSpec | undefined, env: Env): TracingConfig | undefined {
  if (get(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return undefined;
  const exporter = exporterFrom(spec, env);
  if (exporter === 'none') return undefined;
  return {
    exporter,
    endpoint: endpointFrom(exporter, spec, env),
    sampleRatio: ratioFrom(spec, env),
    batch: batchFrom(env),
  };
}

function batchFrom(env: Env): BatchConfig {
  const num = (name: string, fallback: number, min: number): number => {
    const v = get(env, name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new ConfigError([`${name}=${v}: must be an integer >= ${min}`]);
    return n;
  };
  const d = DEFAULT_BATCH;
  const maxQueueSize = num('OTEL_BSP_MAX_QUEUE_SIZE', d.maxQueueSize, 1);
  return {
    scheduledDelayMillis: num('OTEL_BSP_SCHEDULE_DELAY', d.scheduledDelayMillis, 0),
    exportTimeoutMillis: num('OTEL_BSP_EXPORT_TIMEOUT', d.exportTimeoutMillis, 1),
    maxQueueSize,
    maxExportBatchSize: Math.min(maxQueueSize, num('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', d.maxExportBatchSize, 1)),
  };
}

function exporterFrom(spec: TracingSpec | undefined, env: Env): TraceExporterKind {
  const named = get(env, 'OTEL_TRACES_EXPORTER')?.toLowerCase();
  if (!named) return spec?.exporter ?? 'none';
  if (named.includes(','))
    throw new ConfigError([
      `OTEL_TRACES_EXPORTER=${named}: infergraph exports to one place; name one of none, otlp, jaeger`,
    ]);
  if (named === 'otlp') {
    const protocol = (
      get(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? get(env, 'OTEL_EXPORTER_OTLP_PROTOCOL')
    )?.toLowerCase();
    if (protocol === 'grpc') return 'otlp-grpc';
    if (protocol === 'http/protobuf') return 'otlp-http';
    if (protocol)
      throw new ConfigError([`OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL=${protocol}: supported are grpc and http/protobuf`]);
    // No protocol named: keep the manifest's OTLP flavour, else the spec's default (http/protobuf).
    return spec?.exporter === 'otlp-grpc' ? 'otlp-grpc' : 'otlp-http';
  }
  // otlp-grpc / otlp-http are accepted too: they are what `up --trace-exporter` and spec.tracing.exporter say.
  if ((TRACE_EXPORTERS as readonly string[]).includes(named)) return named as TraceExporterKind;
  throw new ConfigError([`OTEL_TRACES_EXPORTER=${named}: supported are none, otlp, jaeger (or otlp-grpc, otlp-http)`]);
}

function endpointFrom(exporter: ActiveExporter, spec: TracingSpec | undefined, env: Env): string {
  const fromManifest = spec?.exporter === exporter ? spec.endpoint : undefined;
  let endpoint: string;
  let source: string;
  if (exporter === 'jaeger') {
    const host = get(env, 'OTEL_EXPORTER_JAEGER_AGENT_HOST');
    const port = get(env, 'OTEL_EXPORTER_JAEGER_AGENT_PORT');
    const collector = get(env, 'OTEL_EXPORTER_JAEGER_ENDPOINT');
    // As in jaeger-client: a collector endpoint wins over the agent.
    if (collector) [endpoint, source] = [collector, 'OTEL_EXPORTER_JAEGER_ENDPOINT'];
    else if (host || port)
      [endpoint, source] = [`${host ?? 'localhost'}:${port ?? '6832'}`, 'OTEL_EXPORTER_JAEGER_AGENT_HOST/PORT'];
    else [endpoint, source] = [fromManifest ?? DEFAULT_ENDPOINTS.jaeger, 'spec.tracing.endpoint'];
  } else {
    const signal = get(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
    const base = get(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
    if (signal) [endpoint, source] = [signal, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
    else if (base)
      [endpoint, source] = [exporter === 'otlp-http' ? otlpHttpTracesUrl(base) : base, 'OTEL_EXPORTER_OTLP_ENDPOINT'];
    else if (fromManifest)
      [endpoint, source] = [
        exporter === 'otlp-http' ? otlpHttpTracesUrl(fromManifest) : fromManifest,
        'spec.tracing.endpoint',
      ];
    else [endpoint, source] = [DEFAULT_ENDPOINTS[exporter], 'default'];
  }
  const bad = traceEndpointProblem(exporter, endpoint);
  if (bad) throw new ConfigError([`${source}=${endpoint}: ${bad} (exporter ${exporter})`]);
  return endpoint;
}

function ratioFrom(spec: TracingSpec | undefined, env: Env): number {
  const sampler = get(env, 'OTEL_TRACES_SAMPLER')?.toLowerCase();
  if (sampler === 'always_on' || sampler === 'parentbased_always_on') return 1;
  if (sampler === 'always_off' || sampler === 'parentbased_always_off') return 0;
  if (sampler && sampler !== 'traceidratio' && sampler !== 'parentbased_traceidratio') {
    throw new ConfigError([
      `OTEL_TRACES_SAMPLER=${sampler}: supported are always_on, always_off, traceidratio and their parentbased_ forms`,
    ]);
  }
  const arg = get(env, 'OTEL_TRACES_SAMPLER_ARG');
  if (arg === undefined) return spec?.sampleRatio ?? 1;
  const r = Number(arg);
  if (!(r >= 0 && r <= 1)) throw new ConfigError([`OTEL_TRACES_SAMPLER_ARG=${arg}: must be a number from 0 to 1`]);
  return r;
}

export interface TraceFlags {
  exporter?: string;
  endpoint?: string;
  sampleRatio?: string;
}

/**
 * The environment `infergraph up --trace-exporter/--trace-endpoint/--trace-sample-ratio` gives every child, in the
 * standard variables, so one endpoint reaches every process (and the children resolve it like any OTel SDK would).
 * Variables that could contradict the flags are set empty, which resolveTracing treats as unset.
 */
export function tracingEnvFromFlags(flags: TraceFlags, spec: TracingSpec | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  let exporter = flags.exporter as TraceExporterKind | undefined;
  if (exporter !== undefined && !TRACE_EXPORTERS.includes(exporter)) {
    throw new ConfigError([`--trace-exporter must be one of ${TRACE_EXPORTERS.join(', ')}, got '${flags.exporter}'`]);
  }
  // An endpoint alone keeps the manifest's exporter, or means OTLP/gRPC (what Jaeger and collectors listen on).
  if (!exporter && flags.endpoint) exporter = spec && spec.exporter !== 'none' ? spec.exporter : 'otlp-grpc';
  if (flags.sampleRatio !== undefined) {
    const r = Number(flags.sampleRatio);
    if (!(r >= 0 && r <= 1))
      throw new ConfigError([`--trace-sample-ratio must be a number from 0 to 1, got '${flags.sampleRatio}'`]);
    Object.assign(env, { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: String(r) });
  }
  if (!exporter) return env;
  if (exporter === 'none') return { ...env, OTEL_TRACES_EXPORTER: 'none' };
  if (flags.endpoint) {
    const bad = traceEndpointProblem(exporter, flags.endpoint);
    if (bad) throw new ConfigError([`--trace-endpoint ${flags.endpoint}: ${bad} (exporter ${exporter})`]);
  }
  env.OTEL_TRACES_EXPORTER = exporter === 'jaeger' ? 'jaeger' : 'otlp';
  if (exporter === 'jaeger') {
    if (flags.endpoint && /^https?:/.test(flags.endpoint)) {
      Object.assign(env, {
        OTEL_EXPORTER_JAEGER_ENDPOINT: flags.endpoint,
        OTEL_EXPORTER_JAEGER_AGENT_HOST: '',
        OTEL_EXPORTER_JAEGER_AGENT_PORT: '',
      });
    } else if (flags.endpoint) {
      const i = flags.endpoint.lastIndexOf(':');
      Object.assign(env, {
        OTEL_EXPORTER_JAEGER_ENDPOINT: '',
        OTEL_EXPORTER_JAEGER_AGENT_HOST: flags.endpoint.slice(0, i),
        OTEL_EXPORTER_JAEGER_AGENT_PORT: flags.endpoint.slice(i + 1),
      });
    }
    return env;
  }
  env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = exporter === 'otlp-grpc' ? 'grpc' : 'http/protobuf';
  if (flags.endpoint) {
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT =
      exporter === 'otlp-http' ? otlpHttpTracesUrl(flags.endpoint) : flags.endpoint;
  }
  return env;
}
