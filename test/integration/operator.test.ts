import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { ClientNodeApi } from '../../src/k8s/operator/client-node-api';
import { LeaderElector } from '../../src/k8s/operator/leader';
import { startOperator, type RunningOperator } from '../../src/k8s/operator/run';
import { MANIFEST_DIR } from '../../src/k8s/names';
import { loadSeldonDeployment } from '../../src/seldon/load';
import { createLogger } from '../../src/util/logger';
import { FakeApiServer } from '../helpers/fake-apiserver';
import { REPO } from '../helpers/graph-process';
import { kubeConfig, quiet as waitQuiet, waitFor } from '../helpers/operator-harness';
import { AUTOSCALER_GROUPS, grantedRules, groupOf, neededRules } from '../helpers/rbac';

/**
 * The operator end to end: its real code and the real @kubernetes/client-node against an in-process stand-in for
 * the API server (no cluster here). Create, scale and reshape a graph, break and fix its manifest, ride out API
 * errors and an expired watch, restart and hand over the lease, delete the graph, and stop the CLI with SIGTERM.
 */

type Obj = Record<string, any>;
const NS = 'ml';
const KINDS = ['configmaps', 'services', 'deployments', 'networkpolicies', 'poddisruptionbudgets'];

const graphDoc = (): Obj => {
  const doc = parseYaml(readFileSync(path.join(REPO, 'graphs/test-ensemble.yaml'), 'utf8')) as Obj;
  doc.metadata.namespace = NS;
  return doc;
};

