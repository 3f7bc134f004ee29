/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument -- reply bodies are read as JSON */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { SeldonClient } from '../../src/client/seldon-client';
import { Code, type InferError } from '../../src/errors';
import { fromNumbers, toNumbers } from '../../src/tensor/tensor';
import { upGraph, type RunningGraph } from '../helpers/graph-process';

/**
 * A SeldonDeployment whose units are served by Seldon-protocol model containers — here the stand-in for Seldon's
 * Python wrapper (test/helpers/seldon-wrapper-standin.ts), one real process per unit, configured only through Seldon's
 * environment contract — run by `infergraph up` (real executor process) with each unit's address given as Seldon's
 * endpoint.service_host/service_port. Over Seldon's REST node API (transport rest, Seldon's default) and over gRPC
 * (transport grpc): every node method (route, aggregate, transform-input, predict), and the container's failures
 * reported with their status and message while the graph keeps serving.
 */

const STANDIN = path.resolve(__dirname, '../helpers/seldon-wrapper-standin.js');

interface Standin {
  proc: ChildProcess;
  http: number;
  grpc: number;
  stop(): Promise<void>;
}

async function startStandin(
  unit: string,
  parameters: { name: string; value: string; type: string }[],
): Promise<Standin> {
  const proc = spawn(process.execPath, [STANDIN], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      STANDIN_HOST: '127.0.0.1',
      PREDICTIVE_UNIT_HTTP_SERVICE_PORT: '0',
      PREDICTIVE_UNIT_GRPC_SERVICE_PORT: '0',
      PREDICTIVE_UNIT_METRICS_SERVICE_PORT: '0',
      PREDICTIVE_UNIT_ID: unit,
      PREDICTOR_ID: 'main',
      SELDON_DEPLOYMENT_ID: 'standin',
      PREDICTIVE_UNIT_PARAMETERS: JSON.stringify(parameters),
    },
  });
  let err = '';
  proc.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout }).once('line', resolve);
    proc.once('exit', (c) => reject(new Error(`stand-in ${unit} exited (${c}): ${err}`)));
  });
  const ports = JSON.parse(line) as { http: number; grpc: number; unit: string; parameters: Record<string, unknown> };
  assert.equal(ports.unit, unit, 'the stand-in read PREDICTIVE_UNIT_ID');
  return {
    proc,
    http: ports.http,
    grpc: ports.grpc,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    },
  };
}

const param = (name: string, type: string, value: string) => ({ name, type, value });

/** r routes to child 1: t adds 10, then m multiplies by 2; child 0 (c averaging a and b) is there to be skipped. */
function sdep(transport: 'rest' | 'grpc', s: Record<string, Standin>): string {
  const ep = (u: string): string =>
    `endpoint: {service_host: 127.0.0.1, service_port: ${transport === 'rest' ? s[u]!.http : s[u]!.grpc}}`;
  return `apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: standin}
spec:
  transport: ${transport}
  predictors:
  - name: main
    graph:
      name: r
      type: ROUTER
      ${ep('r')}
      children:
      - name: c
        type: COMBINER
        ${ep('c')}
        children:
        - {name: a, type: MODEL, ${ep('m')}}
        - {name: b, type: MODEL, ${ep('m')}}
      - name: t
        type: TRANSFORMER
        ${ep('t')}
        children:
        - {name: m, type: MODEL, ${ep('m')}}
`;
}

/** Same shape, routed to the combiner: both children of c are m, so the average is m's answer. */
const toCombiner = (yaml: string, s: Record<string, Standin>, transport: 'rest' | 'grpc'): string =>
  yaml.replace(
    `service_port: ${transport === 'rest' ? s.r!.http : s.r!.grpc}`,
    `service_port: ${transport === 'rest' ? s.r0!.http : s.r0!.grpc}`,
  );

const post = async (url: string, body: unknown): Promise<{ status: number; json: any }> => {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
};

