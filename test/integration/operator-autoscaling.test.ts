import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Ajv from 'ajv';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { parse as parseYaml } from 'yaml';
import { HANDOVER_MANAGER } from '../../src/k8s/operator/apply-objects';
import { ClientNodeApi } from '../../src/k8s/operator/client-node-api';
import { startOperator, type RunningOperator } from '../../src/k8s/operator/run';
import { MANIFEST_DIR } from '../../src/k8s/names';
import { loadSeldonDeployment } from '../../src/seldon/load';
import { createLogger } from '../../src/util/logger';
import { FakeApiServer } from '../helpers/fake-apiserver';
import { REPO } from '../helpers/graph-process';
import { kubeConfig, quiet, waitFor } from '../helpers/operator-harness';
import { AUTOSCALER_GROUPS, grantedRules, groupOf, neededRules } from '../helpers/rbac';

/**
 * The operator and autoscalers, against the stand-in API server (real @kubernetes/client-node; server-side apply
 * with field ownership): a node's HPA applied and pruned with it, the Deployment's replicas handed over to the HPA
 * (never reset by a reconcile, read back into status), KEDA's ScaledObject on a cluster without KEDA (reported, the
 * rest applied) and with it, and a SeldonDeployment's hpaSpec.
 */

type Obj = Record<string, any>;
const NS = 'ml';
const kedaSchema = JSON.parse(
  readFileSync(path.join(REPO, 'test/fixtures/keda/scaledobject-spec.schema.json'), 'utf8'),
) as Record<string, unknown>;
const validateKeda = new Ajv({ strict: false }).compile(kedaSchema);

/** `pre` (TRANSFORMER) → `m` (MODEL); `m` carries the given fields (its runtime). */
const graphDoc = (m: Obj = {}, spec: Obj = {}): Obj => ({
  apiVersion: 'infergraph.dev/v1alpha1',
  kind: 'InferenceGraph',
  metadata: { name: 'scaled', namespace: NS },
  spec: {
    ...spec,
    graph: {
      name: 'pre',
      type: 'TRANSFORMER',
      implementation: 'scale',
      parameters: { factor: 2 },
      children: [{ name: 'm', type: 'MODEL', implementation: 'scale', parameters: { factor: 3 }, ...m }],
    },
  },
});

/** Who owns a Deployment's spec.replicas, by managedFields. */
const replicaOwners = (d: Obj | undefined): string[] =>
  ((d?.metadata.managedFields ?? []) as Obj[])
    .filter((f) => f.fieldsV1?.['f:spec']?.['f:replicas'] !== undefined)
    .map((f) => f.manager as string)
    .sort();

/** The object as a client would send it (kubernetes-models checks the shape, not the server-set metadata). */
const sent = (o: Obj): Obj => {
  const {
    uid: _u,
    resourceVersion: _r,
    generation: _g,
    creationTimestamp: _c,
    managedFields: _m,
    ...meta
  } = o.metadata;
  return { ...o, metadata: meta };
};

