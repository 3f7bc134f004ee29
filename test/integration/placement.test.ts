import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseYaml, stringify } from 'yaml';
import { SeldonClient } from '../../src/client/seldon-client';
import { ConfigError } from '../../src/errors';
import { parseManifest } from '../../src/graph/manifest';
import type { Payload } from '../../src/message/message';
import { fromNumbers, toNumbers } from '../../src/tensor/tensor';
import { CLI, REPO, upGraph, type RunningGraph } from '../helpers/graph-process';
import { assertTestEnsembleMeta } from '../helpers/ensemble-meta';

/**
 * runtime.placement: executor (issue 23's opt-in co-location): the test ensemble with its combiner and output
 * transformer inside the executor. Same answers and meta as the five-process graph, two processes fewer, no
 * Kubernetes objects for the placed nodes, and the manifest refusals.
 */

const run = promisify(execFile);
const vec = (xs: number[]): Payload => ({ kind: 'tensor', tensor: fromNumbers('float32', [1, xs.length], xs) });

interface RawNode {
  name: string;
  runtime?: Record<string, unknown>;
  children?: RawNode[];
}

function placedManifest(dir: string, names: string[]): string {
  const doc = parseYaml(readFileSync(path.join(REPO, 'graphs/test-ensemble.yaml'), 'utf8')) as {
    spec: { graph: RawNode; maxInFlight?: number };
  };
  doc.spec.maxInFlight = 64;
  const visit = (n: RawNode): void => {
    if (names.includes(n.name)) n.runtime = { ...n.runtime, placement: 'executor' };
    n.children?.forEach(visit);
  };
  visit(doc.spec.graph);
  const file = path.join(dir, 'placed.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

describe('runtime.placement: executor (combiner and output transformer inside the executor)', () => {
  let dir: string;
  let g: RunningGraph;
  let client: SeldonClient;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-placement-'));
    g = await upGraph(placedManifest(dir, ['top1', 'ensemble']));
    client = new SeldonClient(g.address);
  });
  after(async () => {
    client?.close();
    await g?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers as the five-process graph does, meta of every node included', async () => {
    const reply = await client.predict(vec([1, 2, 3, 4]));
    assert.deepEqual(reply.payload.kind === 'tensor' && toNumbers(reply.payload.tensor), [9, 17, 25, 33]);
    assertTestEnsembleMeta(reply.meta);
  });

  it('runs no process for the placed nodes', () => {
    assert.deepEqual([...g.procs.keys()].sort(), ['model-a', 'model-b', 'preprocess', 'test-ensemble-executor']);
  });

  it('serves 64 concurrent requests through the placed nodes without an error', async () => {
    const replies = await Promise.all(Array.from({ length: 64 }, (_, i) => client.predict(vec([i]))));
    replies.forEach((r, i) =>
      assert.deepEqual(r.payload.kind === 'tensor' && toNumbers(r.payload.tensor), [8 * i + 1]),
    );
  });

  it('validate shows the placement; render makes no Deployment or Service for the placed nodes', async () => {
    const file = path.join(dir, 'placed.yaml');
    const v = await run(process.execPath, [CLI, 'validate', file]);
    assert.match(v.stdout, /ensemble COMBINER sum-combiner \(in the executor\)/);
    assert.match(v.stdout, /top1 OUTPUT_TRANSFORMER scale \(in the executor\)/);
    const r = await run(process.execPath, [CLI, 'render', file]);
    const names = r.stdout
      .split(/^---$/m)
      .map((d) => parseYaml(d) as { kind?: string; metadata?: { name?: string } } | null)
      .filter((d) => d?.kind === 'Deployment')
      .map((d) => d?.metadata?.name);
    assert.deepEqual(names.sort(), [
      'test-ensemble-executor',
      'test-ensemble-model-a',
      'test-ensemble-model-b',
      'test-ensemble-preprocess',
    ]);
    assert.doesNotMatch(r.stdout, /--node-address[\s\S]{0,20}(top1|ensemble)=/);
  });
});

describe('runtime.placement: executor refusals', () => {
  const manifest = (runtime: Record<string, unknown>, extra: Record<string, unknown> = {}): string =>
    JSON.stringify({
      apiVersion: 'infergraph.dev/v1alpha1',
      kind: 'InferenceGraph',
      metadata: { name: 'g' },
      spec: { graph: { name: 'm', type: 'MODEL', implementation: 'scale', ...extra, runtime } },
    });
  const refused = (text: string, re: RegExp): void => {
    assert.throws(
      () => parseManifest(text, REPO),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
    );
  };
  it('refuses a replicated node, a user module, an endpoint and an unknown placement, naming the reason', () => {
    refused(
      manifest({ placement: 'executor', replicas: 2 }),
      /runtime.placement executor: a node inside the executor has the executor's replicas/,
    );
    refused(
      manifest({ placement: 'executor' }, { implementation: './my-model.js' }),
      /runtime.placement executor: only built-in components run inside the executor/,
    );
    refused(
      manifest({ placement: 'executor' }, { implementation: undefined, endpoint: 'localhost:9000' }),
      /runtime.placement executor: an endpoint node runs elsewhere/,
    );
    refused(manifest({ placement: 'pod' }), /placement/);
  });
});
