import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/errors';
import { parseManifest } from '../../src/graph/manifest';
import type { TracingSpec } from '../../src/graph/spec';
import { DEFAULT_BATCH, resolveTracing, tracingEnvFromFlags } from '../../src/telemetry/config';
import { renderWaterfall } from '../../src/telemetry/waterfall';
import { createLogger } from '../../src/util/logger';
import { graph, node } from '../helpers/spec';

const manifest = (tracing: string): string => `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: g}
spec:
  tracing: ${tracing}
  graph: {name: m, type: MODEL, implementation: identity}
`;

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  return assert.fail('expected a ConfigError');
}

describe('spec.tracing validation', () => {
  it('accepts the exporters with their endpoints and applies the default ratio', () => {
    assert.deepEqual(parseManifest(manifest('{exporter: otlp-grpc, endpoint: "http://otel:4317"}'), '/').tracing, {
      exporter: 'otlp-grpc',
      endpoint: 'http://otel:4317',
      sampleRatio: 1,
    });
    assert.deepEqual(
      parseManifest(manifest('{exporter: jaeger, endpoint: "jaeger-agent:6832", sampleRatio: 0.25}'), '/').tracing,
      { exporter: 'jaeger', endpoint: 'jaeger-agent:6832', sampleRatio: 0.25 },
    );
    assert.equal(parseManifest(manifest('{exporter: none}'), '/').tracing?.exporter, 'none');
  });

  it('names each problem with its field', () => {
    const msg = configError(() =>
      parseManifest(manifest('{exporter: zipkin, endpoint: 7, sampleRatio: 2, colour: red}'), '/', 'g.yaml'),
    );
    assert.match(msg, /g\.yaml: spec\.tracing: unknown field 'colour'/);
    assert.match(msg, /spec\.tracing\.exporter: must be one of none, jaeger, otlp-grpc, otlp-http, got "zipkin"/);
    assert.match(msg, /spec\.tracing\.endpoint: 7: must be a string/);
    assert.match(msg, /spec\.tracing\.sampleRatio: must be a number from 0 to 1, got 2/);
    assert.match(
      configError(() => parseManifest(manifest('{exporter: otlp-http, endpoint: "otel:4318"}'), '/')),
      /expected an http\(s\):\/\/ URL/,
    );
    assert.match(
      configError(() => parseManifest(manifest('{exporter: jaeger, endpoint: "unix:/x.sock"}'), '/')),
      /collector URL .* or an agent host:port/,
    );
  });
});

