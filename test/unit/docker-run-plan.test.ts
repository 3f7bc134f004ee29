import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { cpuCores, dockerRunArgs, memoryBytes, parseObjects, planGraph } from '../../k8s/docker-run/plan';
import { contractObjects } from '../helpers/contract-objects';
import { REPO } from '../helpers/graph-process';

const opts = { runId: 'infergraph-run-test', workDir: '/tmp/ig-run', image: 'infergraph:dev' };

describe('docker-run plan: rendered objects to containers', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-plan-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const mobilenet = path.join(REPO, 'graphs/imagenet-mobilenet.yaml');
  const objects = parseObjects(contractObjects(mobilenet, 'registry.example/infergraph:0.1.0'));

  it('one container per pod, named after its Service, with exactly the pod spec args', () => {
    const plan = planGraph(objects, opts);
    const deployments = objects.filter((o) => o.kind === 'Deployment');
    assert.deepEqual(
      plan.pods.map((p) => p.main.name),
      [
        'imagenet-mobilenet-top1',
        'imagenet-mobilenet-jpeg-input',
        'imagenet-mobilenet-mobilenetv2',
        'imagenet-mobilenet-executor',
      ],
    );
    for (const pod of plan.pods) {
      const d = deployments.find((x) => x.name === pod.deployment)?.raw as {
        spec: { template: { spec: { containers: { args: string[] }[] } } };
      };
      assert.deepEqual(pod.main.args, d.spec.template.spec.containers[0]?.args);
      assert.deepEqual(pod.main.aliases, [pod.service]);
      assert.equal(pod.main.image, 'infergraph:dev', 'the local image replaces the rendered one');
      assert.equal(pod.main.user, '10001:10001');
      assert.ok(pod.main.readOnlyRoot && pod.main.noNewPrivileges);
      assert.deepEqual(pod.main.capDrop, ['ALL']);
    }
    const ex = plan.pods.find((p) => p.service === 'imagenet-mobilenet-executor');
    assert.deepEqual(ex?.main.publish, [8000]);
    assert.deepEqual(ex?.main.grpcProbe, { port: 8000, service: '' });
    assert.ok(
      plan.pods.filter((p) => p !== ex).every((p) => p.main.publish.length === 0 && p.main.grpcProbe?.port === 9000),
    );
  });

  it('ConfigMaps become read-only files at their mount path; ../shared is mounted where the graph reads it', () => {
    const plan = planGraph(objects, { ...opts, shared: '/data/shared' });
    const file = '/tmp/ig-run/configmap-imagenet-mobilenet-manifest/graph.yaml';
    assert.equal(plan.files[file], readFileSync(mobilenet, 'utf8'));
    const top1 = plan.pods[0]?.main;
    assert.deepEqual(top1?.mounts, [
      {
        source: '/tmp/ig-run/configmap-imagenet-mobilenet-manifest',
        kind: 'bind',
        target: '/etc/infergraph',
        readOnly: true,
      },
      { source: '/data/shared', kind: 'bind', target: '/shared', readOnly: true },
    ]);
    assert.equal(top1?.env.INFERGRAPH_SHARED, '/shared');
    const noShared = planGraph(parseObjects(contractObjects(path.join(REPO, 'graphs/test-ensemble.yaml'))), {
      ...opts,
      shared: '/data/shared',
    });
    assert.ok(noShared.pods.every((p) => p.main.env.INFERGRAPH_SHARED === undefined && p.main.mounts.length === 1));
  });

  it('replicas become containers <service>-<i> sharing the Service name as a network alias', () => {
    const file = path.join(dir, 'replicated.yaml');
    writeFileSync(
      file,
      'apiVersion: infergraph.dev/v1alpha1\nkind: InferenceGraph\nmetadata: {name: r}\nspec:\n  graph:\n' +
        '    {name: worker, type: MODEL, implementation: identity, runtime: {replicas: 3}}\n',
    );
    const plan = planGraph(parseObjects(contractObjects(file)), opts);
    const workers = plan.pods.filter((p) => p.service === 'r-worker');
    assert.deepEqual(
      workers.map((p) => p.main.name),
      ['r-worker-0', 'r-worker-1', 'r-worker-2'],
    );
    assert.ok(workers.every((p) => p.main.aliases.join() === 'r-worker' && p.main.hostname === p.main.name));
  });

  it('docker run arguments carry every setting, args last and untouched', () => {
    const plan = planGraph(objects, opts);
    const ex = plan.pods[3]?.main;
    assert.ok(ex);
    const a = dockerRunArgs(ex, plan.network, 'infergraph.docker-run=infergraph-run-test');
    assert.deepEqual(a.slice(0, 19), [
      'run',
      '-d',
      '--name',
      'imagenet-mobilenet-executor',
      '--hostname',
      'imagenet-mobilenet-executor',
      '--network',
      'infergraph-run-test',
      '--label',
      'infergraph.docker-run=infergraph-run-test',
      '--network-alias',
      'imagenet-mobilenet-executor',
      '--user',
      '10001:10001',
      '--read-only',
      '--security-opt',
      'no-new-privileges',
      '--cap-drop',
      'ALL',
    ]);
    assert.ok(a.includes('127.0.0.1::8000'));
    assert.deepEqual(a.slice(a.indexOf('infergraph:dev')), ['infergraph:dev', ...ex.args]);
  });

  it('pod fields with a docker equivalent: command, env from the pod, resources, init containers, emptyDir', () => {
    const d = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'g-m', namespace: 'prod' },
      spec: {
        replicas: 1,
        selector: {},
        template: {
          metadata: { labels: { a: 'b' } },
          spec: {
            initContainers: [
              {
                name: 'models',
                image: 'x',
                args: ['models', 'generate', '--dir', '/models'],
                volumeMounts: [{ name: 'models', mountPath: '/models' }],
              },
            ],
            containers: [
              {
                name: 'c',
                image: 'x',
                command: ['node', '/app/main.js'],
                args: ['node'],
                env: [
                  { name: 'A', value: 1 },
                  { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                ],
                resources: { limits: { cpu: '500m', memory: '512Mi' } },
                volumeMounts: [{ name: 'models', mountPath: '/app/models/generated', readOnly: true }],
              },
            ],
            volumes: [
              { name: 'models', emptyDir: {} },
              { name: 'secret', secret: { secretName: 's' } },
            ],
          },
        },
      },
    };
    const s = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'g-m' },
      spec: { selector: { a: 'b' }, ports: [{ port: 9000 }] },
    };
    const np = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'g' } };
    const plan = planGraph(parseObjects([d, s, np].map((o) => stringify(o)).join('---\n')), opts);
    const pod = plan.pods[0];
    assert.ok(pod);
    assert.deepEqual(pod.volumes, ['infergraph-run-test-g-m-models']);
    assert.deepEqual(pod.init[0]?.args, ['models', 'generate', '--dir', '/models']);
    assert.deepEqual(pod.init[0]?.mounts, [
      { source: 'infergraph-run-test-g-m-models', kind: 'volume', target: '/models', readOnly: false },
    ]);
    assert.equal(pod.main.entrypoint, 'node');
    assert.deepEqual(pod.main.args, ['/app/main.js', 'node']);
    assert.deepEqual(pod.main.env, { A: '1', POD: 'g-m', NS: 'prod' });
    assert.equal(pod.main.cpus, 0.5);
    assert.equal(pod.main.memoryBytes, 512 * 2 ** 20);
    assert.equal(pod.main.mounts[0]?.readOnly, true);
    assert.deepEqual(plan.notes, [
      'NetworkPolicy g: no docker equivalent, left out',
      'Deployment g-m: volume secret (secret) has no docker equivalent here',
    ]);
  });

  it("emptyDirs get what the kubelet gives them (0777, fsGroup's group) before init containers; kept images stay", () => {
    const d = {
      kind: 'Deployment',
      metadata: { name: 'g-m' },
      spec: {
        template: {
          metadata: { labels: { a: 'b' } },
          spec: {
            securityContext: { runAsUser: 10001, fsGroup: 10001 },
            initContainers: [
              { name: 'i', image: 'seldonio/rclone-storage-initializer:1.17.1', args: ['s3://m', '/mnt/models'] },
            ],
            containers: [{ name: 'm', image: 'user/model:1' }],
            volumes: [
              { name: 'a', emptyDir: {} },
              { name: 'b', emptyDir: {} },
            ],
          },
        },
      },
    };
    const plan = planGraph(parseObjects(stringify(d)), { ...opts, keepImages: ['user/model:1'] });
    const pod = plan.pods[0]!;
    assert.equal(pod.main.image, 'user/model:1', 'a kept image runs as it is');
    assert.equal(pod.init[0]?.image, 'infergraph:dev', 'other images are replaced by --image');
    const prep = pod.prepare!;
    assert.equal(prep.user, '0:0');
    assert.deepEqual(prep.args, [
      '-c',
      'chmod 0777 /volumes/0 /volumes/1 && chgrp 10001 /volumes/0 /volumes/1 && chmod g+s /volumes/0 /volumes/1',
    ]);
    assert.deepEqual(
      prep.mounts.map((m) => [m.source, m.target]),
      [
        ['infergraph-run-test-g-m-a', '/volumes/0'],
        ['infergraph-run-test-g-m-b', '/volumes/1'],
      ],
    );
    const noVolumes = planGraph(
      parseObjects(
        stringify({
          ...d,
          spec: { template: { ...d.spec.template, spec: { containers: [{ name: 'm', image: 'x' }] } } },
        }),
      ),
      opts,
    );
    assert.equal(noVolumes.pods[0]?.prepare, undefined);
  });

  it("publishes the executor Service's port, a named targetPort resolved against the container's ports", () => {
    const labels = { role: 'executor' };
    const container = { name: 'c', image: 'x', args: ['executor'], ports: [{ name: 'grpc', containerPort: 8000 }] };
    const tmpl = { metadata: { labels }, spec: { containers: [container] } };
    const dep = { kind: 'Deployment', metadata: { name: 'g-executor' }, spec: { template: tmpl } };
    const svc = {
      kind: 'Service',
      metadata: { name: 'g-executor' },
      spec: { selector: labels, ports: [{ port: 80, targetPort: 'grpc' }] },
    };
    const plan = planGraph(parseObjects([dep, svc].map((o) => stringify(o)).join('---\n')), opts);
    assert.deepEqual(plan.pods[0]?.main.publish, [8000]);
  });

  it('rejects what it cannot run, saying why', () => {
    assert.throws(
      () => planGraph(parseObjects('kind: Service\nmetadata: {name: s}\n'), opts),
      /no Deployment among the objects/,
    );
    const two = {
      kind: 'Deployment',
      metadata: { name: 'd' },
      spec: { template: { spec: { containers: [{ name: 'a' }, { name: 'b' }] } } },
    };
    assert.throws(
      () => planGraph(parseObjects(stringify(two)), opts),
      /Deployment d: docker-run runs pods of exactly one container, got 2/,
    );
    const cm = {
      kind: 'Deployment',
      metadata: { name: 'd' },
      spec: {
        template: { spec: { containers: [{ name: 'a' }], volumes: [{ name: 'v', configMap: { name: 'nope' } }] } },
      },
    };
    assert.throws(
      () => planGraph(parseObjects(stringify(cm)), opts),
      /volume v needs ConfigMap nope, not among the objects/,
    );
    assert.throws(() => parseObjects('just: text\n'), /not a Kubernetes object/);
    assert.throws(() => cpuCores('lots'), /cannot read CPU quantity 'lots'/);
    assert.equal(cpuCores(2), 2);
    assert.equal(memoryBytes('1G'), 1e9);
    assert.throws(() => memoryBytes('1 GB'), /cannot read memory quantity/);
  });
});
