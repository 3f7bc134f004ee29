/**
 * A saturated model node keeps answering grpc.health.v1 Check quickly: inference runs in worker threads, not on the
 * node's event loop. Real processes (`infergraph up`), a model slow enough (hundreds of ms a run) that a blocked
 * event loop would make every check wait that long.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SeldonClient } from '../../src/client/seldon-client';
import { Code, type InferError } from '../../src/errors';
import { emptyMeta } from '../../src/message/message';
import { buildSmallCnn } from '../../src/modelgen/small-cnn';
import { HealthProbe } from '../helpers/health-probe';
import { upGraph, type RunningGraph } from '../helpers/graph-process';

const SIZE = 224;

describe('model node health under load (real processes)', () => {
  let dir: string;
  let g: RunningGraph | undefined;
  let client: SeldonClient;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-health-'));
    writeFileSync(path.join(dir, 'slow.onnx'), buildSmallCnn({ size: SIZE, width: 160, blocks: 3 }));
    writeFileSync(
      path.join(dir, 'graph.yaml'),
      `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: health-under-load}
spec:
  deadlineMs: 60000
  graph:
    name: slow
    type: MODEL
    implementation: onnx-model
    parameters: {model: slow.onnx, instances: 1, maxQueue: 4}
`,
    );
    g = await upGraph(path.join(dir, 'graph.yaml'));
    client = new SeldonClient(g.address);
  });
  after(async () => {
    client?.close();
    await g?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const image = () => ({
    meta: emptyMeta(),
    payload: {
      kind: 'tensor' as const,
      tensor: {
        dtype: 'float32' as const,
        shape: [1, 3, SIZE, SIZE],
        data: new Float32Array(3 * SIZE * SIZE).fill(0.3),
      },
    },
  });

  it('health Check answers fast while the model is saturated; a full queue refuses: RESOURCE_EXHAUSTED', async () => {
    const node = g!.procs.get('slow')!;
    const t0 = performance.now();
    await client.predict(image());
    const runMs = performance.now() - t0;
    assert.ok(runMs > 100, `the model must be slow for this test to mean anything (one run: ${runMs.toFixed(0)} ms)`);

    // Five callers: one request runs, four wait (maxQueue 4): saturated for the whole probe.
    let stop = false;
    let served = 0;
    let refusedInLoop = 0;
    const callers = Array.from({ length: 5 }, async () => {
      while (!stop) {
        try {
          await client.predict(image());
          served++;
        } catch (err) {
          if ((err as InferError).code !== Code.RESOURCE_EXHAUSTED) throw err;
          refusedInLoop++;
        }
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    // Three more at once: with at most 1 + 4 admitted, some are refused at once, naming the limit.
    const burstAt = performance.now();
    const refusedAfter: number[] = [];
    const burst = await Promise.allSettled(
      [0, 1, 2].map(() =>
        client.predict(image()).catch((e: unknown) => {
          refusedAfter.push(performance.now() - burstAt);
          throw e;
        }),
      ),
    );
    const refused = burst
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .map((r) => r.reason as InferError);
    assert.ok(refused.length >= 1, 'the full queue refused at least one of the burst');
    for (const e of refused) {
      assert.equal(e.code, Code.RESOURCE_EXHAUSTED);
      assert.match(e.message, /queue full, 4 requests already waiting \(maxQueue 4\)/);
      // The model's queue asks the client to come back later (grpc-retry-pushback-ms), relayed by the executor.
      assert.ok((e.retryAfterMs ?? 0) >= 1, `a pushback on the refusal: ${e.retryAfterMs}`);
    }
    assert.ok(
      Math.max(...refusedAfter) < runMs,
      `refused without waiting for a run (${refusedAfter.map(Math.round).join(', ')} ms)`,
    );

    const probe = new HealthProbe(node.address);
    const until = performance.now() + Math.max(2500, 6 * runMs);
    await probe.run(20, () => performance.now() > until);
    stop = true;
    await Promise.all(callers);
    probe.close();
    const p99 = probe.percentile(99);
    const max = Math.max(...probe.latenciesMs);
    console.log(
      `health under load: ${refusedInLoop} refused in the loops, ${probe.latenciesMs.length} checks, ` +
        `p50 ${probe.percentile(50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms; ` +
        `one run ${runMs.toFixed(0)} ms; ${served} served`,
    );
    assert.deepEqual(probe.errors, []);
    assert.ok(probe.statuses.every((s) => s === 'SERVING'));
    assert.ok(served >= 3, `the model kept serving (${served})`);
    // A check stuck behind inference would take up to a whole run; the bound leaves room for a shared, noisy machine.
    // The README's figure (p99 <= 50 ms) comes from bench/health-under-load.ts on a quieter machine.
    assert.ok(p99 < runMs / 2, `health p99 ${p99.toFixed(1)} ms with runs of ${runMs.toFixed(0)} ms`);
  });
});
