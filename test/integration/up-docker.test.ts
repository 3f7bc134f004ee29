import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SeldonClient } from '../../src/client/seldon-client';
import { LABEL } from '../../src/runner/docker-plan';
import { fromNumbers, toNumbers } from '../../src/tensor/tensor';
import { buildStandinImage, DOCKER_BIN, dockerRun, dockerSkipReason, ensureDockerd } from '../helpers/docker-gate';
import { CLI, REPO, upGraph, type RunningGraph } from '../helpers/graph-process';

/**
 * `infergraph up` (the real CLI) of a SeldonDeployment whose model unit is a container image — the Seldon Python
 * wrapper stand-in as an image — over both transports: up starts the container with docker, the executor calls it
 * (Seldon's REST node API or gRPC), the answer shows the model read Seldon's environment, a killed container is
 * restarted, and after SIGTERM no container is left. Needs a Docker engine: opt-in with INFERGRAPH_DOCKER_TEST=1,
 * as test/integration/docker.test.ts. The infergraph image (the stand-in's Node runtime) is built only when absent.
 */

const IMAGE = process.env.IMAGE ?? 'infergraph:dev';

function sdep(name: string, transport: 'rest' | 'grpc', image: string, command?: string): string {
  return `apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: ${name}}
spec:
  transport: ${transport}
  predictors:
  - name: main
    componentSpecs:
    - spec:
        containers:
        - name: model
          image: ${image}
          env: [{name: STANDIN_NOTE, value: mine}]${command ? `\n          command: [sh, -c, '${command}']` : ''}
    graph:
      name: model
      type: MODEL
      parameters: [{name: scale, type: FLOAT, value: '3'}]
`;
}

/** Every container of graph `graph` that up labelled, running or not. */
const labelled = (graph: string): string[] =>
  dockerRun(['ps', '-aq', '--filter', `label=${LABEL.graph}=${graph}`])
    .out.split('\n')
    .filter(Boolean);

const env = (container: string): Map<string, string> =>
  new Map(
    (JSON.parse(dockerRun(['inspect', '--format', '{{json .Config.Env}}', container]).out) as string[]).map(
      (e) => e.split(/=(.*)/s).slice(0, 2) as [string, string],
    ),
  );

