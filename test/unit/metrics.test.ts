import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Code, InferError } from '../../src/errors';
import type { HopReply, NodeClient } from '../../src/graph/node-client';
import { parseManifest } from '../../src/graph/manifest';
import { emptyMeta } from '../../src/message/message';
import { codeLabel, executorHopMetrics, nodeServerMetrics } from '../../src/telemetry/graph-metrics';
import { executorRequestMetrics } from '../../src/telemetry/request-metrics';
import { createMetrics, parseMetricsAddress, serveMetrics } from '../../src/telemetry/metrics';
import { TimelineRecorder } from '../../src/telemetry/timeline';
import { REPO } from '../helpers/graph-process';
import { parseExposition } from '../helpers/prom-text';
import { graph, node } from '../helpers/spec';
import { manifestProblems as problems } from '../helpers/spec';

const manifest = (metrics: string): string => `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata:
  name: g
spec:
${metrics}
  graph:
    name: m
    type: MODEL
    implementation: scale
    parameters: {factor: 2}
`;

describe('metrics configuration', () => {
  it('spec.metrics: defaults, values, exact messages', () => {
    assert.deepEqual(parseManifest(manifest(''), '/tmp').metrics, { enabled: true, port: 9464 });
    assert.deepEqual(parseManifest(manifest('  metrics: {enabled: false, port: 9100}'), '/tmp').metrics, {
      enabled: false,
      port: 9100,
    });
    assert.deepEqual(problems(manifest('  metrics: {port: 70000, enabled: "yes", path: /m}')), [
      "m.yaml: spec.metrics: unknown field 'path' (allowed: enabled, port)",
      'm.yaml: spec.metrics.enabled: must be true or false, got "yes"',
      'm.yaml: spec.metrics.port: must be an integer from 1 to 65535, got 70000',
    ]);
    assert.deepEqual(problems(manifest('  metrics: 9464')), [
      'm.yaml: spec.metrics: must be a mapping with enabled, port',
    ]);
  });

  it('--metrics-address: host:port, [v6]:port, none', () => {
    assert.deepEqual(parseMetricsAddress('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseMetricsAddress('[::1]:9464'), { host: '::1', port: 9464 });
    assert.equal(parseMetricsAddress('none'), undefined);
    for (const bad of ['9464', 'host:', 'h:99999', 'unix:/x'])
      assert.throws(() => parseMetricsAddress(bad), /--metrics-address must be host:port/);
  });

  it("status codes are labelled with Go's names, as Seldon's executor does", () => {
    assert.deepEqual([0, 1, 3, 4, 5, 13, 14].map(codeLabel), [
      'OK',
      'Canceled',
      'InvalidArgument',
      'DeadlineExceeded',
      'NotFound',
      'Internal',
      'Unavailable',
    ]);
  });
});

describe('metrics endpoint and dashboard', () => {
  it('serves the registry as valid exposition text on /metrics only', async () => {
    const m = await createMetrics();
    const g = graph(node('m', 'MODEL'));
    executorRequestMetrics(m, g);
    executorHopMetrics(m, g);
    nodeServerMetrics(m, g.graph);
    const ep = await serveMetrics(m, { host: '127.0.0.1', port: 0 });
    try {
      const res = await fetch(ep.url);
      assert.equal(res.status, 200);
      const families = parseExposition(await res.text());
      assert.equal(families.get('seldon_api_executor_client_requests_seconds')?.type, 'histogram');
      assert.equal((await fetch(ep.url.replace('/metrics', '/other'))).status, 404);
    } finally {
      await ep.close();
    }
  });

  it('the Grafana dashboard is valid JSON whose queries use only metrics the processes export', async () => {
    const dash = JSON.parse(readFileSync(path.join(REPO, 'k8s/grafana/infergraph-dashboard.json'), 'utf8')) as {
      uid: string;
      panels: { title: string; targets: { expr: string }[] }[];
      templating: { list: { name: string }[] };
    };
    assert.equal(dash.uid, 'infergraph');
    assert.deepEqual(
      dash.templating.list.map((v) => v.name),
      ['datasource', 'graph'],
    );
    const m = await createMetrics();
    const g = graph(node('m', 'MODEL'));
    executorRequestMetrics(m, g);
    executorHopMetrics(m, g);
    nodeServerMetrics(m, g.graph);
    const exported = new Set(m.registry.getMetricsAsArray().map((x) => x.name));
    const used = new Set<string>();
    for (const p of dash.panels) {
      assert.ok(p.targets.length > 0, p.title);
      for (const t of p.targets) {
        for (const [name] of t.expr.matchAll(/\b(?:seldon_api|infergraph|process|nodejs)_[a-z_]+\b/g))
          used.add(name.replace(/_(bucket|sum|count)$/, ''));
      }
    }
    const unknown = [...used].filter((n) => !exported.has(n));
    assert.deepEqual(unknown, []);
    for (const needed of [
      'seldon_api_executor_server_requests_seconds',
      'infergraph_hop_compute_seconds',
      'infergraph_hop_transport_seconds',
    ])
      assert.ok(used.has(needed), needed);
  });
});

describe("a hop's compute time", () => {
  it('comes back with the reply, or on the InferError of a failed hop, to the metrics and the timeline', async () => {
    const m = await createMetrics();
    const ok = node('ok', 'MODEL');
    const bad = node('bad', 'MODEL');
    const g = graph(ok);
    // The node reports 2 ms of compute when it answers, 0.5 ms before it fails.
    const bare: NodeClient = {
      call: (n) =>
        n.name === 'ok'
          ? Promise.resolve<HopReply>({ message: { meta: emptyMeta(), payload: { kind: 'none' } }, computeUs: 2000 })
          : Promise.reject(new InferError(Code.INVALID_ARGUMENT, 'no', { node: n.name, computeUs: 500 })),
      metadata: () => Promise.reject(new Error('unused')),
    };
    const timeline = new TimelineRecorder(executorHopMetrics(m, g)(bare));
    const opts = { deadline: Date.now() + 10_000, signal: new AbortController().signal };
    assert.equal(
      (await timeline.call(ok, 'predict', { meta: emptyMeta(), payload: { kind: 'none' } }, opts)).computeUs,
      2000,
    );
    await assert.rejects(timeline.call(bad, 'predict', { meta: emptyMeta(), payload: { kind: 'none' } }, opts), /no/);

    const hops = timeline.finish().hops;
    assert.deepEqual(
      hops.map((h) => [h.node, h.compute_ms, h.status]),
      [
        ['ok', 2, undefined],
        ['bad', 0.5, 'INVALID_ARGUMENT'],
      ],
    );
    await new Promise((resolve) => setImmediate(resolve)); // observations are recorded a loop turn later
    const compute = parseExposition(await m.registry.metrics()).get('infergraph_hop_compute_seconds');
    const sum = (name: string): number | undefined =>
      compute?.samples.find((s) => s.name.endsWith('_sum') && s.labels.model_name === name)?.value;
    assert.equal(sum('ok'), 0.002);
    assert.equal(sum('bad'), 0.0005);
  });
});
