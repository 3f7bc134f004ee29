// The payload logger's parts without processes: the bounded queue (drops, retry with backoff, per-send timeout),
// payload encoding and truncation, the CloudEvent's attributes, and the manifest's logger field.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { parseManifest } from '../../src/graph/manifest';
import { desiredObjects } from '../../src/k8s/desired';
import { emptyMeta, message, type InferMessage } from '../../src/message/message';
import { toCloudEvent, type PendingEvent } from '../../src/request-log/event';
import { encodeBody, sniffMediaType } from '../../src/request-log/payload';
import { backoffMs, SendError, SendQueue, type QueueEvents } from '../../src/request-log/send-queue';
import { fromNumbers } from '../../src/tensor/tensor';
import { manifestProblems } from '../helpers/spec';

const counting = (): QueueEvents & { n: Record<string, number>; errors: string[] } => {
  const n = { sent: 0, failed: 0, dropped: 0, retried: 0 };
  const errors: string[] = [];
  return {
    n,
    errors,
    sent: () => n.sent++,
    failed: (e) => (n.failed++, errors.push(e.message)),
    dropped: () => n.dropped++,
    retried: () => n.retried++,
  };
};
const opts = { capacity: 3, concurrency: 1, timeoutMs: 200, maxRetries: 2, initialBackoffMs: 5, maxBackoffMs: 20 };

describe('request-log send queue', () => {
  it('push never waits: beyond capacity events are dropped and counted, the rest go in order', async () => {
    const on = counting();
    const seen: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = new SendQueue<number>(
      async (x) => {
        await gate;
        seen.push(x);
      },
      opts,
      on,
    );
    const accepted = [1, 2, 3, 4, 5, 6].map((x) => q.push(x));
    // One is being sent (taken off the queue), three wait, two are dropped.
    assert.deepEqual(accepted, [true, true, true, true, false, false]);
    assert.equal(q.depth, 3);
    assert.equal(on.n.dropped, 2);
    release();
    assert.equal(await q.idle(2000), true);
    assert.deepEqual(seen, [1, 2, 3, 4]);
    assert.equal(on.n.sent, 4);
  });

  it('a transient failure is retried with backoff until it succeeds; a permanent one is not retried', async () => {
    const on = counting();
    const tries = new Map<string, number>();
    const q = new SendQueue<string>(
      (x) => {
        const t = (tries.get(x) ?? 0) + 1;
        tries.set(x, t);
        if (x === 'flaky' && t < 3) return Promise.reject(new SendError('HTTP 503', true));
        if (x === 'bad') return Promise.reject(new SendError('HTTP 400', false));
        return Promise.resolve();
      },
      opts,
      on,
    );
    q.push('flaky');
    q.push('bad');
    assert.equal(await q.idle(2000), true);
    assert.equal(tries.get('flaky'), 3);
    assert.equal(tries.get('bad'), 1);
    assert.deepEqual(on.n, { sent: 1, failed: 1, dropped: 0, retried: 2 });
  });

  it('a send that hangs is given up after the per-send timeout, retried, then counted failed', async () => {
    const on = counting();
    const aborted: boolean[] = [];
    const q = new SendQueue<string>(
      (_x, signal) =>
        new Promise<void>(() => {
          signal.addEventListener('abort', () => aborted.push(true));
        }),
      { ...opts, timeoutMs: 30, maxRetries: 1 },
      on,
    );
    q.push('x');
    assert.equal(await q.idle(3000), true);
    assert.equal(on.n.failed, 1);
    assert.equal(on.n.retried, 1);
    assert.equal(aborted.length, 2, 'each timed-out send was aborted');
    assert.match(on.errors[0] ?? '', /within 30 ms/);
  });

  it('close drops what waits (counted) and ends backoff sleeps', async () => {
    const on = counting();
    const q = new SendQueue<string>(
      () => Promise.reject(new SendError('refused', true)),
      {
        ...opts,
        maxRetries: 5,
        initialBackoffMs: 10_000,
        maxBackoffMs: 10_000,
      },
      on,
    );
    q.push('a');
    q.push('b');
    await new Promise((r) => setTimeout(r, 20));
    q.close();
    assert.equal(await q.idle(1000), true);
    assert.deepEqual(on.n, { sent: 0, failed: 1, dropped: 1, retried: 1 });
    assert.equal(q.push('c'), false);
  });

  it('backoff doubles from the initial delay up to the cap, within ±20% jitter', () => {
    const o = { initialBackoffMs: 100, maxBackoffMs: 1000 };
    for (const [attempt, base] of [
      [1, 100],
      [2, 200],
      [3, 400],
      [4, 800],
      [5, 1000],
      [9, 1000],
    ] as const) {
      for (let i = 0; i < 20; i++) {
        const ms = backoffMs(attempt, o);
        assert.ok(ms >= base * 0.8 && ms <= base * 1.2, `attempt ${attempt}: ${ms} ms not within 20% of ${base}`);
      }
    }
  });
});

