import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { stringify } from 'yaml';
import { ConfigError } from '../../src/errors';
import { desiredObjects, type KubeObject } from '../../src/k8s/desired';
import { loadAnyManifestFile, parseAnyManifest, type Loaded } from '../../src/seldon/load';
import { REPO } from '../helpers/graph-process';

/**
 * SeldonDeployment examples from Seldon Core's own repository (test/fixtures/seldon, see its README): each one
 * validates, converts to InferenceGraphs that infergraph's own validator accepts unchanged, and renders Kubernetes
 * objects valid against the official schemas (kubernetes-models 4.5.1) — or is refused with exactly the message
 * that names the field and what to do instead.
 */

const DIR = path.join(REPO, 'test/fixtures/seldon');
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));

const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

type Obj = Record<string, any>;

const REFUSED: Record<string, string[]> = {
  'halfplustwo-rest.yaml': [
    "spec.protocol: 'tensorflow' (TF Serving's own API) is not supported: use protocol: seldon (TENSORFLOW_SERVER then runs behind Seldon's tfserving-proxy) or protocol: v2",
  ],
  'income-explainer.yaml': [
    'spec.predictors[0].explainer: explainers are not supported: deploy the explainer as its own SeldonDeployment or InferenceGraph, or remove the field',
  ],
  'iris-sklearn-v2.yaml': [
    "spec.protocol: 'kfserving' is Seldon's former name for the V2 protocol: write protocol: v2",
  ],
  'iris-xgboost-v2.yaml': [
    "spec.protocol: 'kfserving' is Seldon's former name for the V2 protocol: write protocol: v2",
  ],
  'triton-simple.yaml': [
    "spec.protocol: 'kfserving' is Seldon's former name for the V2 protocol: write protocol: v2",
    "spec.predictors[0].graph (simple).implementation: TRITON_SERVER speaks only the V2 protocol, and the executor calls nodes over Seldon's protocol: serve the model from a Seldon-protocol image (a componentSpecs container), or an infergraph built-in",
  ],
};

const load = (f: string): Loaded => loadAnyManifestFile(path.join(DIR, f));

function render(l: Loaded): KubeObject[] {
  return l.graphs.flatMap(({ graph, manifest }) => desiredObjects({ graph, manifest }));
}

function validateAll(objects: KubeObject[]): void {
  for (const o of objects) {
    const Model = MODELS[`${o.apiVersion}/${o.kind}`] ?? assert.fail(`no model for ${o.apiVersion} ${o.kind}`);
    assert.doesNotThrow(
      () => new Model(JSON.parse(JSON.stringify(o)) as never).validate(),
      `${o.kind} ${o.metadata.name}`,
    );
  }
}

const find = (objs: KubeObject[], kind: string, name: string): Obj =>
  objs.find((o) => o.kind === kind && o.metadata.name === name) ?? assert.fail(`no ${kind} ${name}`);
const env = (c: Obj): Record<string, string> =>
  Object.fromEntries((c.env as Obj[]).filter((e) => 'value' in e).map((e) => [e.name, e.value]));

