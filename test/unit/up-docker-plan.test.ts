import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { findNode } from '../../src/graph/spec';
import { desiredObjects } from '../../src/k8s/desired';
import {
  containerNodes,
  dockerCreateArgs,
  hostAddress,
  LABEL,
  planContainer,
  planWarnings,
  unsupportedProblems,
} from '../../src/runner/docker-plan';
import { loadAnyManifestFile } from '../../src/seldon/load';

/**
 * What `infergraph up` hands docker for a container-image node, without an engine: the environment must be the one
 * the Kubernetes rendering gives the pod (one contract, src/k8s/unit-env.ts), the ports published on loopback only.
 */

const SDEP = `apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: shop, labels: {team: ml}}
spec:
  transport: grpc
  predictors:
  - name: a
    traffic: 60
    labels: {version: v1}
    componentSpecs:
    - spec:
        containers:
        - name: clf
          image: registry.local/clf:1
          command: [python, -m, serve]
          args: [--workers, '2']
          workingDir: /srv
          env:
          - {name: MODEL_NAME, value: clf}
          - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
          volumeMounts: [{name: data, mountPath: /data}]
    graph:
      name: clf
      type: MODEL
      parameters: [{name: scale, type: FLOAT, value: '2'}]
  - name: b
    traffic: 40
    componentSpecs:
    - spec:
        containers:
        - {name: clf, image: registry.local/clf:2}
    graph: {name: clf, type: MODEL}
`;

describe('up: container-image nodes as docker containers', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-up-plan-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'shop.yaml');
  writeFileSync(file, SDEP);
  const { graph, manifest } = loadAnyManifestFile(file).graphs[0]!;
  const hostPorts = { http: 41001, grpc: 41002, metrics: 41003 };

  it('hands the container exactly the environment the Kubernetes rendering gives its pod', () => {
    const objects = desiredObjects({ graph, manifest });
    assert.deepEqual(
      containerNodes(graph).map((n) => n.name),
      ['a-clf', 'b-clf'],
    );
    for (const n of containerNodes(graph)) {
      const plan = planContainer(graph, manifest, n, 0, hostPorts);
      const dep = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === `shop-${n.name}`) as unknown as {
        spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
      };
      const rendered = dep.spec.template.spec.containers[0]!.env.filter((e) => e.value !== undefined);
      assert.deepEqual(
        plan.env,
        rendered.map((e) => [e.name, e.value]),
        `${n.name}: the same variables, in the same order`,
      );
    }
    const a = new Map(planContainer(graph, manifest, findNode(graph, 'a-clf')!, 0, hostPorts).env);
    assert.equal(a.get('PREDICTIVE_UNIT_ID'), 'clf', "Seldon's unit name, not the predictor-prefixed node");
    assert.equal(a.get('PREDICTOR_ID'), 'a');
    assert.equal(a.get('SELDON_DEPLOYMENT_ID'), 'shop');
    assert.equal(a.get('PREDICTIVE_UNIT_SERVICE_PORT'), '9500', 'transport grpc: the gRPC port');
    assert.equal(a.get('PREDICTIVE_UNIT_PARAMETERS'), '[{"name":"scale","value":"2","type":"FLOAT"}]');
    assert.equal(a.get('MODEL_NAME'), 'clf', "the container's own env first");
    assert.equal(a.has('POD'), false, 'a valueFrom is left to Kubernetes');
  });

  it('docker create: name, labels, ports published on loopback to the ports Seldon gives, command as entrypoint', () => {
    const plan = planContainer(graph, manifest, findNode(graph, 'a-clf')!, 0, hostPorts);
    const args = dockerCreateArgs(plan);
    assert.equal(plan.name, 'infergraph-shop-a-clf');
    assert.deepEqual(args.slice(0, 3), ['create', '--name', 'infergraph-shop-a-clf']);
    const values = (flag: string): string[] => args.flatMap((a, i) => (args[i - 1] === flag ? [a] : []));
    assert.deepEqual(values('--publish'), ['127.0.0.1:41001:9000', '127.0.0.1:41002:9500', '127.0.0.1:41003:6000']);
    assert.deepEqual(values('--label'), [`${LABEL.graph}=shop`, `${LABEL.node}=a-clf`, `${LABEL.pid}=${process.pid}`]);
    assert.deepEqual(values('--entrypoint'), ['python']);
    assert.deepEqual(values('--workdir'), ['/srv']);
    assert.deepEqual(args.slice(args.indexOf('registry.local/clf:1')), [
      'registry.local/clf:1',
      '-m',
      'serve',
      '--workers',
      '2',
    ]);
    assert.equal(hostAddress(plan), '127.0.0.1:41002', 'the executor calls the gRPC port');
  });

  it('replicas are containers of their own; what up leaves out is said', () => {
    const n = findNode(graph, 'b-clf')!;
    const replicated = { ...n, runtime: { ...n.runtime, replicas: 2 } };
    assert.equal(planContainer(graph, manifest, replicated, 1, hostPorts).name, 'infergraph-shop-b-clf-1');
    assert.equal(planContainer(graph, manifest, replicated, 1, hostPorts).display, 'b-clf#1');
    assert.deepEqual(planWarnings(findNode(graph, 'a-clf')!), [
      'spec.predictors[0].graph (a-clf): infergraph up runs registry.local/clf:1 without its volumeMounts (Kubernetes only)',
      'spec.predictors[0].graph (a-clf): env POD: valueFrom is resolved by Kubernetes only; left out by infergraph up',
    ]);
    assert.deepEqual(planWarnings(n), []);
    assert.deepEqual(unsupportedProblems(graph, file), []);
  });

  it('refuses what it cannot give a container locally: a modelUri storage initializer', () => {
    const prepackaged = path.join(dir, 'iris.yaml');
    writeFileSync(
      prepackaged,
      `apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: iris}
spec:
  predictors:
  - name: default
    graph: {name: classifier, implementation: SKLEARN_SERVER, modelUri: 'gs://seldon-models/sklearn/iris'}
`,
    );
    const g = loadAnyManifestFile(prepackaged).graphs[0]!.graph;
    const [problem, ...more] = unsupportedProblems(g, 'iris.yaml');
    assert.equal(more.length, 0);
    assert.match(
      problem ?? '',
      /^spec\.graph \(classifier\): infergraph up cannot run seldonio\/sklearnserver:\S+: its modelUri \(gs:\/\/seldon-models\/sklearn\/iris\) needs a storage initializer; run the whole graph in docker with k8s\/docker-run\.sh iris\.yaml --keep-image <image>, or deploy it with infergraph render \| kubectl apply -f -$/,
    );
  });
});