const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 2, 3, 0xff, 0xd9]);
const bigTensor = (): InferMessage =>
  message({
    kind: 'tensor',
    tensor: fromNumbers(
      'float32',
      [1, 1000],
      Array.from({ length: 1000 }, (_, i) => i),
    ),
  });

describe('request-log payloads', () => {
  it('binData is base64 in Seldon JSON and in V2 JSON (content_type base64), its media type sniffed', () => {
    const m = message({ kind: 'bin', data: jpeg }, emptyMeta('p1'));
    const s = encodeBody(m, 'seldon', 1 << 20, 'request');
    assert.equal(s.data.binData, jpeg.toString('base64'));
    assert.equal(s.binaryType, 'image/jpeg');
    assert.equal(s.truncated, false);
    const v = encodeBody(m, 'v2', 1 << 20, 'request');
    const input = (v.data.inputs as { datatype: string; parameters: Record<string, string>; data: string[] }[])[0]!;
    assert.equal(input.datatype, 'BYTES');
    assert.deepEqual(input.parameters, { content_type: 'base64', media_type: 'image/jpeg' });
    assert.deepEqual(Buffer.from(input.data[0]!, 'base64'), jpeg);
    assert.equal(v.data.id, 'p1');
    assert.equal(sniffMediaType(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a])), 'image/png');
    assert.equal(sniffMediaType(Buffer.from('plain')), 'application/octet-stream');
  });

  it('a payload above the cap is cut to its first elements and marked', () => {
    const whole = encodeBody(bigTensor(), 'v2', 1 << 20, 'response');
    assert.equal(whole.truncated, false);
    assert.equal((whole.data.outputs as { data: number[] }[])[0]!.data.length, 1000);
    const cut = encodeBody(bigTensor(), 'v2', 400, 'response');
    assert.equal(cut.truncated, true);
    assert.equal(cut.payloadBytes, 4000);
    const out = (cut.data.outputs as { shape: number[]; data: number[] }[])[0]!;
    assert.deepEqual(out.shape, [100]);
    assert.deepEqual(out.data.slice(0, 3), [0, 1, 2]);
    const bin = encodeBody(message({ kind: 'bin', data: jpeg }), 'seldon', 4, 'request');
    assert.equal(bin.truncated, true);
    assert.deepEqual(Buffer.from(bin.data.binData as string, 'base64'), jpeg.subarray(0, 4));
    // A combiner's inputs share the cap: the first fits, the second is cut.
    const list = encodeBody([bigTensor(), bigTensor()], 'seldon', 6000, 'request');
    assert.equal(list.truncated, true);
    assert.equal(list.payloadBytes, 8000);
    assert.equal((list.data.seldonMessages as unknown[]).length, 2);
  });

  it("the CloudEvent carries Seldon's and KServe's attributes, id and requestid the puid", () => {
    const p: PendingEvent = {
      kind: 'response',
      puid: 'abc-123',
      modelId: 'resnet50',
      component: 'node',
      method: 'predict',
      protocol: 'seldon',
      body: { message: bigTensor() },
      maxPayloadBytes: 400,
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      time: Date.parse('2026-12-06T12:00:00Z'),
    };
    const e = toCloudEvent(p, { source: 'urn:infergraph:ns:g', graph: 'g', namespace: 'ns', endpoint: 'default' });
    assert.equal(e.type, 'io.seldon.serving.inference.response');
    assert.equal(e.id, 'abc-123');
    assert.equal(e.requestid, 'abc-123');
    assert.equal(e.modelid, 'resnet50');
    assert.equal(e.inferenceservicename, 'g');
    assert.equal(e.namespace, 'ns');
    assert.equal(e.endpoint, 'default');
    assert.equal(e.source, 'urn:infergraph:ns:g');
    assert.equal(e.traceparent, p.traceparent);
    assert.equal(e.truncated, true);
    assert.equal(e.payloadbytes, 4000);
    assert.equal(e.datacontenttype, 'application/json');
    const err = toCloudEvent({ ...p, body: { error: new Error('boom') } }, { source: 's', graph: 'g', endpoint: 'd' });
    assert.deepEqual((err.data as { status: { status: string; info: string } }).status.status, 'FAILURE');
  });
});

