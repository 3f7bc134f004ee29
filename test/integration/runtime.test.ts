import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SeldonClient } from '../../src/client/seldon-client';
import { Code, InferError } from '../../src/errors';
import { emptyMeta, type InferMessage, type Payload } from '../../src/message/message';
import { checkHealth } from '../../src/runner/health';
import { fromNumbers, toNumbers } from '../../src/tensor/tensor';
import { HOP_TRANSPORTS, type HopTransport } from '../../src/graph/spec';
import { alive, REPO, upGraph, type RunningGraph } from '../helpers/graph-process';
import { listServices } from '../helpers/reflection';
import { assertTestEnsembleMeta } from '../helpers/ensemble-meta';

const vec = (xs: number[]): Payload => ({ kind: 'tensor', tensor: fromNumbers('float32', [1, xs.length], xs) });
const vals = (p: Payload): number[] =>
  p.kind === 'tensor' ? toNumbers(p.tensor) : assert.fail(`expected a tensor, got ${p.kind}`);

async function rejects(p: Promise<unknown>): Promise<InferError> {
  const err = await p.then(
    () => assert.fail('expected the request to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof InferError, `expected InferError, got ${String(err)}`);
  return err;
}

/** Every test runs once per hop transport (executor → nodes): the same behaviour is asked of both. */
for (const hop of HOP_TRANSPORTS) runtimeSuites(hop);

function runtimeSuites(hop: HopTransport): void {
  describe(`5-node test ensemble as real processes (infergraph up, hops over ${hop})`, () => {
    let g: RunningGraph;
    let client: SeldonClient;
    before(async () => {
      g = await upGraph(path.join(REPO, 'graphs/test-ensemble.yaml'), ['--hop-transport', hop]);
      client = new SeldonClient(g.address);
    });
    after(async () => {
      client?.close();
      await g?.stop();
    });

    it('answers through all five nodes: top1(mean(3·2x, 5·2x)) = 8x + 1', async () => {
      const reply = await client.predict(vec([1, 2, 3, 4]));
      assert.deepEqual(vals(reply.payload), [9, 17, 25, 33]);
      // scale adds a COUNTER per node: meta merged through every node, the combiner's branches included.
      assertTestEnsembleMeta(reply.meta);
    });

    it('runs each node and the executor in its own OS process', () => {
      const pids = [...g.procs.values()].map((p) => p.pid);
      assert.equal(g.procs.size, 6);
      assert.equal(new Set(pids).size, 6, 'pids are not distinct');
      assert.ok(!pids.includes(g.runner.pid as number));
      assert.ok(pids.every(alive));
    });

    it('every process reports SERVING on grpc.health.v1', async () => {
      for (const p of g.procs.values()) assert.equal(await checkHealth(p.address), 'SERVING', p.name);
    });

    const listening =
      hop === 'frames' ? 'every node also listens for frames, beside its gRPC socket' : 'no node listens for frames';
    it(listening, () => {
      for (const p of g.procs.values()) {
        if (p.role !== 'node') continue;
        if (hop === 'frames') assert.equal(p.framesAddress, `${p.address}.frames`, p.name);
        else assert.equal(p.framesAddress, undefined, p.name);
      }
      assert.ok(g.stdout.some((l) => l.includes(`hops over ${hop}`)));
    });

    it('server reflection lists the Seldon services of each node type', async () => {
      const model = await listServices((g.procs.get('model-a') as { address: string }).address);
      assert.ok(
        model.includes('seldon.protos.Model') &&
          model.includes('seldon.protos.Generic') &&
          model.includes('grpc.health.v1.Health'),
        model.join(),
      );
      const comb = await listServices((g.procs.get('ensemble') as { address: string }).address);
      assert.ok(comb.includes('seldon.protos.Combiner') && !comb.includes('seldon.protos.Model'), comb.join());
      const ex = await listServices(g.address);
      assert.ok(ex.includes('seldon.protos.Seldon'), ex.join());
    });

    it('GraphMetadata names the graph and its models', async () => {
      const md = await client.graphMetadata();
      assert.equal(md.name, 'test-ensemble');
      assert.deepEqual(Object.keys(md.models ?? {}).sort(), ['model-a', 'model-b', 'preprocess']);
    });

    it('a malformed tensor is INVALID_ARGUMENT naming the problem, and the graph keeps serving', async () => {
      const bad = {
        data: {
          names: [],
          tftensor: { dtype: 1, tensor_shape: { dim: [{ size: 1 }, { size: 4 }] }, tensor_content: Buffer.alloc(10) },
        },
      };
      const err = await rejects(client.raw('predict', bad));
      assert.equal(err.code, Code.INVALID_ARGUMENT);
      assert.match(err.message, /10 bytes is not a whole number of float32 elements/);
      const wrongCount = { data: { tensor: { shape: [2, 2], values: [1, 2, 3] } } };
      const err2 = await rejects(client.raw('predict', wrongCount));
      assert.equal(err2.code, Code.INVALID_ARGUMENT);
      assert.match(err2.message, /shape \[2,2\] needs 4 values, got 3/);
      const text = await rejects(client.predict({ kind: 'str', data: 'hello' }));
      assert.equal(text.code, Code.INVALID_ARGUMENT);
      assert.match(text.message, /preprocess: scale needs a numeric tensor, got strData/);
      assert.deepEqual(vals((await client.predict(vec([1]))).payload), [9]);
    });

    it('a request over the executor message limit is RESOURCE_EXHAUSTED naming the limit; still serving', async () => {
      // spec.maxMessageBytes defaults to 16 MiB: send 5M floats (20 MB).
      const big = new SeldonClient(g.address, { maxMessageBytes: 64 * 1024 * 1024 });
      try {
        const err = await rejects(
          big.predict({
            kind: 'tensor',
            tensor: { dtype: 'float32', shape: [1, 5_000_000], data: new Float32Array(5_000_000) },
          }),
        );
        assert.equal(err.code, Code.RESOURCE_EXHAUSTED);
        assert.match(err.message, /\(\d{8} vs 16777216\)/, 'the actual size and the limit');
      } finally {
        big.close();
      }
      assert.deepEqual(vals((await client.predict(vec([2]))).payload), [17]);
    });

    it('killing a node fails requests fast with UNAVAILABLE, and they succeed again after the restart', async () => {
      const victim = g.procs.get('model-b');
      assert.ok(victim);
      process.kill(victim.pid, 'SIGKILL');
      while (alive(victim.pid)) await new Promise((r) => setTimeout(r, 10));
      const t0 = performance.now();
      const err = await rejects(client.predict(vec([1])));
      const failMs = performance.now() - t0;
      assert.equal(err.code, Code.UNAVAILABLE);
      assert.match(err.message, /node 'model-b'/);
      assert.ok(failMs < 1000, `failing took ${failMs} ms`);
      await g.waitFor(/process exited; restarting with backoff/);
      const until = Date.now() + 20_000;
      let ok = false;
      while (!ok && Date.now() < until) {
        ok = await client.predict(vec([1])).then(
          (r) => vals(r.payload)[0] === 9,
          () => false,
        );
        if (!ok) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(ok, 'graph did not recover after the restart');
      const restarted = g.procs.get('model-b');
      assert.ok(restarted && restarted.pid !== victim.pid, 'no new model-b process');
    });
  });

  describe(`errors, deadlines and limits across real processes (hops over ${hop})`, () => {
    let dir: string;
    let g: RunningGraph;
    let client: SeldonClient;
    before(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-test-'));
      writeFileSync(
        path.join(dir, 'errors.yaml'),
        `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: errors}
spec:
  deadlineMs: 3000
  graph:
    name: pick
    type: ROUTER
    implementation: fixed-router
    parameters: {route: 0}
    children:
      - name: both
        type: COMBINER
        implementation: sum-combiner
        children:
          - {name: slow, type: MODEL, implementation: sleep, parameters: {ms: 2000}}
          - {name: broken, type: MODEL, implementation: fail, parameters: {code: 9, message: model is not warmed up, delayMs: 20}}
      - name: sleepy
        type: MODEL
        implementation: sleep
        parameters: {ms: 1500}
      - name: small
        type: MODEL
        implementation: identity
        runtime: {maxMessageBytes: 4096}
`,
      );
      g = await upGraph(path.join(dir, 'errors.yaml'), ['--hop-transport', hop]);
      client = new SeldonClient(g.address);
    });
    after(async () => {
      client?.close();
      await g?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    const routed = (route: number, xs: number[]): InferMessage => ({
      meta: { ...emptyMeta(), tags: { route } },
      payload: vec(xs),
    });

    it("a failing node's own status and message come back, and its slow sibling is cancelled", async () => {
      const t0 = performance.now();
      const err = await rejects(client.predict(routed(0, [1])));
      assert.equal(err.code, Code.FAILED_PRECONDITION);
      assert.match(err.message, /node 'broken' \(Model\/Predict\): broken: model is not warmed up/);
      assert.ok(performance.now() - t0 < 1500, 'the walk waited for the slow sibling');
    });

    it("the client's deadline reaches the node: DEADLINE_EXCEEDED well before the node's 1.5 s", async () => {
      const t0 = performance.now();
      const err = await rejects(client.predict(routed(1, [1]), { timeoutMs: 300 }));
      assert.equal(err.code, Code.DEADLINE_EXCEEDED);
      assert.ok(performance.now() - t0 < 1200);
    });

    it("the graph's default deadline applies when the client sends none", async () => {
      const ok = await client.predict(routed(1, [5]), { timeoutMs: 60_000 });
      assert.deepEqual(vals(ok.payload), [5]);
    });

    it('a node message limit gives RESOURCE_EXHAUSTED naming the limit; the node keeps serving', async () => {
      const err = await rejects(
        client.predict(
          routed(
            2,
            // Over the node's 4096 plus the hop envelope (src/protocol/hop-envelope.ts), under the graph's 16 MiB.
            Array.from({ length: 8000 }, (_, i) => i),
          ),
        ),
      );
      assert.equal(err.code, Code.RESOURCE_EXHAUSTED);
      // gRPC: "(N vs. M: runtime.maxMessageBytes 4096 …)"; frames: "request of N bytes is over the message limit of M".
      assert.match(
        err.message,
        /node 'small'.*(\(\d+ vs \d+: runtime.maxMessageBytes 4096 |of \d+ bytes is over the message limit of \d+)/,
        'the actual size and the limit',
      );
      assert.deepEqual(vals((await client.predict(routed(2, [3]))).payload), [3]);
    });
  });
}