async function predictScaled(address: string, deadlineMs = 0): Promise<Awaited<ReturnType<SeldonClient['predict']>>> {
  const client = new SeldonClient(address);
  const until = Date.now() + deadlineMs;
  try {
    for (;;) {
      try {
        return await client.predict({ kind: 'tensor', tensor: fromNumbers('float32', [1, 3], [1, 2, 3]) });
      } catch (err) {
        if (Date.now() > until) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    client.close();
  }
}

describe('infergraph up: container-image nodes run with docker', { skip: dockerSkipReason() }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-up-docker-'));
  const running: RunningGraph[] = [];
  let standin = '';
  before(() => {
    if (dockerRun(['info']).code !== 0) ensureDockerd();
    if (dockerRun(['image', 'inspect', IMAGE]).code !== 0) {
      const r = spawnSync('bash', [path.join(REPO, 'k8s/build-image.sh')], {
        encoding: 'utf8',
        env: { ...process.env, IMAGE },
        timeout: 20 * 60_000,
      });
      assert.equal(r.status, 0, `k8s/build-image.sh failed:\n${r.stderr.slice(-3000)}`);
    }
    standin = buildStandinImage(IMAGE);
  });
  after(async () => {
    for (const g of running) await g.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  for (const transport of ['grpc', 'rest'] as const) {
    it(`transport ${transport}: up starts the image, the executor calls it, SIGTERM removes it`, async (t) => {
      const name = `updock-${transport}`;
      const graph = `${name}-main`;
      const container = `infergraph-${graph}-model`;
      // What a SIGKILLed up would leave: a container of this graph whose owner is gone; up removes it first.
      const dead = spawnSync('true').pid;
      dockerRun(['rm', '-f', container]);
      const labels = ['--label', `${LABEL.graph}=${graph}`, '--label', `${LABEL.pid}=${dead}`];
      const stale = dockerRun(['create', '--name', container, ...labels, standin]);
      assert.equal(stale.code, 0, stale.err);
      const file = path.join(dir, `${name}.yaml`);
      writeFileSync(file, sdep(name, transport, standin));
      const t0 = Date.now();
      const g = await upGraph(file, [], { DOCKER: DOCKER_BIN }, 180_000);
      running.push(g);
      t.diagnostic(`up ready in ${Date.now() - t0} ms`);
      const line = await g.waitFor(/^container model /);
      const address = new RegExp(`^container model ${container} \\(${standin}\\) at (\\S+)$`).exec(line)?.[1];
      assert.match(address ?? '', transport === 'rest' ? /^http:\/\/127\.0\.0\.1:\d+$/ : /^127\.0\.0\.1:\d+$/, line);
      assert.equal(labelled(graph).length, 1, 'the stale container was replaced by this run');

      // Seldon's environment contract, as the Kubernetes rendering writes it (the same function makes both).
      const e = env(container);
      assert.equal(e.get('PREDICTIVE_UNIT_SERVICE_PORT'), transport === 'grpc' ? '9500' : '9000');
      assert.equal(e.get('PREDICTIVE_UNIT_PARAMETERS'), '[{"name":"scale","value":"3","type":"FLOAT"}]');
      assert.equal(e.get('PREDICTIVE_UNIT_IMAGE'), standin);
      assert.equal(e.get('SELDON_EXECUTOR_ENABLED'), 'true');
      assert.equal(e.get('STANDIN_NOTE'), 'mine', "the container's own env");
      const reply = await predictScaled(g.address);
      assert.equal(reply.payload.kind, 'tensor');
      if (reply.payload.kind === 'tensor') assert.deepEqual(toNumbers(reply.payload.tensor), [3, 6, 9]);
      assert.deepEqual(
        reply.meta.tags,
        { unit: 'model', predictor: 'main', deployment: name, transport },
        'the model read PREDICTIVE_UNIT_ID, PREDICTOR_ID, SELDON_DEPLOYMENT_ID; the executor used the transport',
      );

      if (transport === 'rest') {
        // A container that dies is restarted like a crashed node process, on the same published ports.
        const killed = Date.now();
        dockerRun(['kill', container]);
        await g.waitFor(/container exited; restarting with backoff/, 10_000);
        const again = await predictScaled(g.address, 30_000);
        t.diagnostic(`answering again ${Date.now() - killed} ms after docker kill`);
        assert.equal(again.meta.tags.unit, 'model');
      }

      await g.stop();
      running.pop();
      assert.equal(g.runner.exitCode, 0, g.stderr.slice(-10).join('\n'));
      assert.deepEqual(labelled(graph), [], 'no container left after SIGTERM');
    });
  }

  it('a container that exits at start-up, and an image that cannot be pulled: named, with its log', () => {
    const run = (file: string): { code: number | null; err: string } => {
      const r = spawnSync(process.execPath, [CLI, 'up', file, '--port', '0'], {
        encoding: 'utf8',
        env: { ...process.env, DOCKER: DOCKER_BIN },
        timeout: 120_000,
      });
      return { code: r.status, err: r.stderr };
    };
    const crash = path.join(dir, 'crash.yaml');
    writeFileSync(crash, sdep('updock-crash', 'rest', standin, 'echo loading; echo no model here >&2; exit 3'));
    const c = run(crash);
    assert.equal(c.code, 1, c.err);
    assert.match(
      c.err,
      new RegExp(
        `node 'model' \\(image ${standin}, container infergraph-updock-crash-main-model\\) exited during start-up \\(code 3\\); docker logs --tail 20 infergraph-updock-crash-main-model:\\nloading\\nno model here`,
      ),
    );
    assert.deepEqual(labelled('updock-crash-main'), [], 'the failed container is removed');

    const missing = path.join(dir, 'missing.yaml');
    writeFileSync(missing, sdep('updock-missing', 'rest', 'local/no-such-image:0'));
    const m = run(missing);
    assert.equal(m.code, 1, m.err);
    assert.match(m.err, /image local\/no-such-image:0 is not here: docker pull local\/no-such-image:0/);
    assert.match(m.err, /cannot pull image local\/no-such-image:0 of node model: .+/);
  });
});