describe('the manifest logger field', () => {
  const doc = (logger: string): string => `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: g}
spec:
  logger: ${logger}
  graph: {name: m, type: MODEL, implementation: identity, logger: ${logger}}
`;
  it('takes mode and url on the graph and on a node, mode all and a 1 MiB cap by default', () => {
    const g = parseManifest(doc('{url: "http://sink:8080/"}'), '/tmp');
    assert.deepEqual(g.logger, { mode: 'all', url: 'http://sink:8080/', maxPayloadBytes: 1024 * 1024 });
    assert.deepEqual(g.graph.logger, g.logger);
  });
  it('names a wrong mode, url or field', () => {
    const problems = manifestProblems(doc('{mode: everything, url: "ftp://x", level: 3}'));
    assert.ok(
      problems.some((p) => /spec\.logger\.mode.*request, response, all/.test(p)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => /spec\.graph \(m\)\.logger\.url.*http:\/\/ or https:\/\/ URL/.test(p)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => /level/.test(p)),
      problems.join('\n'),
    );
  });
});

describe("the operator's default sink", () => {
  const executorEnv = (yaml: string, url?: string): Record<string, string> => {
    const objects = desiredObjects({
      graph: parseManifest(yaml, '/tmp'),
      manifest: parseYaml(yaml) as never,
      ...(url ? { requestLoggerDefaultEndpoint: url } : {}),
    });
    const dep = objects.find(
      (o) => o.kind === 'Deployment' && String(o.metadata.name).endsWith('executor'),
    ) as unknown as {
      spec: { template: { spec: { containers: { name: string; env?: { name: string; value: string }[] }[] } } };
    };
    const c = dep.spec.template.spec.containers.find((x) => x.name === 'executor')!;
    return Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
  };
  const logs = `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: g}
spec:
  graph: {name: m, type: MODEL, implementation: identity, logger: {mode: all}}
`;
  it('reaches the executor pod as REQUEST_LOGGER_DEFAULT_ENDPOINT when the graph logs, and only then', () => {
    assert.equal(executorEnv(logs, 'http://broker.ns')['REQUEST_LOGGER_DEFAULT_ENDPOINT'], 'http://broker.ns');
    assert.equal(
      executorEnv(logs.replace(', logger: {mode: all}', ''), 'http://broker.ns')['REQUEST_LOGGER_DEFAULT_ENDPOINT'],
      undefined,
    );
    assert.equal(executorEnv(logs)['REQUEST_LOGGER_DEFAULT_ENDPOINT'], undefined);
  });
});
