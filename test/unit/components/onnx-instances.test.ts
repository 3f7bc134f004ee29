/**
 * onnx-model's instance pool: inference in worker threads behind a bounded, cancel- and deadline-aware queue.
 * A "slow" small CNN (224x224, 64 channels; tens of ms per run) keeps an instance busy while requests queue.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Component } from '../../../src/components/api';
import { CollectingCallContext } from '../../../src/components/call-context';
import onnxModel from '../../../src/components/builtin/onnx-model';
import type { OnnxPool } from '../../../src/components/builtin/onnx-pool';
import { Code } from '../../../src/errors';
import type { Payload } from '../../../src/message/message';
import { buildSmallCnn } from '../../../src/modelgen/small-cnn';
import { componentContext, configError, rejectsWith } from './helpers';
import { writeIdentityModel } from './onnx-fixture';

const SIZE = 224;
let dir: string;
let slow: string;

const image = (fill: number, batch = 1): Payload => ({
  kind: 'tensor',
  tensor: {
    dtype: 'float32',
    shape: [batch, 3, SIZE, SIZE],
    data: new Float32Array(batch * 3 * SIZE * SIZE).fill(fill),
  },
});

async function load(
  params: Record<string, string | number | boolean>,
): Promise<Component & { instancePool?: OnnxPool }> {
  const c = await onnxModel.create({ model: slow, ...params }, componentContext('MODEL', 'slow'));
  await c.load?.();
  return c;
}

const ctxWith = (opts: { signal?: AbortSignal; deadline?: number } = {}): CollectingCallContext =>
  new CollectingCallContext(undefined, opts.signal ?? new AbortController().signal, opts.deadline);

const rows = (p: Payload): number[][] => {
  assert.equal(p.kind, 'tensor');
  if (p.kind !== 'tensor') return [];
  const [n = 1, k = 0] = p.tensor.shape;
  const d = Array.from(p.tensor.data as Float32Array);
  return Array.from({ length: n }, (_, i) => d.slice(i * k, (i + 1) * k));
};

describe('onnx-model instances (worker threads, bounded queue)', () => {
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'infergraph-instances-'));
    slow = path.join(dir, 'slow.onnx');
    writeFileSync(slow, buildSmallCnn({ size: SIZE, width: 64, blocks: 2 }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses request maxQueue + 2 (1 running, maxQueue waiting) at once: RESOURCE_EXHAUSTED + limit', async () => {
    const m = await load({ instances: 1, maxQueue: 2 });
    const pool = m.instancePool!;
    const admitted = [0, 1, 2].map((i) => Promise.resolve(m.predict!(image(i / 10), ctxWith())));
    await new Promise((r) => setImmediate(r));
    assert.equal(pool.queued, 2, 'one request runs, two wait');
    const t0 = performance.now();
    await rejectsWith(
      () => Promise.resolve(m.predict!(image(0.5), ctxWith())),
      Code.RESOURCE_EXHAUSTED,
      'maxQueue 2',
      'slow.onnx',
    );
    assert.ok(performance.now() - t0 < 20, 'refused at once, not after the running request');
    const out = await Promise.all(admitted);
    assert.equal(out.length, 3);
    assert.equal(pool.runs, 3);
    await m.close?.();
  });

  it('a queued request that is cancelled, or whose deadline passes, never runs (counted runs)', async () => {
    const m = await load({ instances: 1, maxQueue: 8 });
    const pool = m.instancePool!;
    const ac = new AbortController();
    const running = Promise.resolve(m.predict!(image(0.1), ctxWith()));
    const cancelled = Promise.resolve(m.predict!(image(0.2), ctxWith({ signal: ac.signal })));
    const expiring = Promise.resolve(m.predict!(image(0.3), ctxWith({ deadline: Date.now() + 5 })));
    const last = Promise.resolve(m.predict!(image(0.4), ctxWith()));
    ac.abort();
    await rejectsWith(() => cancelled, Code.CANCELLED, 'not run');
    await rejectsWith(() => expiring, Code.DEADLINE_EXCEEDED, 'not run');
    await running;
    await last;
    assert.equal(pool.runs, 2, 'only the two live requests ran');
    await m.close?.();
  });

  it('the main thread stays free while an instance computes', async () => {
    const m = await load({ instances: 1 });
    const busy = Promise.all([0, 1, 2].map((i) => Promise.resolve(m.predict!(image(i), ctxWith()))));
    // Timers keep firing on time while three inferences run: the event loop is never blocked for a whole run.
    const lags: number[] = [];
    let done = false;
    void busy.then(() => (done = true));
    while (!done) {
      const t = performance.now();
      await new Promise((r) => setTimeout(r, 2));
      lags.push(performance.now() - t - 2);
    }
    assert.ok(lags.length >= 5, `timers ran ${lags.length} times during the runs`);
    // A run takes tens of ms; were it on this thread, every timer would wait that long. The median lag is robust
    // to the odd stall that other processes on a shared machine cause.
    const sorted = [...lags].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    assert.ok(median < 5, `median timer lag ${median.toFixed(1)} ms (all: ${lags.map((l) => l.toFixed(1)).join(' ')})`);
    await m.close?.();
  });

  it('a crashed instance fails its in-flight request with a clear error and is replaced', async () => {
    const m = await load({ instances: 1 });
    const pool = m.instancePool!;
    // The crash reaches the worker before the request does: the instance dies holding it.
    pool.crashInstance(0);
    const inflight = Promise.resolve(m.predict!(image(0.1), ctxWith()));
    const queued = Promise.resolve(m.predict!(image(0.2), ctxWith()));
    await rejectsWith(
      () => inflight,
      Code.INTERNAL,
      /instance 0 threw crash requested while running this request; the instance is being replaced/,
    );
    // The queued request is served by the replacement.
    assert.equal(rows(await queued).length, 1);
    assert.equal(pool.crashes, 1);
    assert.equal(rows(await m.predict!(image(0.3), ctxWith())).length, 1);
    await m.close?.();
  });

  it('dynamic batching: requests queued together run as one batch, with the answers they get alone', async () => {
    const alone = await load({ instances: 1 });
    const expected = [];
    for (const f of [0.1, 0.2, 0.3]) expected.push(rows(await alone.predict!(image(f), ctxWith()))[0]!);
    const two = rows(await alone.predict!(image(0.4, 2), ctxWith()));
    await alone.close?.();

    const m = await load({ instances: 1, maxBatch: 5, maxQueueDelayMs: 200 });
    const pool = m.instancePool!;
    const outs = await Promise.all([
      m.predict!(image(0.1), ctxWith()),
      m.predict!(image(0.4, 2), ctxWith()),
      m.predict!(image(0.2), ctxWith()),
      m.predict!(image(0.3), ctxWith()),
    ]);
    assert.equal(pool.batches, 1, 'one run for the four requests (5 rows)');
    assert.equal(pool.runs, 4);
    const got = outs.map(rows);
    const close = (a: number[], b: number[]): void =>
      a.forEach((v, i) => assert.ok(Math.abs(v - (b[i] as number)) < 1e-4, `${v} vs ${b[i]}`));
    close(got[0]![0]!, expected[0]!);
    assert.equal(got[1]!.length, 2);
    close(got[1]![0]!, two[0]!);
    close(got[1]![1]!, two[1]!);
    close(got[2]![0]!, expected[1]!);
    close(got[3]![0]!, expected[2]!);
    await m.close?.();
  });

  it('close fails queued requests with UNAVAILABLE and lets the running one answer', async () => {
    const m = await load({ instances: 1 });
    const running = Promise.resolve(m.predict!(image(0.1), ctxWith()));
    const waiting = Promise.resolve(m.predict!(image(0.2), ctxWith()));
    waiting.catch(() => undefined);
    await m.close?.();
    await rejectsWith(() => waiting, Code.UNAVAILABLE, 'shutting down');
    assert.equal(rows(await running).length, 1, 'the running request finishes and answers');
  });

  it(
    'instanceNice lowers the priority of the instance threads only',
    { skip: process.platform !== 'linux' },
    async () => {
      const niceOf = (): number[] =>
        readdirSync('/proc/self/task').map((tid) => {
          const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
          // Fields after the parenthesised name; nice is field 19 of stat, the 17th after the name.
          return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
        });
      const before = niceOf().filter((n) => n === 7).length;
      const m = await load({ instances: 2, instanceNice: 7 });
      try {
        // Each instance thread, and any thread it starts, runs at nice 7.
        assert.ok(niceOf().filter((n) => n === 7).length - before >= 2, 'the instance threads are at nice 7');
        assert.equal(niceOf()[0], 0, 'the main thread keeps its priority');
      } finally {
        await m.close?.();
      }
    },
  );

  it('configuration: maxBatch needs a symbolic batch dimension; instances and maxQueue are bounded', async () => {
    const fixed = path.join(dir, 'fixed.onnx');
    writeIdentityModel(fixed, { shape: [2, 3] });
    const create = async (params: Record<string, string | number>): Promise<void> => {
      const c = await onnxModel.create({ model: fixed, ...params }, componentContext('MODEL'));
      await c.load?.();
      await c.close?.();
    };
    await configError(
      () => create({ maxBatch: 4 }),
      "maxBatch 4 needs a model whose input 'x' has a symbolic first (batch) dimension",
    );
    await configError(() => create({ maxQueue: 0 }), "parameter 'maxQueue' must be an integer in 1..");
    await configError(() => create({ instances: 0 }), "parameter 'instances' must be an integer in 1..64");
  });
});
