import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { ConfigError } from '../../src/errors';
import { parseManifest } from '../../src/graph/manifest';
import { walkNodes } from '../../src/graph/spec';
import { desiredObjects, type KubeObject } from '../../src/k8s/desired';
import { REPO } from '../helpers/graph-process';
import { manifestFiles } from '../helpers/manifests';

/**
 * `render` / the operator's desired state, checked against the official Kubernetes OpenAPI schemas
 * (kubernetes-models 4.5.1 validate()): no API server runs here, so this is what stands in for `kubectl apply`.
 */

const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

function validateAll(objects: KubeObject[]): void {
  for (const o of objects) {
    const Model = MODELS[`${o.apiVersion}/${o.kind}`] ?? assert.fail(`no model for ${o.apiVersion} ${o.kind}`);
    new Model(JSON.parse(JSON.stringify(o)) as never).validate();
  }
}

function render(yaml: string, baseDir = '/tmp', image?: string): KubeObject[] {
  const graph = parseManifest(yaml, baseDir, 'm.yaml');
  const doc = parseYaml(yaml) as { apiVersion: string; kind: string; metadata: Record<string, unknown>; spec: unknown };
  return desiredObjects({ graph, manifest: doc, image });
}

const find = (objs: KubeObject[], kind: string, name: string): Record<string, any> =>
  objs.find((o) => o.kind === kind && o.metadata.name === name) ?? assert.fail(`no ${kind} ${name}`);

const FULL = `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: full, namespace: ml}
spec:
  tracing: {exporter: otlp-grpc, endpoint: "http://jaeger.infergraph-system.svc:4317", sampleRatio: 0.5}
  executor:
    replicas: 2
    image: registry.example/infergraph:exec
    resources: {requests: {cpu: 100m, memory: 128Mi}}
    env: {LOG_FORMAT: json}
  graph:
    name: top
    type: COMBINER
    implementation: average-combiner
    children:
      - name: synth
        type: MODEL
        implementation: onnx-model
        parameters: {model: /models/resnet50.onnx}
        runtime:
          replicas: 3
          resources: {requests: {cpu: 2, memory: 1Gi}, limits: {memory: 2Gi}}
          env: {OMP_NUM_THREADS: 1, DEBUG: true}
          models: {source: synthetic}
      - name: from-pvc
        type: MODEL
        implementation: onnx-model
        parameters: {model: /weights/resnet50.onnx}
        runtime:
          volumes: [{name: weights, persistentVolumeClaim: {claimName: resnet-weights}}, {name: cache, emptyDir: {}}]
          volumeMounts: [{name: cache, mountPath: /var/cache/ort}]
          models: {source: volume, volume: weights, mountPath: /weights}
      - name: modelcar
        type: MODEL
        implementation: onnx-model
        parameters: {model: /mnt/models/model.onnx}
        runtime:
          image: registry.example/infergraph:gpu
          models: {source: image, image: "registry.example/models/resnet50:1", path: /models, mountPath: /mnt/models}
      - name: remote
        type: MODEL
        endpoint: "seldon-model.other:9000"
`;