describe('Seldon Core examples (test/fixtures/seldon)', () => {
  it('there are at least 20, each listed with its source in the README', () => {
    assert.ok(FILES.length >= 20, `${FILES.length} fixtures`);
    const readme = readFileSync(path.join(DIR, 'README.md'), 'utf8');
    for (const f of FILES) assert.match(readme, new RegExp(`^\\| ${f.replace('.', '\\.')} \\| \\S+ \\|`, 'm'), f);
  });

  for (const f of FILES.filter((x) => !REFUSED[x])) {
    it(`${f}: validates, converts to InferenceGraphs that validate as written, renders valid objects`, () => {
      const l = load(f);
      assert.ok(l.seldon, 'read as a SeldonDeployment');
      // One graph: spec.graph for a lone predictor, spec.predictors for several behind one executor.
      assert.equal(l.graphs.length, 1, 'one graph');
      assert.equal(l.graphs[0]!.graph.predictors?.length ?? 1, l.seldon.predictors.length, 'every predictor');
      // convert's output is itself a manifest infergraph takes as it is.
      for (const g of l.graphs) {
        const again = parseAnyManifest(stringify(g.manifest), DIR, `${f} converted`);
        assert.deepEqual(again.graphs[0]!.graph, g.graph);
      }
      const objects = render(l);
      validateAll(objects);
      assert.ok(objects.some((o) => o.kind === 'Deployment'));
    });
  }

  for (const [f, messages] of Object.entries(REFUSED)) {
    it(`${f}: refused, naming the field and what to do instead`, () => {
      assert.throws(
        () => load(f),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.deepEqual(
            err.problems,
            messages.map((m) => `${path.join(DIR, f)}: ${m}`),
          );
          return true;
        },
      );
    });
  }

  it("custom containers get Seldon's port numbering, named ports and environment contract", () => {
    const l = load('graph-metadata-combiner.yaml');
    const objects = render(l);
    const ports = ['node-combiner', 'node-one', 'node-two'].map((n, i) => {
      const d = find(objects, 'Deployment', `graph-metadata-combiner-example-${n}`);
      const c = d.spec.template.spec.containers[0] as Obj;
      assert.equal(c.name, n, 'the container keeps the unit name');
      assert.deepEqual(env(c), {
        MODEL_METADATA: (l.seldon!.predictors[0]!.componentSpecs[0]!.spec.containers[i]!.env as Obj[])[0]!.value,
        PREDICTIVE_UNIT_SERVICE_PORT: String(9000 + i),
        PREDICTIVE_UNIT_HTTP_SERVICE_PORT: String(9000 + i),
        PREDICTIVE_UNIT_GRPC_SERVICE_PORT: String(9500 + i),
        PREDICTIVE_UNIT_ID: n,
        PREDICTIVE_UNIT_IMAGE: 'seldonio/metadata-generic-node:0.2',
        PREDICTOR_ID: 'example',
        PREDICTOR_LABELS: '{"version":"example"}',
        SELDON_DEPLOYMENT_ID: 'graph-metadata-combiner',
        SELDON_EXECUTOR_ENABLED: 'true',
        PREDICTIVE_UNIT_METRICS_SERVICE_PORT: String(6000 + i),
        PREDICTIVE_UNIT_METRICS_ENDPOINT: '/prometheus',
      });
      const svc = find(objects, 'Service', `graph-metadata-combiner-example-${n}`);
      assert.deepEqual(
        svc.spec.ports.map((p: Obj) => [p.name, p.port, p.targetPort]),
        [
          ['http', 9000 + i, 'http'],
          ['grpc', 9500 + i, 'grpc'],
        ],
      );
      assert.deepEqual(c.readinessProbe.tcpSocket, { port: 9000 + i }, 'REST transport: probes check the HTTP port');
      assert.deepEqual(
        d.spec.template.spec.volumes.find((v: Obj) => v.name === 'seldon-podinfo').downwardAPI.items[0].fieldRef,
        { fieldPath: 'metadata.annotations', apiVersion: 'v1' },
      );
      return c.ports.map((p: Obj) => `${p.name}:${p.containerPort}`).join(',');
    });
    assert.deepEqual(ports, [
      'metrics:6000,http:9000,grpc:9500',
      'metrics:6001,http:9001,grpc:9501',
      'metrics:6002,http:9002,grpc:9502',
    ]);
    const ex = find(objects, 'Deployment', 'graph-metadata-combiner-example-executor');
    const args: string[] = ex.spec.template.spec.containers[0].args;
    // transport rest (Seldon's default): the executor calls the container over Seldon's REST node API, as Seldon's does.
    assert.ok(args.includes('node-one=http://graph-metadata-combiner-example-node-one:9001'), args.join(' '));
    const np = find(objects, 'NetworkPolicy', 'graph-metadata-combiner-example-nodes');
    assert.deepEqual(
      np.spec.ingress[0].ports.map((p: Obj) => p.port),
      [9000, 9500, 9001, 9501, 9002, 9502],
      'executor pods reach every container port',
    );
  });

  it('gRPC transport: PREDICTIVE_UNIT_SERVICE_PORT and the probes use the gRPC port; the PodSpec is kept', () => {
    const objects = render(load('tracing-grpc.yaml'));
    const pod = find(objects, 'Deployment', 'tracing-example-tracing-model1').spec.template.spec;
    const c = pod.containers[0];
    assert.equal(env(c).PREDICTIVE_UNIT_SERVICE_PORT, '9500');
    const exArgs: string[] = find(objects, 'Deployment', 'tracing-example-tracing-executor').spec.template.spec
      .containers[0].args;
    assert.ok(exArgs.includes('model1=dns:///tracing-example-tracing-model1:9500'), exArgs.join(' '));
    assert.deepEqual(c.livenessProbe.tcpSocket, { port: 9500 });
    assert.equal(pod.terminationGracePeriodSeconds, 1, "the componentSpec's own setting wins");
    assert.deepEqual(
      c.env.find((e: Obj) => e.name === 'JAEGER_AGENT_HOST').valueFrom,
      { fieldRef: { fieldPath: 'status.hostIP' } },
      'env with valueFrom kept as written',
    );
  });

  it('prepackaged servers: the image table, model_uri, and a storage initializer filling /mnt/models', () => {
    const objects = render(load('sklearn-iris.yaml'));
    const pod = find(objects, 'Deployment', 'sklearn-default-classifier').spec.template.spec;
    const c = pod.containers[0];
    assert.equal(c.image, 'seldonio/sklearnserver:1.17.1');
    assert.equal(env(c).PREDICTIVE_UNIT_PARAMETERS, '[{"name":"model_uri","value":"/mnt/models","type":"STRING"}]');
    assert.deepEqual(pod.initContainers[0].args, ['gs://seldon-models/v1.13.0-dev/sklearn/iris', '/mnt/models']);
    assert.equal(pod.initContainers[0].name, 'classifier-model-initializer');
    assert.equal(pod.initContainers[0].image, 'seldonio/rclone-storage-initializer:1.17.1');
    assert.deepEqual(
      c.volumeMounts.find((m: Obj) => m.mountPath === '/mnt/models'),
      { name: 'classifier-provision-location', mountPath: '/mnt/models', readOnly: true },
    );
    const tf = find(render(load('tfserving-mnist-rest.yaml')), 'Deployment', 'tfserving-default-mnist-model').spec
      .template.spec;
    assert.deepEqual(
      tf.containers.map((x: Obj) => `${x.name} ${x.image}`),
      ['mnist-model seldonio/tfserving-proxy:1.17.1', 'tfserving tensorflow/serving:2.1.0'],
    );
    assert.deepEqual(JSON.parse(env(tf.containers[0]).PREDICTIVE_UNIT_PARAMETERS!), [
      { name: 'signature_name', value: 'predict_images', type: 'STRING' },
      { name: 'model_name', value: 'mnist-model', type: 'STRING' },
      { name: 'rest_endpoint', value: 'http://0.0.0.0:2001', type: 'STRING' },
      { name: 'grpc_endpoint', value: '0.0.0.0:2000', type: 'STRING' },
      { name: 'model_name', value: 'mnist-model', type: 'STRING' },
    ]);
  });

  it('a componentSpecs container overrides the prepackaged server (probes kept), the image from the table', () => {
    const c = find(render(load('mlflow-elasticnet-wine.yaml')), 'Deployment', 'mlflow-default-classifier').spec.template
      .spec.containers[0];
    assert.equal(c.image, 'seldonio/mlflowserver:1.17.1');
    assert.equal(c.livenessProbe.httpGet.path, '/health/ping');
    assert.equal(c.livenessProbe.failureThreshold, 200);
  });

  it('hpaSpec: v2beta1 metrics and metricsv2 render the same autoscaling/v2 HorizontalPodAutoscaler', () => {
    const hpa = (f: string): Obj => find(render(load(f)), 'HorizontalPodAutoscaler', 'seldon-model-example-classifier');
    const v2 = hpa('model-with-hpa-v2.yaml');
    assert.deepEqual(v2.spec, {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'seldon-model-example-classifier' },
      minReplicas: 1,
      maxReplicas: 3,
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 10 } } },
      ],
    });
    assert.deepEqual(hpa('model-with-hpa-v2beta1.yaml').spec, v2.spec);
    const d = find(render(load('model-with-hpa-v2.yaml')), 'Deployment', 'seldon-model-example-classifier');
    assert.equal(d.spec.replicas, undefined, 'the autoscaler owns replicas');
  });

  it('traffic, shadow and labels: several predictors become spec.predictors of one graph; a unit logger the node logger', () => {
    const ab = load('ab-test-mlflow.yaml').graphs[0]!;
    assert.equal(ab.graph.name, 'mlflow-deployment');
    assert.deepEqual(
      ab.graph.predictors?.map((p) => [p.name, p.traffic, p.shadow, p.labels, p.graph.name]),
      [
        [
          'a-mlflow-deployment-dag',
          80,
          false,
          { version: 'a-mlflow-deployment-dag' },
          'a-mlflow-deployment-dag-wines-classifier',
        ],
        [
          'b-mlflow-deployment-dag',
          20,
          false,
          { version: 'b-mlflow-deployment-dag' },
          'b-mlflow-deployment-dag-wines-classifier',
        ],
      ],
    );
    const shadowLoaded = load('istio-shadow.yaml');
    const shadow = shadowLoaded.graphs[0]!;
    assert.deepEqual(
      shadow.graph.predictors?.map((p) => [p.name, p.traffic, p.shadow]),
      [
        ['default', 100, false],
        ['shadow', 100, true],
      ],
    );
    // Objects keep Seldon's names, and each container its unit's and predictor's identity.
    const objects = render(shadowLoaded);
    const d = find(objects, 'Deployment', 'iris-shadow-iris-shadow');
    const c = d.spec.template.spec.containers[0];
    assert.equal(c.name, 'iris-shadow');
    const env = Object.fromEntries((c.env as { name: string; value: string }[]).map((e) => [e.name, e.value]));
    assert.equal(env.PREDICTIVE_UNIT_ID, 'iris-shadow');
    assert.equal(env.PREDICTOR_ID, 'shadow');
    assert.equal(env.PREDICTOR_LABELS, '{"version":"shadow"}');
    assert.equal(env.SELDON_DEPLOYMENT_ID, 'iris');
    const ex = find(objects, 'Deployment', 'iris-executor').spec.template.spec.containers[0].args as string[];
    // No transport given: Seldon's default, REST, on each unit's HTTP port (numbered across the predictors).
    assert.ok(ex.includes('default-iris-default=http://iris-default-iris-default:9000'), ex.join(' '));
    assert.ok(ex.includes('shadow-iris-shadow=http://iris-shadow-iris-shadow:9001'), ex.join(' '));
    const logged = load('model-logger.yaml').graphs[0]!;
    assert.deepEqual((logged.manifest.spec as { graph: Obj }).graph.logger, {
      mode: 'all',
      url: 'http://logger.seldon/',
    });
    assert.equal(logged.graph.graph.logger?.url, 'http://logger.seldon/', 'the converted graph validates with it');
    const labelled = load('model-with-labels.yaml');
    assert.deepEqual(labelled.graphs[0]!.manifest.metadata.labels, { label1: 'value1', version: 'example' });
    const tpl = find(render(labelled), 'Deployment', 'seldon-model-example-classifier').spec.template.metadata;
    assert.equal(tpl.labels.label1, 'value1');
    assert.equal(tpl.labels.label2, 'value2');
    assert.equal(tpl.annotations.ann1, 'value1');
    assert.equal(tpl.annotations.ann2, 'value2');
    assert.equal(tpl.annotations.ann3, 'value3');
  });

  it('fields the API server prunes are warned about, not refused', () => {
    assert.deepEqual(load('model-seldon-grpc.yaml').warnings, [
      `${path.join(DIR, 'model-seldon-grpc.yaml')}: spec.predictors[0] (model): unknown field 'protocol' ignored (Kubernetes prunes it from the object)`,
      `${path.join(DIR, 'model-seldon-grpc.yaml')}: spec.predictors[0] (model): unknown field 'transport' ignored (Kubernetes prunes it from the object)`,
    ]);
  });
});