describe('operator: autoscalers (HPA, KEDA ScaledObject) and the replicas they own', () => {
  let fake: FakeApiServer;
  let op: RunningOperator;
  const lines: string[] = [];
  const logger = createLogger('operator-autoscaling-test', 'info', (line) => lines.push(line));

  const graph = (): Obj | undefined => fake.get('inferencegraphs', NS, 'scaled');
  const cond = (type: string): Obj | undefined => graph()?.status?.conditions?.find((c: Obj) => c.type === type);
  const node = (name: string): Obj | undefined => graph()?.status?.nodes?.find((n: Obj) => n.name === name);
  const dep = (name = 'scaled-m'): Obj | undefined => fake.get('deployments', NS, name);
  const hpa = (name = 'scaled-m'): Obj | undefined => fake.get('horizontalpodautoscalers', NS, name);
  /** kubectl apply of the graph, then the reconcile of that generation. */
  const applyAndWait = async (doc: Obj): Promise<Obj> => {
    const g = fake.applyGraph(doc);
    await waitFor(`generation ${g.metadata.generation} reconciled`, () =>
      graph()?.status?.observedGeneration === g.metadata.generation ? true : undefined,
    );
    await quiet(fake);
    return g;
  };
  const auto = { minReplicas: 2, maxReplicas: 6, inFlightTarget: 4 };

  before(async () => {
    fake = await new FakeApiServer().start();
    op = await startOperator({
      api: new ClientNodeApi(kubeConfig(fake.url)),
      logger,
      image: 'infergraph:test',
      identity: 'op',
      lease: { namespace: 'infergraph-system', name: 'infergraph-operator', durationSeconds: 2, retryMs: 100 },
      backoff: { initialMs: 50, maxMs: 400 },
      seldon: (doc, source) => loadSeldonDeployment(doc, MANIFEST_DIR, source),
    });
    await waitFor('leadership', () => op.elector.isLeader);
  });
  after(async () => {
    await op.stop();
    await fake.close();
  });

  it('the stand-in applies as the API server does: a field its only applier leaves out goes (replicas back to 1)', () => {
    const d = (replicas?: number): Obj => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'scratch', namespace: 'scratch' },
      spec: { ...(replicas ? { replicas } : {}), selector: { matchLabels: { a: 'b' } } },
    });
    assert.equal(fake.apply('deployments', d(3)).spec.replicas, 3);
    assert.equal(fake.apply('deployments', d()).spec.replicas, 1, 'removed, then defaulted');
    fake.scale('scratch', 'scratch', 4);
    assert.equal(fake.apply('deployments', d()).spec.replicas, 4, 'owned by the scaler: kept');
    fake.deleteObject('deployments', 'scratch', 'scratch');
  });

  it('a node gains runtime.autoscaling: its HPA is applied, owned by the graph; the Deployment keeps its 3 pods (handed over, not reset to 1)', async () => {
    await applyAndWait(graphDoc({ runtime: { replicas: 3 } }));
    assert.equal(dep()?.spec.replicas, 3);
    assert.deepEqual(replicaOwners(dep()), ['infergraph-operator']);
    assert.equal(hpa(), undefined);

    const handovers = (): number => fake.requests.filter((r) => r.query.fieldManager === HANDOVER_MANAGER).length;
    const g = await applyAndWait(graphDoc({ runtime: { replicas: 3, autoscaling: auto } }));
    const h = hpa();
    assert.ok(h, 'HPA applied');
    assert.doesNotThrow(() => new HorizontalPodAutoscaler(sent(h)).validate());
    assert.deepEqual(h.metadata.ownerReferences, [
      {
        apiVersion: 'infergraph.dev/v1alpha1',
        kind: 'InferenceGraph',
        name: 'scaled',
        uid: g.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    assert.deepEqual(
      h.metadata.managedFields.map((f: Obj) => f.manager),
      ['infergraph-operator'],
    );
    assert.deepEqual(h.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'scaled-m' });
    assert.deepEqual([h.spec.minReplicas, h.spec.maxReplicas], [2, 6]);
    assert.equal(dep()?.spec.replicas, 3, 'the live count stays until the HPA acts');
    assert.deepEqual(replicaOwners(dep()), [HANDOVER_MANAGER], 'the operator no longer owns replicas');
    assert.equal(handovers(), 1);
    assert.deepEqual(node('m'), { name: 'm', replicas: 3, readyReplicas: 3 });
    assert.equal(cond('Degraded')?.status, 'False');
    // The executor and the other node keep the replicas the manifest gives them.
    assert.deepEqual(replicaOwners(dep('scaled-pre')), ['infergraph-operator']);

    // Reconciles from now on apply without replicas: no handover is needed again.
    await applyAndWait(graphDoc({ runtime: { replicas: 3, autoscaling: auto } }, { deadlineMs: 7000 }));
    assert.equal(handovers(), 1);
  });

  it('the HPA scales the Deployment out of band: status reads its replicas, and later reconciles do not reset them', async () => {
    const applies = (): number =>
      fake.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith('/deployments/scaled-m')).length;
    fake.scale(NS, 'scaled-m', 5);
    await waitFor('status follows the HPA', () => node('m')?.replicas === 5);
    const before = applies();
    // A changed manifest re-applies every object, the Deployment's new pod template included.
    await applyAndWait(graphDoc({ runtime: { replicas: 3, autoscaling: auto }, parameters: { factor: 4 } }));
    assert.ok(applies() > before, 'the Deployment was applied again');
    assert.equal(dep()?.spec.replicas, 5);
    assert.deepEqual(replicaOwners(dep()), ['kube-controller-manager']);
    assert.match(JSON.stringify(dep()?.spec.template.spec.containers[0].args), /"--node","m"/);
    assert.deepEqual(node('m'), { name: 'm', replicas: 5, readyReplicas: 5 });
    assert.equal(cond('Ready')?.status, 'True');

    // Pods the HPA asked for that are not ready yet hold the graph's readiness, as for any rollout.
    fake.deploymentsReady = false;
    fake.scale(NS, 'scaled-m', 6);
    await waitFor('not ready while scaling up', () => cond('Ready')?.status === 'False');
    assert.match(cond('Ready')?.message, /scaled-m 0\/6/);
    fake.setDeploymentsReady(true);
    await waitFor('ready again', () => cond('Ready')?.status === 'True');
    assert.deepEqual(node('m'), { name: 'm', replicas: 6, readyReplicas: 6 });
  });

  it('autoscaling removed: the HPA is pruned and the manifest’s replicas return', async () => {
    await applyAndWait(graphDoc({ runtime: { replicas: 2 } }));
    assert.equal(hpa(), undefined);
    assert.ok(
      fake.requests.some((r) => r.method === 'DELETE' && r.path.endsWith('/horizontalpodautoscalers/scaled-m')),
    );
    assert.equal(dep()?.spec.replicas, 2);
    assert.deepEqual(replicaOwners(dep()), ['infergraph-operator']);
    assert.deepEqual(node('m'), { name: 'm', replicas: 2, readyReplicas: 2 });
  });

  it('a node removed from the graph takes its HPA with it', async () => {
    await applyAndWait(graphDoc({ runtime: { autoscaling: auto } }));
    assert.ok(hpa());
    assert.deepEqual(replicaOwners(dep()), [HANDOVER_MANAGER], 'handed over again');
    const doc = graphDoc();
    delete doc.spec.graph.children;
    await applyAndWait(doc);
    assert.equal(hpa(), undefined);
    assert.equal(dep(), undefined);
  });

  it('keda on a cluster without KEDA: everything else applied; Degraded MissingCRD names the node and the CRD; one Warning event; logged once', async () => {
    const keda = {
      maxReplicas: 4,
      inFlightTarget: 2,
      keda: { prometheusAddress: 'http://prometheus.monitoring:9090' },
    };
    await applyAndWait(graphDoc({ runtime: { autoscaling: keda } }));
    const degraded = cond('Degraded');
    assert.equal(degraded?.status, 'True');
    assert.equal(degraded?.reason, 'MissingCRD');
    assert.equal(
      degraded?.message,
      'node m: runtime.autoscaling.keda needs KEDA, but the API server does not serve keda.sh/v1alpha1 ScaledObject ' +
        '(CRD scaledobjects.keda.sh is not installed); ScaledObject/scaled-m was not applied and the node keeps its ' +
        'current replicas with no autoscaler. Install KEDA, or remove keda to scale with a HorizontalPodAutoscaler',
    );
    assert.equal(cond('Ready')?.status, 'True', 'the graph serves');
    assert.ok(dep(), 'the node’s Deployment is applied');
    assert.equal(hpa(), undefined, 'KEDA makes its own HPA: none from the operator');
    assert.match(fake.get('configmaps', NS, 'scaled-manifest')?.data['graph.yaml'], /prometheusAddress/);
    const warnings = (): Obj[] => fake.list('events', NS).filter((e) => e.reason === 'MissingCRD');
    assert.equal(warnings().length, 1);
    assert.equal(warnings()[0]?.type, 'Warning');
    assert.equal(warnings()[0]?.message, degraded?.message);

    // Another generation, the same problem: no second event, no error, one log line about pruning.
    await applyAndWait(graphDoc({ runtime: { autoscaling: keda } }, { deadlineMs: 6000 }));
    assert.equal(cond('Degraded')?.reason, 'MissingCRD');
    assert.equal(warnings().length, 1);
    const logged = lines.filter((l) => l.includes('ScaledObject') && l.includes('nothing of that kind to prune'));
    assert.equal(logged.length, 1, logged.join('\n'));
    assert.match(logged[0] ?? '', /does not serve keda\.sh\/v1alpha1 ScaledObject \(CRD scaledobjects\.keda\.sh\)/);
    assert.deepEqual(
      lines.filter((l) => l.includes('reconcile failed')),
      [],
    );
  });

  it('KEDA installed: the next reconcile applies the ScaledObject (valid against KEDA’s schema), owned by the graph; removing keda prunes it', async () => {
    fake.installKeda();
    const keda = {
      maxReplicas: 4,
      inFlightTarget: 2,
      keda: { prometheusAddress: 'http://prometheus.monitoring:9090' },
    };
    const g = await applyAndWait(graphDoc({ runtime: { autoscaling: keda } }, { deadlineMs: 5000 }));
    const so = fake.get('scaledobjects', NS, 'scaled-m');
    assert.ok(so);
    assert.equal(so.metadata.ownerReferences[0].uid, g.metadata.uid);
    assert.equal(so.spec.scaleTargetRef.name, 'scaled-m');
    assert.ok(validateKeda(so.spec), JSON.stringify(validateKeda.errors));
    assert.equal(cond('Degraded')?.status, 'False');

    await applyAndWait(graphDoc());
    assert.equal(fake.get('scaledobjects', NS, 'scaled-m'), undefined);
    assert.ok(fake.requests.some((r) => r.method === 'DELETE' && r.path.endsWith('/scaledobjects/scaled-m')));
  });

  it('a SeldonDeployment’s hpaSpec: HPA owned by the SeldonDeployment; HPA-set replicas survive reconciles and show in deploymentStatus; hpaSpec removed prunes it', async () => {
    const doc = parseYaml(readFileSync(path.join(REPO, 'test/fixtures/seldon/model-with-hpa-v2.yaml'), 'utf8')) as Obj;
    doc.metadata.namespace = NS;
    const sdep = (): Obj | undefined => fake.get('seldondeployments', NS, 'seldon-model');
    const name = 'seldon-model-example-classifier';
    fake.apply('seldondeployments', doc);
    await waitFor('Available', () => sdep()?.status?.state === 'Available');
    const h = hpa(name);
    assert.ok(h);
    assert.doesNotThrow(() => new HorizontalPodAutoscaler(sent(h)).validate());
    assert.deepEqual(
      [h.metadata.ownerReferences[0].kind, h.metadata.ownerReferences[0].uid, h.metadata.ownerReferences[0].controller],
      ['SeldonDeployment', sdep()?.metadata.uid, true],
    );
    assert.deepEqual(replicaOwners(dep(name)), [], 'rendered without replicas: the default until the HPA acts');

    fake.scale(NS, name, 3);
    await waitFor('deploymentStatus follows the HPA', () => sdep()?.status?.deploymentStatus?.[name]?.replicas === 3);
    const next = structuredClone(doc);
    next.spec.predictors[0].componentSpecs[0].hpaSpec.maxReplicas = 4;
    fake.apply('seldondeployments', next);
    await waitFor('HPA updated', () => hpa(name)?.spec.maxReplicas === 4);
    await quiet(fake);
    assert.equal(dep(name)?.spec.replicas, 3);
    assert.deepEqual(sdep()?.status.deploymentStatus[name], { replicas: 3, availableReplicas: 3 });

    const fixed = structuredClone(next);
    delete fixed.spec.predictors[0].componentSpecs[0].hpaSpec;
    fixed.spec.predictors[0].componentSpecs[0].replicas = 2;
    fake.apply('seldondeployments', fixed);
    await waitFor('HPA pruned', () => (hpa(name) === undefined ? true : undefined));
    await quiet(fake);
    assert.equal(dep(name)?.spec.replicas, 2);
    assert.deepEqual(replicaOwners(dep(name)), ['infergraph-operator']);

    // Seldon's kedaSpec stays refused (its triggers name Seldon's metrics), with what to do instead.
    const keda = structuredClone(fixed);
    keda.spec.predictors[0].componentSpecs[0].kedaSpec = { maxReplicaCount: 3, triggers: [] };
    fake.apply('seldondeployments', keda);
    await waitFor('Failed', () => sdep()?.status?.state === 'Failed');
    assert.match(sdep()?.status.description, /kedaSpec: KEDA scaling is not supported: use hpaSpec/);
    await quiet(fake);
    fake.deleteObject('seldondeployments', NS, 'seldon-model');
  });

  it('k8s/operator.yaml allows every request made, and each autoscaler rule was needed', () => {
    const needed = neededRules(fake.requests);
    const granted = grantedRules();
    assert.deepEqual([...needed].filter((n) => !granted.has(n)).sort(), [], 'requests the RBAC rules do not allow');
    assert.deepEqual(
      [...granted].filter((g) => AUTOSCALER_GROUPS.includes(groupOf(g)) && !needed.has(g)).sort(),
      [],
      'autoscaler rules no request needed',
    );
  });
});