describe('render: Kubernetes objects of a graph', () => {
  it('every object for every shipped manifest validates against the Kubernetes OpenAPI schemas', () => {
    for (const f of manifestFiles()) {
      const objs = render(readFileSync(f, 'utf8'), path.dirname(f));
      assert.doesNotThrow(() => validateAll(objs), f);
      const g = parseManifest(readFileSync(f, 'utf8'), path.dirname(f));
      const nodes = walkNodes(g.graph).filter((n) => !n.endpoint);
      const kinds = objs.map((o) => o.kind);
      assert.equal(kinds.filter((k) => k === 'Deployment').length, nodes.length + 1, f);
      assert.equal(kinds.filter((k) => k === 'Service').length, nodes.length + 1, f);
      assert.equal(kinds.filter((k) => k === 'ConfigMap').length, 1, f);
      assert.equal(kinds.filter((k) => k === 'NetworkPolicy').length, 2, f);
    }
  });

  it('the validator can fail: a broken Deployment is rejected', () => {
    const objs = render(readFileSync(path.join(REPO, 'graphs/test-ensemble.yaml'), 'utf8'));
    const d = JSON.parse(JSON.stringify(find(objs, 'Deployment', 'test-ensemble-top1')));
    d.spec.template.spec.containers[0].ports[0].containerPort = 'grpc';
    assert.throws(() => new Deployment(d).validate(), /containerPort/);
  });

  it('node pods: args after the ENTRYPOINT, the headless Service, restricted security, probes, drain, manifest mount', () => {
    const objs = render(readFileSync(path.join(REPO, 'graphs/test-ensemble.yaml'), 'utf8'));
    const d = find(objs, 'Deployment', 'test-ensemble-model-a');
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    assert.equal(c.name, 'node');
    assert.deepEqual(c.args, [
      'node',
      '--graph',
      '/etc/infergraph/graph.yaml',
      '--node',
      'model-a',
      '--address',
      '0.0.0.0:9000',
    ]);
    assert.deepEqual(c.ports, [{ name: 'grpc', containerPort: 9000, protocol: 'TCP' }]);
    assert.deepEqual(c.readinessProbe.grpc, { port: 9000 });
    assert.deepEqual(c.livenessProbe.grpc, { port: 9000 });
    assert.ok(
      c.startupProbe.failureThreshold * c.startupProbe.periodSeconds >= 300,
      'startup probe allows slow model loads',
    );
    assert.deepEqual(c.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    assert.deepEqual(pod.securityContext.seccompProfile, { type: 'RuntimeDefault' });
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.ok(pod.terminationGracePeriodSeconds > c.lifecycle.preStop.sleep.seconds);
    assert.ok(
      c.volumeMounts.some((m: { mountPath: string }) => m.mountPath === '/tmp'),
      'writable /tmp on a read-only root',
    );
    assert.ok(
      c.volumeMounts.some(
        (m: { mountPath: string; readOnly: boolean }) => m.mountPath === '/etc/infergraph' && m.readOnly,
      ),
    );
    assert.deepEqual(pod.volumes[0], { name: 'infergraph-manifest', configMap: { name: 'test-ensemble-manifest' } });
    const s = find(objs, 'Service', 'test-ensemble-model-a');
    assert.equal(s.spec.clusterIP, 'None');
    assert.deepEqual(s.spec.selector, d.spec.selector.matchLabels);
    const cm = find(objs, 'ConfigMap', 'test-ensemble-manifest');
    const mounted = parseManifest(cm.data['graph.yaml'], '/etc/infergraph');
    assert.equal(walkNodes(mounted.graph).length, 5, 'the ConfigMap holds a valid manifest of the same graph');
    assert.equal(d.spec.template.metadata.annotations['infergraph.dev/manifest-sha256'].length, 16);
  });

  it('the executor reaches every spawned node through dns:/// on its headless Service', () => {
    const objs = render(FULL);
    const ex = find(objs, 'Deployment', 'full-executor');
    const c = ex.spec.template.spec.containers[0];
    assert.equal(c.name, 'executor');
    assert.deepEqual(c.args, [
      'executor',
      '--graph',
      '/etc/infergraph/graph.yaml',
      '--address',
      '0.0.0.0:8000',
      '--rest-address',
      '0.0.0.0:8080',
      '--node-address',
      'top=dns:///full-top:9000',
      '--node-address',
      'synth=dns:///full-synth:9000',
      '--node-address',
      'from-pvc=dns:///full-from-pvc:9000',
      '--node-address',
      'modelcar=dns:///full-modelcar:9000',
    ]);
    const svc = find(objs, 'Service', 'full-executor');
    assert.equal(svc.spec.type, 'ClusterIP');
    assert.deepEqual(
      svc.spec.ports.map((p: { name: string; port: number }) => [p.name, p.port]),
      [
        ['grpc', 8000],
        ['http', 8080],
      ],
    );
    assert.deepEqual(c.ports, [
      { name: 'grpc', containerPort: 8000, protocol: 'TCP' },
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
    ]);
    assert.deepEqual(c.readinessProbe.grpc, { port: 8000 }, 'gRPC probes unless spec.rest.probes is http');
    assert.equal(
      objs.some((o) => o.metadata.name === 'full-remote'),
      false,
      'endpoint nodes get no objects',
    );
    assert.equal(ex.spec.replicas, 2);
    assert.equal(c.image, 'registry.example/infergraph:exec');
    assert.ok(objs.every((o) => o.metadata.namespace === 'ml'));
  });

  it('pod fields: replicas, resources, env with OTEL_* from spec.tracing, volumes, image override, three model sources', () => {
    const objs = render(FULL);
    validateAll(objs);
    const synth = find(objs, 'Deployment', 'full-synth');
    const pod = synth.spec.template.spec;
    assert.equal(synth.spec.replicas, 3);
    assert.deepEqual(pod.containers[0].resources, { requests: { cpu: '2', memory: '1Gi' }, limits: { memory: '2Gi' } });
    const env = Object.fromEntries(
      pod.containers[0].env.map((e: { name: string; value: string }) => [e.name, e.value]),
    );
    assert.equal(env.OMP_NUM_THREADS, '1');
    assert.equal(env.DEBUG, 'true');
    assert.equal(env.OTEL_TRACES_EXPORTER, 'otlp');
    assert.equal(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, 'grpc');
    assert.equal(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, 'http://jaeger.infergraph-system.svc:4317');
    assert.equal(env.OTEL_TRACES_SAMPLER_ARG, '0.5');
    assert.deepEqual(pod.initContainers[0].args, ['models', 'generate', '--dir', '/models']);
    assert.equal(pod.initContainers[0].image, 'infergraph:0.1.0');
    assert.ok(
      pod.volumes.some((v: { name: string; emptyDir?: unknown }) => v.name === 'infergraph-models' && v.emptyDir),
    );
    assert.equal(find(objs, 'PodDisruptionBudget', 'full-synth').spec.maxUnavailable, 1);
    assert.equal(find(objs, 'PodDisruptionBudget', 'full-executor').spec.maxUnavailable, 1);
    assert.equal(
      objs.some((o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === 'full-top'),
      false,
      'no PDB for one replica',
    );

    const pvc = find(objs, 'Deployment', 'full-from-pvc').spec.template.spec;
    assert.deepEqual(
      pvc.volumes.find((v: { name: string }) => v.name === 'weights'),
      { name: 'weights', persistentVolumeClaim: { claimName: 'resnet-weights' } },
    );
    assert.deepEqual(
      pvc.containers[0].volumeMounts.find((m: { name: string }) => m.name === 'weights'),
      { name: 'weights', mountPath: '/weights', readOnly: true },
    );
    assert.equal(pvc.initContainers, undefined);

    const car = find(objs, 'Deployment', 'full-modelcar').spec.template.spec;
    assert.equal(car.containers[0].image, 'registry.example/infergraph:gpu');
    assert.equal(car.initContainers[0].image, 'registry.example/models/resnet50:1');
    assert.deepEqual(car.initContainers[0].command, ['cp', '-R', '/models/.', '/mnt/models']);
    assert.deepEqual(
      car.containers[0].volumeMounts.find((m: { name: string }) => m.name === 'infergraph-models'),
      { name: 'infergraph-models', mountPath: '/mnt/models', readOnly: true },
    );

    const np = find(objs, 'NetworkPolicy', 'full-nodes');
    assert.deepEqual(np.spec.ingress, [
      {
        from: [{ podSelector: { matchLabels: { 'infergraph.dev/graph': 'full', 'infergraph.dev/role': 'executor' } } }],
        ports: [{ protocol: 'TCP', port: 9000 }],
      },
    ]);
    assert.deepEqual(np.spec.podSelector.matchLabels, {
      'infergraph.dev/graph': 'full',
      'infergraph.dev/role': 'node',
    });
    assert.deepEqual(find(objs, 'NetworkPolicy', 'full-executor').spec.ingress, [
      {
        ports: [
          { protocol: 'TCP', port: 8000 },
          { protocol: 'TCP', port: 8080 },
        ],
      },
    ]);
  });

  it('spec.rest: HTTP probes on the REST port as an alternative; REST off drops the port everywhere', () => {
    const base = `apiVersion: infergraph.dev/v1alpha1\nkind: InferenceGraph\nmetadata: {name: r}\nspec:\n  graph: {name: m, type: MODEL, implementation: identity}\n`;
    const withRest = (rest: string): ReturnType<typeof render> =>
      render(base.replace('spec:\n', `spec:\n  rest: ${rest}\n`));
    const http = withRest('{probes: http, port: 8081}');
    validateAll(http);
    const c = find(http, 'Deployment', 'r-executor').spec.template.spec.containers[0];
    assert.deepEqual(c.readinessProbe.httpGet, { path: '/v2/health/ready', port: 'http' });
    assert.deepEqual(c.startupProbe.httpGet, { path: '/v2/health/ready', port: 'http' });
    assert.deepEqual(c.livenessProbe.httpGet, { path: '/v2/health/live', port: 'http' });
    assert.equal(c.readinessProbe.grpc, undefined);
    assert.deepEqual(c.ports[1], { name: 'http', containerPort: 8081, protocol: 'TCP' });
    const off = withRest('{enabled: false}');
    const c2 = find(off, 'Deployment', 'r-executor').spec.template.spec.containers[0];
    assert.deepEqual(c2.ports, [{ name: 'grpc', containerPort: 8000, protocol: 'TCP' }]);
    assert.ok(c2.args.includes('none'));
    assert.equal(find(off, 'Service', 'r-executor').spec.ports.length, 1);
    assert.deepEqual(find(off, 'NetworkPolicy', 'r-executor').spec.ingress, [
      { ports: [{ protocol: 'TCP', port: 8000 }] },
    ]);
  });

  it('rejects what only Kubernetes forbids: long object names, names colliding with the executor, reserved volumes', () => {
    const long = 'n'.repeat(40);
    const yaml = (graph: string, node: string, runtime = ''): string =>
      `apiVersion: infergraph.dev/v1alpha1\nkind: InferenceGraph\nmetadata: {name: ${graph}}\nspec:\n  graph: {name: ${node}, type: MODEL, implementation: identity${runtime}}\n`;
    assert.throws(
      () => render(yaml(`g${long}`, long)),
      (e: unknown) => e instanceof ConfigError && /is 82 characters, over 63/.test(e.message),
    );
    assert.throws(() => render(yaml('g', 'executor')), /collides with the graph's own executor/);
    assert.throws(() => render(yaml('9lives', 'a')), /must start with a letter/);
    assert.throws(
      () => render(yaml('g', 'a', ', runtime: {volumes: [{name: infergraph-tmp, emptyDir: {}}]}')),
      /reserved/,
    );
  });

  it('infergraph render prints the same objects as YAML documents', () => {
    const file = path.join(REPO, 'k8s/examples/imagenet-ensemble.yaml');
    const out = execFileSync(
      process.execPath,
      [path.join(REPO, 'dist/src/cli/main.js'), 'render', file, '--image', 'my/img:1', '-n', 'ml'],
      { encoding: 'utf8' },
    );
    const docs = parseAllDocuments(out).map((d) => d.toJS() as KubeObject);
    const direct = desiredObjects({
      graph: parseManifest(readFileSync(file, 'utf8'), path.dirname(file)),
      manifest: parseYaml(readFileSync(file, 'utf8')),
      image: 'my/img:1',
      namespace: 'ml',
    });
    assert.deepEqual(docs, JSON.parse(JSON.stringify(direct)));
    validateAll(docs);
  });
});