describe('operator against a stand-in API server (real @kubernetes/client-node)', () => {
  let fake: FakeApiServer;
  let op: RunningOperator | undefined;
  const logger = createLogger('operator-test', process.env.OPERATOR_TEST_LOG ?? 'silent');

  const start = (identity: string): Promise<RunningOperator> =>
    startOperator({
      api: new ClientNodeApi(kubeConfig(fake.url)),
      logger,
      image: 'infergraph:test',
      identity,
      lease: { namespace: 'infergraph-system', name: 'infergraph-operator', durationSeconds: 2, retryMs: 100 },
      backoff: { initialMs: 50, maxMs: 400 },
      seldon: (doc, source) => loadSeldonDeployment(doc, MANIFEST_DIR, source),
    });
  const graph = (): Obj | undefined => fake.get('inferencegraphs', NS, 'test-ensemble');
  const cond = (type: string): Obj | undefined => graph()?.status?.conditions?.find((c: Obj) => c.type === type);
  const owned = (): Obj[] =>
    KINDS.flatMap((k) =>
      fake.list(k, NS).filter((o) => o.metadata.labels?.['infergraph.dev/graph'] === 'test-ensemble'),
    );
  const quiet = (): Promise<true> => waitQuiet(fake);
  const names = (plural: string): string[] =>
    fake
      .list(plural, NS)
      .map((o) => o.metadata.name)
      .sort();

  before(async () => {
    fake = await new FakeApiServer().start();
  });
  after(async () => {
    await op?.stop();
    await fake.close();
  });

  it('creates every object, owned by the graph, by server-side apply with one field manager; status follows readiness', async () => {
    fake.deploymentsReady = false;
    op = await start('op-1');
    await waitFor('leadership', () => op?.elector.isLeader);
    const g = fake.applyGraph(graphDoc());
    await waitFor('Progressing', () => cond('Progressing')?.status === 'True' && cond('Ready')?.status === 'False');
    assert.equal(cond('Ready')?.reason, 'ReplicasNotReady');
    assert.equal(graph()?.status.readyNodes, '0/5');

    fake.setDeploymentsReady(true);
    await waitFor('Ready', () => cond('Ready')?.status === 'True');
    const st = graph()?.status;
    assert.equal(st.observedGeneration, 1);
    assert.equal(st.readyNodes, '5/5');
    assert.equal(st.executorAddress, 'test-ensemble-executor.ml.svc:8000');
    assert.deepEqual(
      st.nodes.map((n: Obj) => [n.name, n.replicas, n.readyReplicas]),
      [
        ['top1', 1, 1],
        ['preprocess', 1, 1],
        ['ensemble', 1, 1],
        ['model-a', 1, 1],
        ['model-b', 1, 1],
      ],
    );
    assert.equal(cond('Degraded')?.status, 'False');

    const nodes = ['top1', 'preprocess', 'ensemble', 'model-a', 'model-b'].map((n) => `test-ensemble-${n}`);
    assert.deepEqual(names('deployments'), [...nodes, 'test-ensemble-executor'].sort());
    assert.deepEqual(names('services'), [...nodes, 'test-ensemble-executor'].sort());
    assert.deepEqual(names('configmaps'), ['test-ensemble-manifest']);
    assert.deepEqual(names('networkpolicies'), ['test-ensemble-executor', 'test-ensemble-nodes']);
    assert.deepEqual(names('poddisruptionbudgets'), []);
    for (const o of owned()) {
      assert.deepEqual(o.metadata.ownerReferences, [
        {
          apiVersion: 'infergraph.dev/v1alpha1',
          kind: 'InferenceGraph',
          name: 'test-ensemble',
          uid: g.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
      assert.deepEqual(
        o.metadata.managedFields.map((m: Obj) => m.manager),
        ['infergraph-operator'],
      );
    }
    const applies = fake.requests.filter((r) => r.method === 'PATCH' && !r.path.endsWith('/status'));
    assert.ok(applies.length >= 13);
    for (const a of applies) {
      assert.equal(a.contentType, 'application/apply-patch+yaml');
      assert.deepEqual([a.query.fieldManager, a.query.force], ['infergraph-operator', 'true']);
    }
    const events = fake.list('events', NS);
    assert.ok(
      events.some((e) => e.reason === 'Applied' && e.type === 'Normal' && e.involvedObject.uid === g.metadata.uid),
    );
  });

  it('update: a node added, one removed, replicas changed — pruned, scaled, rewired, with a PDB', async () => {
    // Left behind by an older operator version that named things differently: pruned too.
    const labels = { 'infergraph.dev/graph': 'test-ensemble', 'app.kubernetes.io/managed-by': 'infergraph-operator' };
    fake.put('configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'test-ensemble-old', namespace: NS, labels },
      data: {},
    });
    fake.put('networkpolicies', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'test-ensemble-old', namespace: NS, labels },
      spec: { podSelector: {} },
    });
    const doc = graphDoc();
    const ensemble = doc.spec.graph.children[0].children[0];
    ensemble.children = [
      { ...ensemble.children[0], runtime: { replicas: 3 } },
      { name: 'model-c', type: 'MODEL', implementation: 'scale', parameters: { factor: 7 } },
    ];
    fake.applyGraph(doc);
    await waitFor(
      'generation 2 ready',
      () => graph()?.status?.observedGeneration === 2 && cond('Ready')?.status === 'True',
    );
    const nodes = ['top1', 'preprocess', 'ensemble', 'model-a', 'model-c'].map((n) => `test-ensemble-${n}`);
    assert.deepEqual(names('deployments'), [...nodes, 'test-ensemble-executor'].sort());
    assert.deepEqual(names('services'), [...nodes, 'test-ensemble-executor'].sort());
    assert.equal(fake.get('deployments', NS, 'test-ensemble-model-a')?.spec.replicas, 3);
    assert.deepEqual(names('poddisruptionbudgets'), ['test-ensemble-model-a']);
    const args: string[] = fake.get('deployments', NS, 'test-ensemble-executor')?.spec.template.spec.containers[0].args;
    assert.ok(args.includes('model-c=dns:///test-ensemble-model-c:9000'));
    assert.ok(!args.some((a) => a.startsWith('model-b=')));
    assert.match(fake.get('configmaps', NS, 'test-ensemble-manifest')?.data['graph.yaml'], /model-c/);
    assert.deepEqual(
      graph()?.status.nodes.find((n: Obj) => n.name === 'model-a'),
      { name: 'model-a', replicas: 3, readyReplicas: 3 },
    );
    const deleted = fake.requests
      .filter((r) => r.method === 'DELETE')
      .map((r) => r.path.split('/').slice(-2).join('/'))
      .sort();
    assert.deepEqual(deleted, [
      'configmaps/test-ensemble-old',
      'deployments/test-ensemble-model-b',
      'networkpolicies/test-ensemble-old',
      'services/test-ensemble-model-b',
    ]);
  });

  it('an invalid manifest: Degraded with the validator messages and a Warning event; nothing running is touched', async () => {
    const before = JSON.stringify(owned());
    const doc = graphDoc();
    doc.spec.graph.children[0].type = 'TRANSFORMR';
    doc.spec.graph.children[0].children[0].children[1].parameters = { factor: 'x' };
    fake.applyGraph(doc);
    await waitFor('Degraded', () => cond('Degraded')?.status === 'True');
    assert.equal(cond('Degraded')?.reason, 'InvalidManifest');
    assert.match(
      cond('Degraded')?.message,
      /ml\/test-ensemble: spec\.graph\.children\[0\] \(preprocess\): type must be one of/,
    );
    assert.match(cond('Degraded')?.message, /model-b\)\.parameters\.factor: must be a number, got "x"/);
    assert.equal(cond('Ready')?.status, 'False');
    assert.equal(graph()?.status.observedGeneration, 3);
    const warnings = fake.list('events', NS).filter((e) => e.reason === 'InvalidManifest');
    assert.equal(warnings.length, 1, JSON.stringify(warnings.map((w) => [w.message, w.metadata.name])));
    assert.equal(warnings[0]?.type, 'Warning');
    assert.equal(JSON.stringify(owned()), before, 'objects changed for an invalid manifest');
    assert.ok(op?.elector.isLeader, 'the operator keeps running');

    // Fixed again (back to the first graph): reconciled, the Degraded condition clears.
    fake.applyGraph(graphDoc());
    await waitFor(
      'recovered',
      () =>
        cond('Degraded')?.status === 'False' &&
        cond('Ready')?.status === 'True' &&
        graph()?.status.observedGeneration === 4,
    );
    assert.deepEqual(names('poddisruptionbudgets'), []);
    assert.equal(fake.get('deployments', NS, 'test-ensemble-model-b')?.spec.replicas, 1);
  });

  it('retries failed API calls with backoff', async () => {
    fake.failApplies = 3;
    const doc = graphDoc();
    doc.spec.deadlineMs = 7000;
    fake.applyGraph(doc);
    await waitFor(
      'generation 5 applied despite errors',
      () => graph()?.status?.observedGeneration === 5 && cond('Ready')?.status === 'True',
    );
    assert.equal(fake.failApplies, 0);
    assert.match(fake.get('configmaps', NS, 'test-ensemble-manifest')?.data['graph.yaml'], /deadlineMs: 7000/);
  });

  it('re-lists when its watch version has expired (410 Gone)', async () => {
    const lists = (): number =>
      fake.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/inferencegraphs') && r.query.watch !== 'true')
        .length;
    const before = lists();
    fake.bump();
    fake.compact();
    fake.dropWatches();
    await waitFor('re-list', () => lists() > before);
    const doc = graphDoc();
    doc.spec.deadlineMs = 6000;
    fake.applyGraph(doc);
    await waitFor('generation 6 after the re-list', () => graph()?.status?.observedGeneration === 6);
  });

  it('restart: a new operator takes the released lease and reconciles to the same objects, nothing duplicated or recreated', async () => {
    const snapshot = (): string[] =>
      owned()
        .map((o) => `${o.kind}/${o.metadata.name}/${o.metadata.uid}`)
        .sort();
    const before = snapshot();
    const deletes = fake.requests.filter((r) => r.method === 'DELETE').length;
    await op?.stop();
    const lease = fake.get('leases', 'infergraph-system', 'infergraph-operator');
    assert.equal(lease?.spec.holderIdentity, undefined, 'lease released on stop');
    const applies = fake.requests.length;
    op = await start('op-2');
    await waitFor('op-2 leads', () => op?.elector.isLeader, 3000);
    await waitFor('op-2 reconciled', () =>
      fake.requests.slice(applies).some((r) => r.method === 'PATCH' && r.path.includes('test-ensemble-executor')),
    );
    await waitFor(
      'status written',
      () =>
        fake.requests.slice(applies).filter((r) => r.method === 'GET' && r.path.endsWith('/horizontalpodautoscalers'))
          .length > 0,
    );
    assert.deepEqual(snapshot(), before);
    assert.equal(fake.requests.filter((r) => r.method === 'DELETE').length, deletes);
    assert.equal(fake.get('leases', 'infergraph-system', 'infergraph-operator')?.spec.holderIdentity, 'op-2');
  });

  it('two replicas: one leads, the standby takes over when the leader stops', async () => {
    const standby = await start('op-3');
    try {
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(op?.elector.isLeader, true);
      assert.equal(standby.elector.isLeader, false);
      await op?.stop();
      await waitFor('standby leads', () => standby.elector.isLeader, 3000);
      op = standby;
    } catch (err) {
      await standby.stop();
      throw err;
    }
  });

  it('racing for an expired lease, exactly one of two candidates wins (the other gets 409 Conflict)', async () => {
    const stale = new Date(Date.now() - 60_000).toISOString();
    fake.put('leases', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'race', namespace: 'infergraph-system' },
      spec: {
        holderIdentity: 'gone',
        leaseDurationSeconds: 15,
        renewTime: stale,
        acquireTime: stale,
        leaseTransitions: 4,
      },
    });
    const candidate = (identity: string): LeaderElector =>
      new LeaderElector(new ClientNodeApi(kubeConfig(fake.url)), {
        namespace: 'infergraph-system',
        name: 'race',
        identity,
        logger,
      });
    const wins = await Promise.all(['a', 'b', 'c'].map((id) => candidate(id).tryAcquireOrRenew()));
    assert.equal(wins.filter(Boolean).length, 1, String(wins));
    const lease = fake.get('leases', 'infergraph-system', 'race');
    assert.equal(lease?.spec.holderIdentity, ['a', 'b', 'c'][wins.indexOf(true)]);
    assert.equal(lease?.spec.leaseTransitions, 5);
  });

  it('a leader that dies without releasing its lease is replaced once the lease expires', async () => {
    const candidate = (identity: string): LeaderElector =>
      new LeaderElector(new ClientNodeApi(kubeConfig(fake.url)), {
        namespace: 'infergraph-system',
        name: 'expiry',
        identity,
        leaseDurationSeconds: 1,
        logger,
      });
    assert.equal(await candidate('crashed').tryAcquireOrRenew(), true);
    const next = candidate('next');
    assert.equal(await next.tryAcquireOrRenew(), false, 'took a lease that was still held');
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await next.tryAcquireOrRenew(), true, 'did not take the expired lease');
    assert.equal(fake.get('leases', 'infergraph-system', 'expiry')?.spec.holderIdentity, 'next');
  });

  it('SeldonDeployments: reconciled through convert + render, owned by the SeldonDeployment, status in Seldon’s shape; a removed predictor is pruned; an invalid one is Failed; delete collects all', async () => {
    const doc = parseYaml(
      readFileSync(path.join(REPO, 'test/fixtures/seldon/graph-metadata-combiner.yaml'), 'utf8'),
    ) as Obj;
    doc.metadata.namespace = NS;
    const canary = structuredClone(doc.spec.predictors[0]);
    canary.name = 'canary';
    doc.spec.predictors[0].traffic = 75;
    canary.traffic = 25;
    doc.spec.predictors.push(canary);
    fake.apply('seldondeployments', doc);
    const sdep = (): Obj | undefined => fake.get('seldondeployments', NS, 'graph-metadata-combiner');
    const uid = sdep()?.metadata.uid as string;
    const ownedBySdep = (): Obj[] =>
      KINDS.flatMap((k) => fake.list(k, NS).filter((o) => o.metadata.ownerReferences?.[0]?.uid === uid));
    await waitFor('state Available', () => sdep()?.status?.state === 'Available');
    const deps = ownedBySdep()
      .filter((o) => o.kind === 'Deployment')
      .map((o) => o.metadata.name)
      .sort();
    // Both predictors under one executor, which splits the traffic (75/25); each predictor's units are its own.
    assert.deepEqual(deps, [
      'graph-metadata-combiner-canary-node-combiner',
      'graph-metadata-combiner-canary-node-one',
      'graph-metadata-combiner-canary-node-two',
      'graph-metadata-combiner-example-node-combiner',
      'graph-metadata-combiner-example-node-one',
      'graph-metadata-combiner-example-node-two',
      'graph-metadata-combiner-executor',
    ]);
    for (const o of ownedBySdep())
      assert.deepEqual(
        [o.metadata.ownerReferences[0].kind, o.metadata.ownerReferences[0].controller],
        ['SeldonDeployment', true],
      );
    // Rendered as Seldon's operator renders the unit's container: its env contract is there.
    const one = fake.get('deployments', NS, 'graph-metadata-combiner-example-node-one');
    const env = Object.fromEntries(
      one?.spec.template.spec.containers[0].env.map((e: Obj) => [e.name, e.value]) as [string, string][],
    );
    assert.equal(env.PREDICTIVE_UNIT_ID, 'node-one');
    assert.equal(env.SELDON_DEPLOYMENT_ID, 'graph-metadata-combiner');
    const st = sdep()?.status;
    assert.equal(st.deploymentStatus['graph-metadata-combiner-example-node-one'].availableReplicas, 1);
    assert.equal(
      st.serviceStatus['graph-metadata-combiner-executor'].grpcEndpoint,
      'graph-metadata-combiner-executor.ml.svc.cluster.local:8000',
    );
    assert.match(
      st.address.url,
      /^http:\/\/graph-metadata-combiner-executor\.ml\.svc\.cluster\.local:\d+\/api\/v1\.0\/predictions$/,
    );

    // The canary leaves: its objects are pruned, the other predictor's stay.
    const next = structuredClone(doc);
    next.spec.predictors.pop();
    delete next.spec.predictors[0].traffic;
    fake.apply('seldondeployments', next);
    const example = [
      'graph-metadata-combiner-example-executor',
      'graph-metadata-combiner-example-node-combiner',
      'graph-metadata-combiner-example-node-one',
      'graph-metadata-combiner-example-node-two',
    ];
    // A lone predictor again: its own graph and executor; the canary's objects and the shared executor are pruned.
    await waitFor('canary pruned', () =>
      JSON.stringify(
        ownedBySdep()
          .filter((o) => o.kind === 'Deployment')
          .map((o) => o.metadata.name)
          .sort(),
      ) === JSON.stringify(example)
        ? true
        : undefined,
    );
    // Status keeps no key of what went (a merge patch of the new status alone would keep them, and the operator,
    // never seeing the status it computes, would write it again on every reconcile).
    await quiet();
    assert.deepEqual(Object.keys(sdep()?.status.deploymentStatus).sort(), example);
    assert.deepEqual(Object.keys(sdep()?.status.serviceStatus), ['graph-metadata-combiner-example-executor']);

    // Invalid: Failed with Seldon's own message, a Warning event; nothing running is touched.
    const bad = structuredClone(next);
    bad.spec.predictors[0].graph.children[0].name = 'no-such-container';
    fake.apply('seldondeployments', bad);
    await waitFor('state Failed', () => sdep()?.status?.state === 'Failed');
    assert.match(sdep()?.status.description, /Can't find container for Predictive Unit/);
    assert.ok(
      fake
        .list('events', NS)
        .some((e) => e.involvedObject.kind === 'SeldonDeployment' && e.reason === 'InvalidManifest'),
    );
    assert.equal(ownedBySdep().filter((o) => o.kind === 'Deployment').length, 4);

    await quiet();
    fake.deleteObject('seldondeployments', NS, 'graph-metadata-combiner');
    assert.deepEqual(ownedBySdep(), []);
  });

  it('delete: the garbage collector removes everything the graph owned; the operator recreates nothing', async () => {
    assert.ok(owned().length > 10);
    await quiet();
    fake.deleteObject('inferencegraphs', NS, 'test-ensemble');
    assert.deepEqual(owned(), []);
    const n = fake.requests.length;
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(owned(), []);
    assert.equal(fake.requests.slice(n).filter((r) => r.method === 'PATCH').length, 0);
  });

  it('k8s/operator.yaml grants exactly what these requests needed (least privilege), no more', () => {
    const needed = neededRules(fake.requests);
    const granted = grantedRules();
    assert.deepEqual([...needed].filter((n) => !granted.has(n)).sort(), [], 'requests the RBAC rules do not allow');
    // The autoscalers' rules are used by test/integration/operator-autoscaling.test.ts, which checks them.
    assert.deepEqual(
      [...granted].filter((g) => !needed.has(g) && !AUTOSCALER_GROUPS.includes(groupOf(g))).sort(),
      [],
      'rules no request needed',
    );
  });

  it('infergraph operator (the CLI) reconciles, answers /readyz, and exits 0 on SIGTERM releasing its lease', async () => {
    await op?.stop();
    op = undefined;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ig-operator-'));
    try {
      const kubeconfig = path.join(dir, 'config');
      writeFileSync(kubeconfig, kubeConfig(fake.url).exportConfig());
      const child = spawn(
        process.execPath,
        [
          path.join(REPO, 'dist/src/cli/main.js'),
          'operator',
          '--health-address',
          '127.0.0.1:0',
          '--identity',
          'cli',
          '--lease-namespace',
          'infergraph-system',
        ],
        {
          env: { ...process.env, KUBECONFIG: kubeconfig, INFERGRAPH_IMAGE: 'infergraph:cli' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      try {
        const health = await waitFor('health address', () => /"health":"([^"]+)"/.exec(out)?.[1], 15_000);
        fake.applyGraph(graphDoc());
        await waitFor('CLI reconciled', () => cond('Ready')?.status === 'True', 15_000);
        assert.equal(
          fake.get('deployments', NS, 'test-ensemble-top1')?.spec.template.spec.containers[0].image,
          'infergraph:cli',
        );
        const ready = await fetch(`http://${health}/readyz`);
        assert.equal(ready.status, 200);
        child.kill('SIGTERM');
        assert.equal(await exited, 0, out);
        assert.equal(fake.get('leases', 'infergraph-system', 'infergraph-operator')?.spec.holderIdentity, undefined);
      } finally {
        child.kill('SIGKILL');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