describe('resolveTracing: env over manifest over defaults', () => {
  const spec: TracingSpec = { exporter: 'jaeger', endpoint: 'http://jaeger:14268/api/traces', sampleRatio: 0.5 };

  it('is off without spec.tracing and OTEL_* variables, and with exporter none or OTEL_SDK_DISABLED', () => {
    assert.equal(resolveTracing(undefined, {}), undefined);
    assert.equal(resolveTracing({ exporter: 'none', sampleRatio: 1 }, {}), undefined);
    assert.equal(resolveTracing(spec, { OTEL_TRACES_EXPORTER: 'none' }), undefined);
    assert.equal(resolveTracing(spec, { OTEL_SDK_DISABLED: 'true' }), undefined);
  });

  it('takes the manifest as it is', () => {
    assert.deepEqual(resolveTracing(spec, {}), {
      exporter: 'jaeger',
      endpoint: spec.endpoint,
      sampleRatio: 0.5,
      batch: DEFAULT_BATCH,
    });
  });

  it('lets the standard variables choose exporter, protocol, endpoint and sampler', () => {
    const grpc = resolveTracing(spec, {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
    });
    assert.deepEqual([grpc?.exporter, grpc?.endpoint, grpc?.sampleRatio], ['otlp-grpc', 'http://c:4317', 0.1]);
    // OTLP/HTTP: the generic endpoint is a base URL, the traces one is used as it is; http/protobuf is the default.
    assert.equal(
      resolveTracing(undefined, { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' })
        ?.endpoint,
      'http://c:4318/v1/traces',
    );
    assert.equal(
      resolveTracing(undefined, {
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/custom',
      })?.endpoint,
      'http://c:4318/custom',
    );
    assert.equal(
      resolveTracing(undefined, { OTEL_TRACES_EXPORTER: 'otlp' })?.endpoint,
      'http://localhost:4318/v1/traces',
    );
    assert.equal(resolveTracing(spec, { OTEL_EXPORTER_JAEGER_AGENT_HOST: 'agent' })?.endpoint, 'agent:6832');
    assert.equal(resolveTracing(spec, { OTEL_TRACES_SAMPLER: 'always_off' })?.sampleRatio, 0);
    assert.equal(resolveTracing(spec, { OTEL_TRACES_SAMPLER: 'parentbased_always_on' })?.sampleRatio, 1);
    assert.equal(resolveTracing(spec, { OTEL_BSP_SCHEDULE_DELAY: '50' })?.batch.scheduledDelayMillis, 50);
    // Empty means unset, as the OpenTelemetry spec says.
    assert.deepEqual(
      resolveTracing(spec, { OTEL_TRACES_EXPORTER: '', OTEL_EXPORTER_JAEGER_ENDPOINT: '' })?.endpoint,
      spec.endpoint,
    );
  });

  it('fails at start-up on values it cannot honour, naming the variable', () => {
    assert.match(
      configError(() => resolveTracing(undefined, { OTEL_TRACES_EXPORTER: 'zipkin' })),
      /OTEL_TRACES_EXPORTER=zipkin/,
    );
    assert.match(
      configError(() => resolveTracing(undefined, { OTEL_TRACES_EXPORTER: 'otlp,jaeger' })),
      /one place/,
    );
    assert.match(
      configError(() =>
        resolveTracing(undefined, { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }),
      ),
      /http\/json/,
    );
    assert.match(
      configError(() => resolveTracing(spec, { OTEL_TRACES_SAMPLER_ARG: '1.5' })),
      /OTEL_TRACES_SAMPLER_ARG=1.5/,
    );
    assert.match(
      configError(() => resolveTracing(spec, { OTEL_EXPORTER_JAEGER_ENDPOINT: 'jaeger' })),
      /OTEL_EXPORTER_JAEGER_ENDPOINT=jaeger/,
    );
  });
});

describe('infergraph up --trace-* flags become the children’s environment', () => {
  it('points every process at one endpoint through the standard variables', () => {
    const env = tracingEnvFromFlags(
      { exporter: 'otlp-http', endpoint: 'http://c:4318', sampleRatio: '0.5' },
      undefined,
    );
    assert.deepEqual(resolveTracing(undefined, env), {
      exporter: 'otlp-http',
      endpoint: 'http://c:4318/v1/traces',
      sampleRatio: 0.5,
      batch: DEFAULT_BATCH,
    });
    // An endpoint alone keeps the manifest's exporter; it wins over what the parent's environment said.
    const jaeger = tracingEnvFromFlags({ endpoint: 'agent:6831' }, { exporter: 'jaeger', sampleRatio: 1 });
    assert.equal(
      resolveTracing(
        { exporter: 'jaeger', sampleRatio: 1 },
        { OTEL_EXPORTER_JAEGER_ENDPOINT: 'http://old:14268/api/traces', ...jaeger },
      )?.endpoint,
      'agent:6831',
    );
    assert.equal(
      resolveTracing(undefined, tracingEnvFromFlags({ endpoint: 'http://j:4317' }, undefined))?.exporter,
      'otlp-grpc',
    );
    assert.equal(
      resolveTracing({ exporter: 'otlp-grpc', sampleRatio: 1 }, tracingEnvFromFlags({ exporter: 'none' }, undefined)),
      undefined,
    );
    assert.match(
      configError(() => tracingEnvFromFlags({ exporter: 'otlp-grpc', endpoint: 'c:4317' }, undefined)),
      /--trace-endpoint c:4317/,
    );
  });
});

describe('tracing off costs nothing', () => {
  it('loads no OpenTelemetry module: the servers, the CLI and startTracing stay clear of it', async () => {
    await import('../../src/cli/commands/serve');
    await import('../../src/cli/commands/up');
    await import('../../src/cli/commands/predict');
    const { startTracing } = await import('../../src/telemetry');
    const g = graph(node('m', 'MODEL'));
    assert.equal(await startTracing({ graph: g }, createLogger('t', 'silent'), {}), undefined);
    const loaded = Object.keys(require.cache).filter((k) => k.includes('@opentelemetry'));
    assert.deepEqual(loaded, []);
  });
});

describe('waterfall', () => {
  it('draws each hop on one time axis with compute and transport', () => {
    const text = renderWaterfall(
      {
        total_ms: 4,
        hops: [
          { node: 'pre', method: 'transformInput', start_ms: 0, duration_ms: 1, compute_ms: 0.5, transport_ms: 0.5 },
          {
            node: 'm',
            method: 'predict',
            start_ms: 1,
            duration_ms: 3,
            compute_ms: 2,
            transport_ms: 1,
            status: 'INTERNAL',
          },
        ],
      },
      { width: 8, roundTripMs: 5, traceId: 'abc' },
    );
    const lines = text.split('\n');
    assert.match(
      lines[0]!,
      /^round trip 5\.00 ms, walk 4\.00 ms, 2 hops, compute 2\.50 ms, transport 1\.50 ms; trace abc$/,
    );
    assert.match(lines[2]!, /^pre TransformInput\s+0\.00 ms\s+1\.00 ms\s+0\.50 ms\s+0\.50 ms\s+\|█░      \|$/);
    assert.match(lines[3]!, /^m Predict \[INTERNAL\]\s+1\.00 ms\s+3\.00 ms\s+2\.00 ms\s+1\.00 ms\s+\|  ░████░\|$/);
  });
});
