import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { SeldonClient } from '../../src/client/seldon-client';
import { Code, InferError } from '../../src/errors';
import { PREDICTOR_HEADER } from '../../src/executor/data-plane';
import { fromNumbers } from '../../src/tensor/tensor';
import { percentile } from '../../src/util/stats';
import { REPO, upGraph, type RunningGraph } from '../helpers/graph-process';
import { parseExposition, total, type Family } from '../helpers/prom-text';
import { startOtlpHttpReceiver, type SpanReceiver } from '../helpers/span-receivers';

/**
 * Traffic between predictors without a service mesh, through `infergraph up` of SeldonDeployments (real processes,
 * real sockets): the 75/25 split within binomial bounds, a slow and a failing shadow that cost the caller nothing
 * and show in the executor's metrics, and pinning a predictor by header or gRPC metadata.
 */

const FIXTURES = path.join(REPO, 'test/fixtures/traffic');
const BODY = JSON.stringify({ data: { ndarray: [[1, 2]] } });

interface Up {
  g: RunningGraph;
  rest: string;
  metrics: string;
}

async function up(file: string, executor: string): Promise<Up> {
  const g = await upGraph(path.join(FIXTURES, file));
  const line = (re: RegExp): string => {
    const m = g.stdout.map((l) => re.exec(l)).find((x) => x);
    assert.ok(m, `no line ${re} in:\n${g.stdout.join('\n')}`);
    return m[1] as string;
  };
  return {
    g,
    rest: line(new RegExp(`^rest ${executor} at (\\S+)$`)),
    metrics: line(new RegExp(`^metrics ${executor} at (\\S+)$`)),
  };
}

interface Answer {
  status: number;
  predictor: string | null;
  ms: number;
  body: { meta?: { tags?: Record<string, unknown> }; status?: { info?: string } };
}

