import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1';
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { parseAllDocuments } from 'yaml';
import { crdObject } from '../../src/k8s/crd';
import { REPO } from '../helpers/graph-process';

/** k8s/: what `kubectl apply -k k8s/` and the addon install, checked against the Kubernetes OpenAPI schemas. */

type Obj = Record<string, any>;
const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
};

const docs = (text: string): Obj[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);

function validate(objs: Obj[]): void {
  for (const o of objs) {
    const Model = MODELS[`${o.apiVersion}/${o.kind}`] ?? assert.fail(`no model for ${o.apiVersion} ${o.kind}`);
    assert.doesNotThrow(() => new Model(o as never).validate(), `${o.kind} ${o.metadata?.name}`);
  }
}

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;

describe('k8s/ install manifests', () => {
  it(
    'kubectl kustomize k8s/ builds the CRD and the operator, all valid Kubernetes objects',
    { skip: hasKubectl ? false : 'kubectl is not installed' },
    () => {
      const objs = docs(execFileSync('kubectl', ['kustomize', path.join(REPO, 'k8s')], { encoding: 'utf8' }));
      assert.deepEqual(objs.map((o) => o.kind).sort(), [
        'ClusterRole',
        'ClusterRoleBinding',
        'CustomResourceDefinition',
        'Deployment',
        'Namespace',
        'Role',
        'RoleBinding',
        'ServiceAccount',
      ]);
      validate(objs);
      const crd = objs.find((o) => o.kind === 'CustomResourceDefinition') as Obj;
      assert.deepEqual(crd.spec, crdObject().spec, 'kustomize passes the generated CRD through unchanged');
      assert.ok(objs.every((o) => o.metadata.labels['app.kubernetes.io/part-of'] === 'infergraph'));
    },
  );

  it('the operator Deployment: two replicas, probes, restricted security, its identity for the Lease', () => {
    const objs = docs(readFileSync(path.join(REPO, 'k8s/operator.yaml'), 'utf8'));
    validate(objs);
    const d = objs.find((o) => o.kind === 'Deployment') as Obj;
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    assert.equal(d.spec.replicas, 2);
    assert.equal(pod.serviceAccountName, 'infergraph-operator');
    assert.deepEqual(c.args.slice(0, 1), ['operator']);
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.deepEqual(c.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    assert.deepEqual(pod.securityContext.seccompProfile, { type: 'RuntimeDefault' });
    assert.deepEqual(
      c.env.filter((e: Obj) => e.valueFrom).map((e: Obj) => [e.name, e.valueFrom.fieldRef.fieldPath]),
      [
        ['POD_NAME', 'metadata.name'],
        ['POD_NAMESPACE', 'metadata.namespace'],
      ],
    );
    const ns = objs.find((o) => o.kind === 'Namespace') as Obj;
    assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
  });

  it('the Jaeger addon takes OTLP on 4317/4318 and serves its UI on 16686', () => {
    const objs = docs(readFileSync(path.join(REPO, 'k8s/addons/jaeger.yaml'), 'utf8'));
    validate(objs);
    const svc = objs.find((o) => o.kind === 'Service') as Obj;
    assert.deepEqual(
      svc.spec.ports.map((p: Obj) => p.port),
      [4317, 4318, 16686],
    );
    const image: string = (objs.find((o) => o.kind === 'Deployment') as Obj).spec.template.spec.containers[0].image;
    assert.match(image, /^jaegertracing\/jaeger:2\./, 'Jaeger v2');
  });
});
