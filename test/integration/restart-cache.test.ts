/**
 * A model node killed with SIGKILL comes back from onnx-model's optimised-graph cache (issue 22): real processes
 * under `infergraph up`, the cache folder set in the manifest. The first start writes the entry, the restarted
 * process loads it (its load log line says so) and answers with the same bytes as before the kill.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SeldonClient } from '../../src/client/seldon-client';
import { emptyMeta, type InferMessage } from '../../src/message/message';
import { buildSmallCnn } from '../../src/modelgen/small-cnn';
import { alive, upGraph, type RunningGraph } from '../helpers/graph-process';

const SIZE = 64;

describe('model restart from the optimised-graph cache (real processes)', () => {
  let dir: string;
  let g: RunningGraph | undefined;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-restart-cache-'));
    writeFileSync(path.join(dir, 'cnn.onnx'), buildSmallCnn({ size: SIZE, width: 32, blocks: 2 }));
    writeFileSync(
      path.join(dir, 'graph.yaml'),
      `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: restart-cache}
spec:
  graph:
    name: cnn
    type: MODEL
    implementation: onnx-model
    parameters: {model: cnn.onnx, sessionCache: cache, softmax: true}
`,
    );
    g = await upGraph(path.join(dir, 'graph.yaml'), ['--log-level', 'info']);
  });
  after(async () => {
    await g?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const request = (): InferMessage => {
    const data = new Float32Array(3 * SIZE * SIZE);
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(i) * 2;
    return {
      meta: emptyMeta(),
      payload: { kind: 'tensor', tensor: { dtype: 'float32', shape: [1, 3, SIZE, SIZE], data } },
    };
  };
  const answer = async (client: SeldonClient): Promise<Buffer> => {
    const r = await client.predict(request());
    assert.equal(r.payload.kind, 'tensor');
    if (r.payload.kind !== 'tensor') return Buffer.alloc(0);
    const d = r.payload.tensor.data as Float32Array;
    return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  };
  const loadLines = (): string[] =>
    [...g!.stdout, ...g!.stderr].filter((l) => l.includes('onnx-model loaded cnn.onnx'));

  it('the first start writes the entry; after kill -9 the new process loads it and answers the same bytes', async () => {
    const client = new SeldonClient(g!.address);
    try {
      const before = await answer(client);
      assert.match(loadLines()[0] ?? '', /"sessionCache":"built"/);
      assert.equal(readdirSync(path.join(dir, 'cache')).filter((n) => !n.startsWith('.')).length, 1);

      const victim = g!.procs.get('cnn')!;
      process.kill(victim.pid, 'SIGKILL');
      while (alive(victim.pid)) await new Promise((r) => setTimeout(r, 10));
      await g!.waitFor(new RegExp(`^node cnn pid (?!${victim.pid}\\b)\\d+ at`), 60_000);
      const lines = loadLines();
      assert.equal(lines.length, 2, 'two starts');
      assert.match(lines[1] ?? '', /"sessionCache":"hit"/);
      assert.deepEqual(await answer(client), before);
    } finally {
      client.close();
    }
  });
});
