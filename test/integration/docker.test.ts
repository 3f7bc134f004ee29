import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dockerRunArgs, parseObjects } from '../../k8s/docker-run/plan';
import { docker, LABEL_KEY, predict, renderManifest, stop, up, type RunningGraph } from '../../k8s/docker-run/run';
import { SeldonClient } from '../../src/client/seldon-client';
import { type InferError } from '../../src/errors';
import { MAX_CONNECTION_AGE_MS } from '../../src/rpc/server';
import { fromNumbers, toNumbers } from '../../src/tensor/tensor';
import { contractObjects } from '../helpers/contract-objects';
import { buildStandinImage, DOCKER_BIN, dockerSkipReason } from '../helpers/docker-gate';
import { CLI, REPO, SHARED } from '../helpers/graph-process';

/**
 * The image for real: k8s/build-image.sh builds it, then k8s/docker-run runs graphs as containers exactly as the
 * rendered pods describe them. Minutes, root and a Docker engine: opt-in with INFERGRAPH_DOCKER_TEST=1, skipped
 * (with the reason) otherwise.
 */

const IMAGE = process.env.IMAGE ?? 'infergraph:dev';
const d = docker(DOCKER_BIN);

const hasRender = (): boolean =>
  / render /.test(spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' }).stdout);

/** render's objects where this build has it, else the same objects from the agreed contract. */
const objectsFor = (manifest: string): string => (hasRender() ? renderManifest(manifest) : contractObjects(manifest));

const labelled = (g: RunningGraph): string[] =>
  d
    .run(['ps', '-aq', '--filter', `label=${LABEL_KEY}=${g.plan.runId}`])
    .out.split('\n')
    .filter(Boolean);

describe('container image: graphs as docker containers', { skip: dockerSkipReason() }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-docker-'));
  const running: RunningGraph[] = [];
  before(() => {
    const r = spawnSync('bash', [path.join(REPO, 'k8s/build-image.sh')], {
      encoding: 'utf8',
      env: { ...process.env, IMAGE },
      timeout: 20 * 60_000,
    });
    assert.equal(r.status, 0, `k8s/build-image.sh failed:\n${r.stderr.slice(-3000)}`);
  });
  after(() => {
    for (const g of running) stop(d, g);
    rmSync(dir, { recursive: true, force: true });
  });

  it("the image's jpeg-input decodes with TurboJPEG (libturbojpeg0 installed, koffi's binary for this CPU kept)", () => {
    const script =
      "const t = require('/app/dist/src/components/builtin/turbo-jpeg.js').turboJpegStatus();" +
      'console.log(JSON.stringify(t));';
    const r = d.run(['run', '--rm', '--entrypoint', 'node', IMAGE, '-e', script]);
    const status = JSON.parse(r.out.trim()) as { available: boolean; reason?: string };
    assert.equal(status.available, true, `TurboJPEG unavailable in the image: ${status.reason}`);
  });

  it('runs the MobileNetV2 graph, one container per rendered pod, and answers "tench"', async (t) => {
    const tench = path.join(SHARED, 'imagenet/dev/n01440764_tench.JPEG');
    if (!existsSync(tench) || !existsSync(path.join(SHARED, 'models/mobilenetv2-12-int8.onnx'))) {
      return t.skip(`needs ${SHARED}/imagenet and models/mobilenetv2-12-int8.onnx`);
    }
    t.diagnostic(hasRender() ? 'objects from infergraph render' : 'no render in this build: objects from the contract');
    const yaml = objectsFor(path.join(REPO, 'graphs/imagenet-mobilenet.yaml'));
    const g = await up(d, yaml, { image: IMAGE, shared: SHARED, log: () => {} });
    running.push(g);
    // Each container is named after its pod's Service and runs exactly the pod's args.
    const objects = parseObjects(yaml);
    const services = objects.filter((o) => o.kind === 'Service').map((o) => o.name);
    assert.deepEqual(g.plan.pods.map((p) => p.main.name).sort(), services.sort());
    for (const pod of g.plan.pods) {
      const dep = objects.find((o) => o.kind === 'Deployment' && o.name === pod.deployment)?.raw as {
        spec: { template: { spec: { containers: { args: string[] }[] } } };
      };
      const cmd = JSON.parse(d.run(['inspect', '--format', '{{json .Config.Cmd}}', pod.main.name]).out) as string[];
      assert.deepEqual(cmd, dep.spec.template.spec.containers[0]?.args, pod.main.name);
      const user = d.run(['inspect', '--format', '{{.Config.User}}', pod.main.name]).out.trim();
      assert.match(user, /^[1-9]\d*(:\d+)?$/, `${pod.main.name} runs as a non-root numeric uid`);
    }
    const address = Object.values(g.published['imagenet-mobilenet-executor'] ?? {})[0];
    assert.match(address ?? '', /^127\.0\.0\.1:\d+$/);
    const r = predict(address as string, tench);
    t.diagnostic(r.out.split('\n')[0] ?? '');
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^top-1: tench \(index 0, n01440764/m);
    stop(d, g);
    running.pop();
    assert.deepEqual(labelled(g), [], 'containers left after stop');
  });

  it('runs the documented ensemble example (k8s/examples/imagenet-ensemble.yaml) with its init containers', async (t) => {
    const tench = path.join(SHARED, 'imagenet/dev/n01440764_tench.JPEG');
    if (!existsSync(tench)) return t.skip(`needs ${SHARED}/imagenet/dev`);
    // The model pods generate their synthetic models into an emptyDir as uid 10001 with fsGroup 10001: the runner
    // must prepare the volume as the kubelet does (before that fix: EACCES in the init container).
    const yaml = objectsFor(path.join(REPO, 'k8s/examples/imagenet-ensemble.yaml'));
    const g = await up(d, yaml, { image: IMAGE, readyTimeoutMs: 600_000, log: (l) => t.diagnostic(l) });
    running.push(g);
    const models = g.plan.pods.filter((p) => p.init.length);
    assert.ok(models.length >= 2, 'the model pods have init containers');
    for (const p of models) assert.ok(p.prepare, `${p.main.name}: its emptyDir is prepared before the init containers`);
    const address = Object.values(g.published['imagenet-ensemble-executor'] ?? {})[0] as string;
    const r = predict(address, tench);
    t.diagnostic(r.out.split('\n')[0] ?? '');
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^top-1: .+ \(index \d+, score 0\.\d+\)/m, 'the synthetic ensemble answers a class');
    assert.match(r.out, /synthetic weights/, 'and says its weights are synthetic');
    stop(d, g);
    running.pop();
  });

  it("a SeldonDeployment whose model is a user's container (Seldon's env contract, Seldon's REST node API)", async (t) => {
    const standinImage = buildStandinImage(IMAGE);
    const file = path.join(dir, 'sdep.yaml');
    writeFileSync(
      file,
      `apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: sd}
spec:
  predictors:
  - name: main
    componentSpecs:
    - spec:
        containers:
        - {name: model, image: ${standinImage}}
    graph:
      name: model
      type: MODEL
      parameters: [{name: scale, type: FLOAT, value: '2'}]
`,
    );
    const g = await up(d, objectsFor(file), { image: IMAGE, keepImages: [standinImage], log: (l) => t.diagnostic(l) });
    running.push(g);
    const model = g.plan.pods.find((p) => p.main.name === 'sd-main-model');
    assert.equal(model?.main.image, standinImage, 'the user image runs as it is');
    assert.equal(model?.main.env.PREDICTIVE_UNIT_SERVICE_PORT, '9000');
    const address = Object.values(g.published['sd-main-executor'] ?? {})[0] as string;
    const client = new SeldonClient(address);
    try {
      const reply = await client.predict({ kind: 'tensor', tensor: fromNumbers('float32', [1, 3], [1, 2, 3]) });
      assert.equal(reply.payload.kind, 'tensor');
      if (reply.payload.kind === 'tensor') assert.deepEqual(toNumbers(reply.payload.tensor), [2, 4, 6]);
      assert.equal(reply.meta.tags.unit, 'model', 'the container read PREDICTIVE_UNIT_ID');
      assert.equal(reply.meta.tags.deployment, 'sd', 'and SELDON_DEPLOYMENT_ID');
      assert.equal(reply.meta.tags.transport, 'rest', "the executor called it over Seldon's REST node API");
      await assert.rejects(
        client.predict({ kind: 'tensor', tensor: fromNumbers('float32', [1, 1], [-1]) }),
        (e: InferError) => /HTTP 400: bad input: the model refuses -1 \(MICROSERVICE_BAD_DATA\)/.test(e.message),
      );
    } finally {
      client.close();
    }
    stop(d, g);
    running.pop();
  });

  it('balances over replica containers behind one DNS name (dns:/// + round_robin), and survives a kill', async (t) => {
    const file = path.join(dir, 'replicated.yaml');
    writeFileSync(
      file,
      `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: dr}
spec:
  graph:
    name: front
    type: TRANSFORMER
    implementation: identity
    children:
      - {name: worker, type: MODEL, implementation: identity, parameters: {hostTag: host}, runtime: {replicas: 3}}
`,
    );
    const g = await up(d, objectsFor(file), { image: IMAGE, log: () => {} });
    running.push(g);
    const address = Object.values(g.published['dr-executor'] ?? {})[0] as string;
    const client = new SeldonClient(address);
    const input = { kind: 'tensor' as const, tensor: fromNumbers('float32', [1, 2], [1, 2]) };
    const state = { inFlight: 0 };
    const calls = async (n: number, conc = 6): Promise<{ hosts: Map<string, number>; failed: InferError[] }> => {
      const hosts = new Map<string, number>();
      const failed: InferError[] = [];
      let sent = 0;
      const loop = async (): Promise<void> => {
        while (sent++ < n) {
          state.inFlight++;
          try {
            const tag = (await client.predict(input, { timeoutMs: 5000 })).meta.tags.host;
            const h = typeof tag === 'string' ? tag : JSON.stringify(tag);
            hosts.set(h, (hosts.get(h) ?? 0) + 1);
          } catch (err) {
            failed.push(err as InferError);
          } finally {
            state.inFlight--;
          }
        }
      };
      await Promise.all(Array.from({ length: conc }, loop));
      return { hosts, failed };
    };
    const even = (m: Map<string, number>, names: string[], what: string): void => {
      const total = [...m.values()].reduce((a, b) => a + b, 0);
      const line = `${what}: ${names.map((n) => `${n} ${m.get(n) ?? 0}`).join(', ')} of ${total}`;
      t.diagnostic(line);
      assert.deepEqual([...m.keys()].sort(), names, line);
      for (const n of names)
        assert.ok(Math.abs((m.get(n) ?? 0) - total / names.length) <= 0.2 * (total / names.length), line);
    };
    try {
      await calls(30);
      const steady = await calls(600);
      assert.equal(steady.failed.length, 0, steady.failed[0]?.message);
      even(steady.hosts, ['dr-worker-0', 'dr-worker-1', 'dr-worker-2'], '600 calls over 3 replica containers');
      // Scale-up while every connection is healthy: the new replica behind the same name gets calls once the
      // connections age out (MAX_CONNECTION_AGE_MS) and the name is resolved again.
      const pod = g.plan.pods.find((p) => p.main.name === 'dr-worker-0');
      assert.ok(pod);
      const added = { ...pod.main, name: 'dr-worker-3', hostname: 'dr-worker-3' };
      d.run(dockerRunArgs(added, g.plan.network, `${LABEL_KEY}=${g.plan.runId}`));
      const t0 = Date.now();
      const limit = 2 * MAX_CONNECTION_AGE_MS + 30_000;
      let seen = false;
      while (!seen && Date.now() - t0 < limit) {
        seen = (await calls(30, 3)).hosts.has('dr-worker-3');
        if (!seen) await new Promise((r) => setTimeout(r, 1000));
      }
      t.diagnostic(
        `replica added under the same name: ${seen ? `first call after ${Date.now() - t0} ms` : 'never called'}`,
      );
      assert.ok(seen, `dr-worker-3 got no call within ${limit} ms`);
      const scaled = await calls(400);
      assert.equal(scaled.failed.length, 0, scaled.failed[0]?.message);
      even(scaled.hosts, ['dr-worker-0', 'dr-worker-1', 'dr-worker-2', 'dr-worker-3'], 'after the scale-up, 400 calls');

      const during = calls(600);
      while (state.inFlight === 0) await new Promise((r) => setTimeout(r, 1));
      await new Promise((r) => setTimeout(r, 200));
      const inFlight = state.inFlight;
      d.run(['kill', 'dr-worker-1']);
      const res = await during;
      t.diagnostic(`docker kill dr-worker-1 with ${inFlight} calls in flight: ${res.failed.length} failed`);
      assert.ok(res.failed.length <= inFlight, res.failed.map((e) => e.message).join('; '));
      const after = await calls(400);
      assert.equal(after.failed.length, 0, after.failed[0]?.message);
      even(after.hosts, ['dr-worker-0', 'dr-worker-2', 'dr-worker-3'], 'after the kill, 400 calls');
    } finally {
      client.close();
    }
  });
});
