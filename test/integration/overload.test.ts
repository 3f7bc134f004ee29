import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SeldonClient } from '../../src/client/seldon-client';
import { codeName, toInferError } from '../../src/errors';
import type { Payload } from '../../src/message/message';
import { fromNumbers } from '../../src/tensor/tensor';
import { alive, upGraph, type RunningGraph } from '../helpers/graph-process';
import { v2Client } from '../helpers/v2-client';

/** Issue 11 with real processes: admission at the executor and at a node, the executor's deadline, drain in order. */

const vec = (xs: number[]): Payload => ({ kind: 'tensor', tensor: fromNumbers('float32', [1, xs.length], xs) });

interface Outcome {
  code: string;
  message: string;
  ms: number;
  retryAfterMs?: number;
}

const outcome = async (p: Promise<unknown>): Promise<Outcome> => {
  const t0 = performance.now();
  try {
    await p;
    return { code: 'OK', message: '', ms: performance.now() - t0 };
  } catch (err) {
    const e = toInferError(err);
    const o: Outcome = { code: codeName(e.code), message: e.message, ms: performance.now() - t0 };
    if (e.retryAfterMs !== undefined) o.retryAfterMs = e.retryAfterMs;
    return o;
  }
};

const MANIFEST = `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: overload}
spec:
  deadlineMs: 1500
  maxInFlight: 4
  drainTimeoutMs: 8000
  graph:
    name: slow
    type: MODEL
    implementation: sleep
    parameters: {ms: 400}
`;

/** One call at a node at a time, one waiting: the node's own queue bound. */
const NODE_QUEUE = MANIFEST.replace('name: overload', 'name: node-queue')
  .replace('maxInFlight: 4', 'maxInFlight: 16')
  .replace('parameters: {ms: 400}', 'parameters: {ms: 400}\n    runtime: {maxConcurrency: 1, maxQueue: 1}');