async function predict(rest: string, pin?: string): Promise<Answer> {
  const t0 = performance.now();
  const res = await fetch(`${rest}/api/v1.0/predictions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(pin ? { [PREDICTOR_HEADER]: pin } : {}) },
    body: BODY,
  });
  const body = (await res.json()) as Answer['body'];
  return { status: res.status, predictor: res.headers.get(PREDICTOR_HEADER), ms: performance.now() - t0, body };
}

async function scrape(url: string): Promise<Map<string, Family>> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  return parseExposition(await res.text());
}

const REQUESTS = 'seldon_api_executor_server_requests_seconds_count';
const DROPPED = 'infergraph_shadow_dropped_total';
const SHADOW_IN_FLIGHT = 'infergraph_shadow_in_flight_requests';

/** The executor's metrics once no shadow copy is in flight any more (a copy ends by the request's deadline). */
async function settled(url: string): Promise<Map<string, Family>> {
  const until = Date.now() + 30_000;
  for (;;) {
    const m = await scrape(url);
    if (total(m, SHADOW_IN_FLIGHT) === 0) return m;
    assert.ok(Date.now() < until, 'shadow copies still in flight after 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs `n` calls of `fn` with `concurrency` at once; the answers in call order. */
async function pool<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

/**
 * Latencies of requests copied to the shadow (unpinned) against requests that are not (pinned to main: a pinned
 * request is never copied), in alternating blocks so that the machine's load drifts over both alike.
 */
async function alternate(rest: string, rounds: number, block: number): Promise<{ copied: number[]; plain: number[] }> {
  const copied: number[] = [];
  const plain: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const pinned of r % 2 ? [true, false] : [false, true]) {
      for (let i = 0; i < block; i++) {
        const a = await predict(rest, pinned ? 'main' : undefined);
        assert.equal(a.status, 200, JSON.stringify(a.body));
        (pinned ? plain : copied).push(a.ms);
      }
    }
  }
  return { copied: copied.sort((x, y) => x - y), plain: plain.sort((x, y) => x - y) };
}

/**
 * A shadow costs the caller nothing: the copied requests' median stays far below the shadow's own time (so nobody
 * waited for it), and within generous ratios of the uncopied requests' median and p99 (a loaded 2-core machine).
 */
function assertUnchanged(l: { copied: number[]; plain: number[] }, shadowMs?: number): void {
  const p = (xs: number[], q: number): number => percentile(xs, q);
  const summary = `copied p50 ${p(l.copied, 50).toFixed(2)} p99 ${p(l.copied, 99).toFixed(2)} ms; uncopied p50 ${p(l.plain, 50).toFixed(2)} p99 ${p(l.plain, 99).toFixed(2)} ms`;
  if (shadowMs !== undefined) assert.ok(p(l.copied, 50) < shadowMs / 2, summary);
  assert.ok(p(l.copied, 50) <= 1.5 * p(l.plain, 50) + 1, summary);
  assert.ok(p(l.copied, 99) <= 3 * p(l.plain, 99) + 5, summary);
}

describe('a SeldonDeployment with main 75 / canary 25 and a slow shadow (canary-shadow.yaml) under infergraph up', () => {
  let u: Up;
  /** Requests sent without a pin: each one either copied to the shadow or dropped and counted. */
  let unpinned = 0;

  before(async () => {
    u = await up('canary-shadow.yaml', 'traffic-executor');
  });
  after(async () => {
    await u?.g.stop();
  });

  it('splits 2,000 requests 75/25 within 5 binomial sigma, each answered by the predictor its header names', async () => {
    const N = 2000;
    const answers = await pool(N, 8, () => predict(u.rest));
    unpinned += N;
    const by = new Map<string, number>();
    for (const a of answers) {
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.ok(a.predictor === 'main' || a.predictor === 'canary', `served by ${a.predictor}`);
      // The answer's own meta agrees with the header: the identity node of that predictor tagged it.
      assert.equal(a.body.meta?.tags?.['served-by'], `${a.predictor}-model`);
      by.set(a.predictor, (by.get(a.predictor) ?? 0) + 1);
    }
    const canary = by.get('canary') ?? 0;
    const sigma = Math.sqrt(N * 0.25 * 0.75);
    console.log(`split of ${N}: main ${by.get('main')}, canary ${canary} (expected 500 ± ${(5 * sigma).toFixed(0)})`);
    assert.ok(Math.abs(canary - N * 0.25) <= 5 * sigma, `canary took ${canary} of ${N}`);
    // The executor's request metrics say the same, under Seldon's predictor_name label.
    const m = await scrape(u.metrics);
    assert.equal(total(m, REQUESTS, { predictor_name: 'main', code: '200' }), by.get('main'));
    assert.equal(total(m, REQUESTS, { predictor_name: 'canary', code: '200' }), canary);
  });

  it('the slow shadow (200 ms a call) costs the caller nothing: no error, latency unchanged within noise', async () => {
    const l = await alternate(u.rest, 10, 20);
    unpinned += l.copied.length;
    assertUnchanged(l, 200);
  });

  it("the shadow's copies show in metrics: every unpinned request was walked by the shadow or dropped and counted", async () => {
    const m = await settled(u.metrics);
    const walked = total(m, REQUESTS, { predictor_name: 'shadow', code: '200' });
    const dropped = total(m, DROPPED, { predictor_name: 'shadow' });
    console.log(`shadow: ${walked} copies walked, ${dropped} dropped at spec.shadowMaxInFlight, of ${unpinned}`);
    assert.equal(walked + dropped, unpinned);
    assert.ok(walked >= 8, `shadow walked ${walked}`);
    // 2,000 requests at 8 in flight arrive faster than 8 copies per 200 ms: the shadow saturates and drops.
    assert.ok(dropped > 0, 'no copy dropped');
    // The copies' latency is the shadow's, not the caller's: all of them at or above its 200 ms.
    const fast = total(m, 'seldon_api_executor_server_requests_seconds_bucket', {
      predictor_name: 'shadow',
      le: '0.1',
    });
    assert.equal(fast, 0);
  });

  it('pins a predictor by HTTP header and by gRPC metadata; the answer names it; an unknown pin is refused', async () => {
    for (let i = 0; i < 20; i++) {
      const a = await predict(u.rest, 'canary');
      assert.equal(a.predictor, 'canary');
      assert.equal(a.body.meta?.tags?.['served-by'], 'canary-model');
    }
    const bad = await predict(u.rest, 'blue');
    assert.equal(bad.status, 400);
    assert.equal(
      bad.body.status?.info,
      `${PREDICTOR_HEADER} 'blue': no such predictor (predictors: main, canary, shadow)`,
    );

    const seldon = new SeldonClient(u.g.address);
    try {
      const md = new grpc.Metadata();
      md.set(PREDICTOR_HEADER, 'canary');
      const payload = { kind: 'tensor' as const, tensor: fromNumbers('float32', [1, 2], [1, 2]) };
      for (let i = 0; i < 10; i++) {
        const r = await seldon.predict(payload, { metadata: md });
        assert.equal(r.meta.tags['served-by'], 'canary-model');
      }
      // The response metadata names the predictor (the gRPC twin of the HTTP header).
      const served = await new Promise<string>((resolve, reject) => {
        const client = (seldon as unknown as { client: grpc.Client }).client as unknown as {
          predict: (r: object, m: grpc.Metadata, cb: (e: Error | null) => void) => grpc.ClientUnaryCall;
        };
        const call = client.predict({ strData: 'which' }, md, (e) => (e ? reject(e) : undefined));
        call.on('metadata', (h: grpc.Metadata) => resolve(String(h.get(PREDICTOR_HEADER)[0])));
      });
      assert.equal(served, 'canary');
      const none = new grpc.Metadata();
      none.set(PREDICTOR_HEADER, 'blue');
      const err = await seldon.predict(payload, { metadata: none }).catch((e: unknown) => e);
      assert.ok(err instanceof InferError, String(err));
      assert.equal(err.code, Code.INVALID_ARGUMENT);
      assert.match(
        err.message,
        /x-infergraph-predictor 'blue': no such predictor \(predictors: main, canary, shadow\)/,
      );
    } finally {
      seldon.close();
    }
  });
});

describe('a SeldonDeployment whose shadow fails every copy (failing-shadow.yaml) under infergraph up', () => {
  let u: Up;
  before(async () => {
    u = await up('failing-shadow.yaml', 'failing-executor');
  });
  after(async () => {
    await u?.g.stop();
  });

  it('the caller gets no error and unchanged latency; the failures show under the shadow in metrics', async () => {
    const seldon = new SeldonClient(u.g.address);
    let sent = 0;
    try {
      const payload = { kind: 'tensor' as const, tensor: fromNumbers('float32', [1, 2], [3, 4]) };
      await pool(300, 4, async () => {
        const r = await seldon.predict(payload);
        assert.deepEqual(Object.keys(r.meta.requestPath), ['main-model']);
      });
      sent += 300;
    } finally {
      seldon.close();
    }
    const l = await alternate(u.rest, 10, 20);
    sent += l.copied.length;
    assertUnchanged(l);
    const m = await settled(u.metrics);
    const failed = total(m, REQUESTS, { predictor_name: 'shadow', code: 'Internal' });
    const failedRest = total(m, REQUESTS, { predictor_name: 'shadow', code: '500' });
    const dropped = total(m, DROPPED, { predictor_name: 'shadow' });
    console.log(`failing shadow: ${failed} gRPC + ${failedRest} REST copies failed, ${dropped} dropped, of ${sent}`);
    assert.equal(failed + failedRest + dropped, sent);
    assert.ok(failed > 0 && failedRest > 0);
    assert.equal(total(m, REQUESTS, { predictor_name: 'main', code: 'Internal' }), 0);
    assert.equal(total(m, REQUESTS, { predictor_name: 'main', code: '500' }), 0);
  });
});

describe("a shadow's copies in traces (canary-shadow.yaml, infergraph up --trace-exporter otlp-http)", () => {
  let g: RunningGraph;
  let receiver: SpanReceiver;
  before(async () => {
    receiver = await startOtlpHttpReceiver();
    const args = ['--trace-exporter', 'otlp-http', '--trace-endpoint', receiver.endpoint];
    g = await upGraph(path.join(FIXTURES, 'canary-shadow.yaml'), args, { OTEL_BSP_SCHEDULE_DELAY: '50' });
  });
  after(async () => {
    await g?.stop();
    await receiver?.close();
  });

  it("the copy's hop and the shadow node's span are in the request's trace, under the executor's server span", async () => {
    const seldon = new SeldonClient(g.address);
    let traceId: string;
    try {
      const r = await seldon.predict({ kind: 'tensor', tensor: fromNumbers('float32', [1, 2], [5, 6]) });
      traceId = r.meta.tags.trace_id as string;
      assert.match(traceId, /^[0-9a-f]{32}$/);
    } finally {
      seldon.close();
    }
    const inTrace = (): typeof receiver.spans => receiver.spans.filter((x) => x.traceId === traceId);
    const shadowServer = (): boolean => inTrace().some((x) => x.service === 'shadow-model' && x.kind === 'server');
    await receiver.waitFor(shadowServer, 15_000, "the shadow node's span");
    const spans = inTrace();
    const root = spans.find((x) => x.service === 'traffic-executor' && x.kind === 'server');
    assert.ok(root, spans.map((x) => `${x.service}:${x.name}`).join(', '));
    const hop = spans.find((x) => x.kind === 'client' && x.attributes['infergraph.node'] === 'shadow-model');
    assert.ok(hop, 'no executor span for the hop to the shadow');
    assert.equal(hop.parentSpanId, root.spanId);
    const node = spans.find((x) => x.service === 'shadow-model' && x.kind === 'server');
    assert.equal(node?.parentSpanId, hop.spanId);
    // The live walk is in the same trace: one of the two live predictors' nodes answered it.
    assert.ok(spans.some((x) => x.service === 'main-model' || x.service === 'canary-model'));
  });
});