describe('model containers speaking Seldon’s node protocol (the Python wrapper stand-in)', () => {
  const standins: Record<string, Standin> = {};
  const dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-standin-'));
  before(async () => {
    const [r, r0, c, t, m] = await Promise.all([
      startStandin('r', [param('route', 'INT', '1')]),
      startStandin('r0', [param('route', 'INT', '0')]),
      startStandin('c', []),
      startStandin('t', [param('offset', 'FLOAT', '10')]),
      startStandin('m', [param('scale', 'FLOAT', '2')]),
    ]);
    Object.assign(standins, { r, r0, c, t, m });
  });
  after(async () => {
    await Promise.all(Object.values(standins).map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  for (const transport of ['rest', 'grpc'] as const) {
    describe(`transport ${transport}`, () => {
      let g: RunningGraph;
      let rest: string;
      let client: SeldonClient;
      before(async () => {
        const file = path.join(dir, `${transport}.yaml`);
        writeFileSync(file, sdep(transport, standins));
        g = await upGraph(file);
        const line = await g.waitFor(/^rest \S+ at http:\/\/\S+$/);
        rest = line.split(' ').pop() as string;
        client = new SeldonClient(g.address);
      });
      after(async () => {
        client?.close();
        await g?.stop();
      });

      it('walks router → transformer → model through the containers (REST front door, ndarray)', async () => {
        const { status, json } = await post(`${rest}/api/v1.0/predictions`, { data: { ndarray: [[1, 2, 3]] } });
        assert.equal(status, 200, JSON.stringify(json));
        assert.deepEqual(json.data.ndarray, [[22, 24, 26]], '(x + 10) * 2');
        assert.equal(json.meta.routing.r, 1, 'the router container chose child 1');
        // The model container's own tags: it read PREDICTIVE_UNIT_ID / PREDICTOR_ID / SELDON_DEPLOYMENT_ID, and
        // was reached over the deployment's transport.
        assert.equal(json.meta.tags.unit, 'm');
        assert.equal(json.meta.tags.predictor, 'main');
        assert.equal(json.meta.tags.deployment, 'standin');
        assert.equal(json.meta.tags.transport, transport);
      });

      it('answers a gRPC client too (tftensor float32 in: the containers get `tensor`)', async () => {
        const reply = await client.predict({ kind: 'tensor', tensor: fromNumbers('float32', [1, 2], [0.5, 1.5]) });
        assert.equal(reply.payload.kind, 'tensor');
        if (reply.payload.kind === 'tensor') assert.deepEqual(toNumbers(reply.payload.tensor), [21, 23]);
      });

      it("a model's bad-data refusal and its crash come back with a clear status, and the graph keeps serving", async () => {
        // t adds 10 first: -11 reaches m as -1 (SeldonMicroserviceException), -12 as -2 (an unhandled exception).
        const bad = await post(`${rest}/api/v1.0/predictions`, { data: { ndarray: [[-11, 0]] } });
        const crash = await post(`${rest}/api/v1.0/predictions`, { data: { ndarray: [[-12, 0]] } });
        if (transport === 'rest') {
          assert.equal(bad.status, 400, JSON.stringify(bad.json));
          assert.equal(bad.json.status.reason, 'INVALID_ARGUMENT');
          assert.match(
            bad.json.status.info,
            /node 'm' \(REST POST http:\/\/127\.0\.0\.1:\d+\/predict\): HTTP 400: bad input: the model refuses -1 \(MICROSERVICE_BAD_DATA\)/,
          );
          assert.equal(crash.status, 500, JSON.stringify(crash.json));
          assert.equal(crash.json.status.reason, 'INTERNAL');
          assert.match(
            crash.json.status.info,
            /node 'm' \(REST POST .*\/predict\): HTTP 500: 500 Internal Server Error/,
          );
        } else {
          // grpcio reports a servicer's exception as UNKNOWN with its message; the executor keeps both.
          assert.equal(bad.json.status.reason, 'UNKNOWN', JSON.stringify(bad.json));
          assert.match(
            bad.json.status.info,
            /node 'm' \(Model\/Predict\): Exception calling application: bad input: the model refuses -1/,
          );
          assert.equal(crash.json.status.reason, 'UNKNOWN');
          assert.match(crash.json.status.info, /node 'm' \(Model\/Predict\): Exception calling application: boom/);
        }
        const ok = await post(`${rest}/api/v1.0/predictions`, { data: { tensor: { shape: [1, 2], values: [0, 1] } } });
        assert.equal(ok.status, 200);
        assert.deepEqual(ok.json.data.tensor, { shape: [1, 2], values: [20, 22] }, 'tensor in, tensor out');
      });
    });
  }

  it('aggregate through a combiner container, over both transports', async () => {
    for (const transport of ['rest', 'grpc'] as const) {
      const file = path.join(dir, `combiner-${transport}.yaml`);
      writeFileSync(file, toCombiner(sdep(transport, standins), standins, transport));
      const g = await upGraph(file);
      try {
        const line = await g.waitFor(/^rest \S+ at http:\/\/\S+$/);
        const rest = line.split(' ').pop() as string;
        const { status, json } = await post(`${rest}/api/v1.0/predictions`, { data: { ndarray: [[1, 2]] } });
        assert.equal(status, 200, JSON.stringify(json));
        assert.deepEqual(json.data.ndarray, [[2, 4]], 'the mean of a and b, both m (x * 2)');
        assert.equal(json.meta.routing.r, 0);
      } finally {
        await g.stop();
      }
    }
  });

  it('a container that is gone: UNAVAILABLE naming the node, over REST', async () => {
    const lone = await startStandin('gone', [param('scale', 'FLOAT', '3')]);
    const file = path.join(dir, 'gone.yaml');
    writeFileSync(
      file,
      `apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: gone}
spec:
  predictors:
  - name: main
    graph: {name: gone, type: MODEL, endpoint: {service_host: 127.0.0.1, service_port: ${lone.http}}}
`,
    );
    const g = await upGraph(file);
    const client = new SeldonClient(g.address);
    try {
      const input = { kind: 'tensor' as const, tensor: fromNumbers('float64', [1, 1], [2]) };
      const r = await client.predict(input);
      if (r.payload.kind === 'tensor') assert.deepEqual(toNumbers(r.payload.tensor), [6]);
      await lone.stop();
      await assert.rejects(client.predict(input), (e: InferError) => {
        assert.equal(e.code, Code.UNAVAILABLE, e.message);
        assert.match(
          e.message,
          /node 'gone' \(REST POST http:\/\/127\.0\.0\.1:\d+\/predict\): node unreachable: ECONNREFUSED/,
        );
        return true;
      });
    } finally {
      client.close();
      await g.stop();
    }
  });
});