describe('overload and drain across real processes (issue 11)', () => {
  let dir: string;
  let g: RunningGraph;
  let client: SeldonClient;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-test-'));
    writeFileSync(path.join(dir, 'overload.yaml'), MANIFEST);
    g = await upGraph(path.join(dir, 'overload.yaml'));
    client = new SeldonClient(g.address);
  });
  after(async () => {
    client?.close();
    await g?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('beyond spec.maxInFlight the executor refuses at once with RESOURCE_EXHAUSTED naming the limit', async () => {
    const outs = await Promise.all(Array.from({ length: 6 }, () => outcome(client.predict(vec([1])))));
    const refused = outs.filter((o) => o.code !== 'OK');
    assert.equal(outs.length - refused.length, 4, JSON.stringify(outs));
    for (const o of refused) {
      assert.equal(o.code, 'RESOURCE_EXHAUSTED');
      assert.match(o.message, /executor: 4 requests in flight \(spec\.maxInFlight 4\)/);
      assert.ok(o.ms < 300, `refusal took ${o.ms.toFixed(0)} ms`); // the admitted ones take 400 ms
      // gRPC's pushback trailer: return times one spacing apart (before any walk finished: 100 ms / 4 slots).
      assert.ok(o.retryAfterMs !== undefined && o.retryAfterMs >= 10 && o.retryAfterMs <= 100, JSON.stringify(o));
    }
    // The early refusals (before any handler) are counted in the executor's metrics.
    const line = await g.waitFor(/^metrics overload-executor at /);
    const text = await (await fetch(line.split(' at ')[1] as string)).text();
    const m = /^infergraph_admission_refused_total\{where="executor"\} (\d+)/m.exec(text);
    assert.ok(m && Number(m[1]) >= 2, `refusals in /metrics: ${m?.[0]}`);
  });

  it('the V2 API is bounded by the same limit', async () => {
    const v2 = v2Client(g.address);
    try {
      const held = Array.from({ length: 4 }, () => outcome(client.predict(vec([1]))));
      await new Promise((r) => setTimeout(r, 100));
      const input = { name: 'x', datatype: 'FP32', shape: [1, 1] };
      const r = await outcome(
        v2.call('ModelInfer', { model_name: 'overload', inputs: [input], raw_input_contents: [Buffer.alloc(4)] }),
      );
      assert.equal(r.code, 'RESOURCE_EXHAUSTED', r.message);
      assert.match(r.message, /spec\.maxInFlight 4/);
      await Promise.all(held);
    } finally {
      v2.close();
    }
  });

  it('a walk stuck past the deadline is answered DEADLINE_EXCEEDED at the deadline, not later', async () => {
    const o = await outcome(client.predict(vec([1]), { timeoutMs: 150 }));
    assert.equal(o.code, 'DEADLINE_EXCEEDED');
    assert.ok(o.ms < 150 + 100, `answered after ${o.ms.toFixed(0)} ms (deadline 150)`);
  });

  it('SIGTERM: in-flight requests finish, new ones are refused, the executor goes before its nodes, nothing left', async () => {
    const inFlight = [outcome(client.predict(vec([1]))), outcome(client.predict(vec([2])))];
    await new Promise((r) => setTimeout(r, 50));
    const procs = [...g.procs.values()];
    const pids = procs.map((p) => p.pid);
    const exited = new Promise((r) => g.runner.once('exit', r));
    g.runner.kill('SIGTERM');
    // When each process is gone: the executor must go first (it drains while its nodes still serve).
    const goneAt = new Map<string, number>();
    const watch = setInterval(() => {
      for (const p of procs) if (!goneAt.has(p.name) && !alive(p.pid)) goneAt.set(p.name, performance.now());
    }, 5);
    await new Promise((r) => setTimeout(r, 150));
    const during = await outcome(client.predict(vec([3]), { timeoutMs: 2000 }));
    const outs = await Promise.all(inFlight);
    assert.deepEqual(
      outs.map((o) => o.code),
      ['OK', 'OK'],
      JSON.stringify(outs),
    );
    assert.equal(during.code, 'UNAVAILABLE', JSON.stringify(during));
    await exited;
    const until = Date.now() + 5000;
    while (pids.some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    clearInterval(watch);
    assert.deepEqual(pids.filter(alive), []);
    const ex = goneAt.get('overload-executor');
    const node = goneAt.get('slow');
    assert.ok(ex !== undefined && node !== undefined && ex < node, `executor gone at ${ex}, node at ${node}`);
  });
});

describe('a node queue (runtime.maxConcurrency / maxQueue) across real processes', () => {
  it('runs one, queues one, refuses the rest naming its limits; queued work whose deadline passed never runs', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-test-'));
    writeFileSync(path.join(dir, 'q.yaml'), NODE_QUEUE);
    const g = await upGraph(path.join(dir, 'q.yaml'));
    const client = new SeldonClient(g.address);
    try {
      const outs = await Promise.all(Array.from({ length: 4 }, () => outcome(client.predict(vec([1])))));
      assert.equal(outs.filter((o) => o.code === 'OK').length, 2, JSON.stringify(outs));
      for (const o of outs.filter((x) => x.code !== 'OK')) {
        assert.equal(o.code, 'RESOURCE_EXHAUSTED');
        assert.match(o.message, /node slow: queue full, 1 requests already waiting \(maxQueue 1\), 1 running/);
        // The node's pushback comes through the executor to the client.
        assert.ok(o.retryAfterMs !== undefined && o.retryAfterMs >= 50 && o.retryAfterMs <= 300, JSON.stringify(o));
      }
      // One runs 400 ms; one waits with 200 ms to live: it leaves the queue at its deadline, and the node is free
      // right after the first (a dropped call never ran: the third call is not delayed by it).
      const first = outcome(client.predict(vec([1])));
      await new Promise((r) => setTimeout(r, 30));
      const expiring = await outcome(client.predict(vec([2]), { timeoutMs: 200 }));
      assert.equal(expiring.code, 'DEADLINE_EXCEEDED', expiring.message);
      assert.equal((await first).code, 'OK');
      const third = await outcome(client.predict(vec([3])));
      assert.equal(third.code, 'OK');
      assert.ok(third.ms < 400 + 250, `third call took ${third.ms.toFixed(0)} ms`);
    } finally {
      client.close();
      await g.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('runner temp folders (issue 11)', () => {
  it('a folder left by a runner killed with SIGKILL is removed by the next runner', async () => {
    const stale = path.join(os.tmpdir(), `infergraph-stale${process.pid}`);
    mkdirSync(stale, { recursive: true });
    writeFileSync(path.join(stale, 'runner.pid'), '2147483646'); // no such process
    const dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-test-'));
    writeFileSync(path.join(dir, 'g.yaml'), MANIFEST);
    const g = await upGraph(path.join(dir, 'g.yaml'));
    try {
      assert.equal(existsSync(stale), false);
    } finally {
      await g.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
