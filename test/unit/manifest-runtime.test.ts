import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadComponentDefinition } from '../../src/components/registry';
import { ConfigError } from '../../src/errors';
import { loadManifestFile, parseManifest } from '../../src/graph/manifest';
import { loadNodeComponent } from '../../src/node/component-loader';
import { REPO } from '../helpers/graph-process';
import { manifestProblems as problems } from '../helpers/spec';

/** runtime.replicas and the Kubernetes pod fields; user modules are not loaded by validation. */

const node = (runtime: string, spec = ''): string => `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: g}
spec:
${spec}  graph:
    name: m
    type: MODEL
    implementation: identity
    runtime: ${runtime}
`;

describe('manifest: replicas and pod fields', () => {
  it('defaults: one replica, no pod settings', () => {
    const g = parseManifest(node('{}'), '/tmp');
    assert.equal(g.graph.runtime.replicas, 1);
    assert.equal(g.graph.runtime.volumes, undefined);
    assert.equal(g.executor, undefined);
  });

  it('reads replicas, resources, env, volumes, mounts, image and each model source', () => {
    const g = parseManifest(
      node(
        `
      replicas: 3
      image: reg/img:1
      resources: {requests: {cpu: 500m, memory: 1Gi}, limits: {cpu: 2}}
      env: {A: 1, B: true}
      volumes: [{name: w, persistentVolumeClaim: {claimName: pvc}}]
      volumeMounts: [{name: w, mountPath: /w, readOnly: true}]
      models: {source: volume, volume: w}`,
        '  executor: {replicas: 2, env: {X: y}}\n',
      ),
      '/tmp',
    );
    const r = g.graph.runtime;
    assert.equal(r.replicas, 3);
    assert.equal(r.image, 'reg/img:1');
    assert.deepEqual(r.resources, { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '2' } });
    assert.deepEqual(r.env, { A: '1', B: 'true' });
    assert.deepEqual(r.volumes, [{ name: 'w', persistentVolumeClaim: { claimName: 'pvc' } }]);
    assert.deepEqual(r.volumeMounts, [{ name: 'w', mountPath: '/w', readOnly: true }]);
    assert.deepEqual(r.models, { source: 'volume', mountPath: '/models', volume: 'w' });
    assert.deepEqual(g.executor, { replicas: 2, env: { X: 'y' } });
    assert.deepEqual(parseManifest(node('{models: {source: synthetic}}'), '/tmp').graph.runtime.models, {
      source: 'synthetic',
      mountPath: '/models',
    });
    assert.deepEqual(
      parseManifest(node('{models: {source: image, image: "m:1", path: /data}}'), '/tmp').graph.runtime.models,
      {
        source: 'image',
        mountPath: '/models',
        image: 'm:1',
        path: '/data',
      },
    );
  });

  it('names the path and the problem for each bad pod field', () => {
    const at = 'm.yaml: spec.graph (m).runtime';
    assert.deepEqual(problems(node('{replicas: 0}')), [`${at}.replicas: must be an integer >= 1, got 0`]);
    assert.deepEqual(problems(node('{resources: {limits: {memory: lots, gpu: 1}}}')), [
      `${at}.resources.limits: unknown field 'gpu' (allowed: cpu, memory)`,
      `${at}.resources.limits.memory: must be a Kubernetes quantity (e.g. 500m, 2, 1.5Gi), got "lots"`,
    ]);
    assert.deepEqual(problems(node('{volumes: [{emptyDir: {}}, {name: b, emptyDir: {}, hostPath: {path: /x}}]}')), [
      `${at}.volumes[0]: missing required field 'name'`,
      `${at}.volumes[1]: needs a name and exactly one Kubernetes volume source (e.g. persistentVolumeClaim)`,
    ]);
    assert.deepEqual(problems(node('{volumeMounts: [{name: nope, mountPath: rel}]}')), [
      `${at}.volumeMounts[0].mountPath: must be an absolute path, got "rel"`,
      `${at}.volumeMounts[0]: no volume named 'nope' in runtime.volumes`,
    ]);
    assert.deepEqual(problems(node('{models: {source: volume, volume: nope}}')), [
      `${at}.models: no volume named 'nope' in runtime.volumes`,
    ]);
    assert.deepEqual(problems(node('{models: {source: image}}')), [
      `${at}.models: source image needs 'image': the model image to copy from`,
    ]);
    assert.deepEqual(problems(node('{models: {source: synthetic, image: x}}')), [
      `${at}.models: 'image' does not apply to source synthetic`,
    ]);
    assert.deepEqual(problems(node('{models: {source: s3}}')), [
      `${at}.models.source: must be one of synthetic, volume, image, got "s3"`,
    ]);
    assert.deepEqual(problems(node('{}', '  executor: {replicas: 2, volumes: []}\n')), [
      "m.yaml: spec.executor: unknown field 'volumes' (allowed: replicas, image, resources, env)",
    ]);
  });
});

describe('manifest: user component modules are not loaded by validation', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ig-module-'));
  const marker = path.join(dir, 'loaded');
  writeFileSync(
    path.join(dir, 'comp.js'),
    `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x');
module.exports = { name: 'c', description: 'd', types: ['MODEL'], parameters: { k: { type: 'integer', required: true, description: 'k' } },
  create: () => ({ predict: (x) => x }) };`,
  );
  const file = path.join(dir, 'g.yaml');
  writeFileSync(
    file,
    node('{}').replace('implementation: identity', 'implementation: ./comp.js\n    parameters: {k: "x", extra: 1}'),
  );
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('validate checks the file exists, runs none of its code, and leaves its parameters to the node process', () => {
    const g = loadManifestFile(file);
    assert.equal(existsSync(marker), false, 'validation ran user code');
    assert.deepEqual(g.graph.parameters, { k: 'x', extra: 1 });
    assert.throws(
      () => loadNodeComponent(g.graph, g.baseDir),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.deepEqual(e.problems, [
          "spec.graph (m): unknown parameter 'extra' (known: k)",
          'spec.graph (m).parameters.k: must be an integer, got "x"',
        ]);
        return true;
      },
    );
    assert.equal(existsSync(marker), true, 'the node process loads it');
  });

  it('--load-modules checks the module during validation', () => {
    rmSync(marker, { force: true });
    delete require.cache[path.join(dir, 'comp.js')];
    assert.throws(
      () => loadManifestFile(file, { loadModules: true, loadModule: loadComponentDefinition }),
      /unknown parameter 'extra'/,
    );
    assert.equal(existsSync(marker), true);
  });

  it('infergraph validate says which modules it did not load', () => {
    rmSync(marker, { force: true });
    const ok = path.join(dir, 'ok.yaml');
    writeFileSync(
      ok,
      node('{replicas: 2}').replace('implementation: identity', 'implementation: ./comp.js\n    parameters: {k: 1}'),
    );
    const out = execFileSync(process.execPath, [path.join(REPO, 'dist/src/cli/main.js'), 'validate', ok], {
      encoding: 'utf8',
    });
    assert.match(out, /m MODEL .*comp\.js x2/);
    assert.match(out, /not loaded: user module of m/);
    assert.equal(existsSync(marker), false);
  });
});
