import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SeldonClient } from '../../src/client/seldon-client';
import { Code, InferError } from '../../src/errors';
import type { FeedbackMessage } from '../../src/message/feedback';
import { emptyMeta, type InferMessage, type Meta } from '../../src/message/message';
import { feedbackToJson } from '../../src/protocol/seldon/feedback';
import { fromNumbers } from '../../src/tensor/tensor';
import { upGraph, type RunningGraph } from '../helpers/graph-process';
import { parseExposition, total } from '../helpers/prom-text';

/**
 * Seldon SendFeedback through real processes, over gRPC and REST: the executor delivers a feedback along the route
 * its response records (meta.routing) to the MODEL and ROUTER nodes on it, counts it per node in Seldon's metrics,
 * and refuses feedback that does not fit the graph with INVALID_ARGUMENT / 400 naming the problem.
 *
 *   router (epsilon-greedy, 2 branches) ── 0 → a (feedback-probe)
 *                                       └─ 1 → mix (COMBINER) → c (feedback-probe, 2 replicas: gRPC hop)
 *                                                             → d (feedback-probe)
 * Hops go over frames except to c (replicated nodes use gRPC), so both hop transports carry sendFeedback.
 */

const MANIFEST = `
apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata:
  name: feedback-paths
spec:
  deadlineMs: 5000
  hopTransport: frames
  graph:
    name: router
    type: ROUTER
    implementation: epsilon-greedy
    parameters: {n_branches: 2, seed: 3, epsilon: 0.5}
    children:
      - name: a
        type: MODEL
        implementation: feedback-probe
      - name: mix
        type: COMBINER
        implementation: sum-combiner
        children:
          - name: c
            type: MODEL
            implementation: feedback-probe
            runtime: {replicas: 2}
          - name: d
            type: MODEL
            implementation: feedback-probe
`;

const x = (): InferMessage => ({
  meta: emptyMeta(),
  payload: { kind: 'tensor', tensor: fromNumbers('float32', [1, 1], [1]) },
});
const answered = (routing: Record<string, number>, puid = 'p-1'): InferMessage => ({
  meta: { ...emptyMeta(puid), routing },
  payload: { kind: 'tensor', tensor: fromNumbers('float32', [1, 1], [1]) },
});
/** The probes a feedback reply says it reached. */
const reached = (meta: Meta | { tags?: Record<string, unknown> }): string[] =>
  Object.keys(meta.tags ?? {})
    .filter((k) => k.startsWith('feedback.'))
    .map((k) => k.slice('feedback.'.length))
    .sort();

describe('Seldon SendFeedback along meta.routing through real processes (gRPC and REST)', () => {
  let dir: string;
  let g: RunningGraph;
  let seldon: SeldonClient;
  let rest: string;
  let metrics: string;
  /** feedback each node took, and the rewards, as the test sent them */
  const took = new Map<string, { n: number; reward: number }>();
  const count = (nodes: string[], reward: number): void => {
    for (const n of ['router', ...nodes]) {
      const t = took.get(n) ?? { n: 0, reward: 0 };
      took.set(n, { n: t.n + 1, reward: t.reward + reward });
    }
  };
  /** `count` adds the router to every feedback; a feedback the router refused is taken back. */
  const untake = (node: string, reward: number): void => {
    const t = took.get(node) ?? { n: 0, reward: 0 };
    took.set(node, { n: t.n - 1, reward: t.reward - reward });
  };
  const postFeedback = (body: unknown): Promise<Response> =>
    fetch(`${rest}/api/v1.0/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'feedback-'));
    const file = path.join(dir, 'graph.yaml');
    writeFileSync(file, MANIFEST);
    g = await upGraph(file);
    seldon = new SeldonClient(g.address);
    const line = (re: RegExp): string => {
      const l = g.stdout.find((s) => re.test(s));
      assert.ok(l, `no line ${re} in:\n${g.stdout.join('\n')}`);
      return l.split(' ').pop() as string;
    };
    rest = line(/^rest \S+ at http/);
    metrics = line(/^metrics feedback-paths-executor at /);
  });
  after(async () => {
    seldon?.close();
    await g?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("gRPC: a real answer records the router's branch; its feedback reaches the router and the models on that branch only", async () => {
    for (let i = 0; i < 6; i++) {
      const request = x();
      const response = await seldon.predict(request);
      const branch = response.meta.routing.router;
      assert.ok(branch === 0 || branch === 1, JSON.stringify(response.meta.routing));
      const reply = await seldon.sendFeedback({ request, response, reward: 1 });
      const expected = branch === 0 ? ['a'] : ['c', 'd'];
      assert.deepEqual(reached(reply.meta), expected);
      assert.equal(reply.meta.puid, response.meta.puid);
      assert.deepEqual(reply.meta.routing, response.meta.routing);
      count(expected, 1);
    }
  });

  it('gRPC: crafted routings: 0 → a, 1 → c and d, -2 → the router alone; the truth and the reward arrive', async () => {
    const truth = x();
    const r0 = await seldon.sendFeedback({
      request: x(),
      response: answered({ router: 0 }, 'q-0'),
      reward: 0.5,
      truth,
    });
    assert.deepEqual(reached(r0.meta), ['a']);
    const tagA = r0.meta.tags['feedback.a'] as { truth: string; puid: string; routing: null };
    assert.equal(tagA.truth, 'tensor');
    assert.equal(tagA.puid, 'q-0');
    assert.equal(tagA.routing, null); // a model chose no branch
    count(['a'], 0.5);
    const r1 = await seldon.sendFeedback({ request: x(), response: answered({ router: 1 }), reward: 0 });
    assert.deepEqual(reached(r1.meta), ['c', 'd']);
    count(['c', 'd'], 0);
    // Seldon's executor also records -1 for models it passed: accepted
    const r2 = await seldon.sendFeedback({ request: x(), response: answered({ router: 1, c: -1 }), reward: 1 });
    assert.deepEqual(reached(r2.meta), ['c', 'd']);
    count(['c', 'd'], 1);
  });

  it('gRPC: bad feedback is INVALID_ARGUMENT naming the problem; the graph keeps serving', async () => {
    const bad = async (fb: FeedbackMessage, re: RegExp): Promise<void> => {
      const err = await seldon.sendFeedback(fb).then(
        () => assert.fail(`accepted ${JSON.stringify(fb.response?.meta.routing)}`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof InferError, String(err));
      assert.equal(err.code, Code.INVALID_ARGUMENT, err.message);
      assert.match(err.message, re);
    };
    await bad({ request: x(), reward: 1 }, /feedback has no response/);
    await bad(
      { response: answered({ router: 0, nope: 1 }), reward: 1 },
      /names 'nope', which is not a node of graph feedback-paths \(routers: router\)/,
    );
    await bad(
      { response: answered({ router: 2 }), reward: 1 },
      /router 'router' branch 2, out of range: it has 2 children/,
    );
    await bad({ response: answered({}), reward: 1 }, /no branch for router 'router'/);
    await bad(
      { response: answered({ router: 0, a: 1 }), reward: 1 },
      /gives 'a' branch 1, but it is a MODEL, not a router/,
    );
    // the router itself refuses what it cannot learn from; every delivery settles first, so the models on the
    // route have taken it (as in Seldon, a feedback is not atomic across nodes)
    await bad(
      { request: x(), response: answered({ router: 0 }), reward: 1.5 },
      /router: reward 1\.5 is outside 0\.\.1/,
    );
    count(['a'], 1.5);
    untake('router', 1.5);
    await bad(
      { request: x(), response: answered({ router: -1 }), reward: 1 },
      /router: feedback for branch -1, but epsilon-greedy has n_branches 2/,
    );
    count(['a', 'c', 'd'], 1);
    untake('router', 1);
    const after = await seldon.predict(x());
    assert.ok(after.meta.routing.router === 0 || after.meta.routing.router === 1);
  });

  it("REST /api/v1.0/feedback: the same delivery, and 400 with Seldon's status body naming the problem", async () => {
    const ok = await postFeedback(
      feedbackToJson({ request: x(), response: answered({ router: 1 }, 'rest-1'), reward: 1 }, 'tftensor'),
    );
    assert.equal(ok.status, 200);
    const body = (await ok.json()) as { meta: { puid: string; tags: Record<string, unknown> } };
    assert.deepEqual(reached(body.meta), ['c', 'd']);
    assert.equal(body.meta.puid, 'rest-1');
    count(['c', 'd'], 1);
    const refused = async (fb: unknown, re: RegExp): Promise<void> => {
      const res = await postFeedback(fb);
      const b = (await res.json()) as { status?: { code: number; info: string; reason: string } };
      assert.equal(res.status, 400, JSON.stringify(b));
      assert.equal(b.status?.code, 400);
      assert.match(b.status?.info ?? '', re);
    };
    await refused({ request: { data: { ndarray: [[1]] } }, reward: 1 }, /feedback has no response/);
    await refused({ response: { meta: { routing: { ghost: 0 } } }, reward: 1 }, /names 'ghost', which is not a node/);
    await refused({ response: { meta: { routing: { router: 7 } } }, reward: 1 }, /branch 7, out of range/);
    await refused({ response: { meta: { routing: { router: 0 } } }, reward: 'lots' }, /reward: "lots" is not a number/);
    await refused(
      { response: { data: { tensor: { shape: [2], values: [1] } } }, reward: 1 },
      /feedback response: .*shape \[2\] needs 2 values/,
    );
  });

  it("metrics: Seldon's seldon_api_model_feedback_total and _reward_total per node that took feedback", async () => {
    const text = await (await fetch(metrics)).text();
    const families = parseExposition(text);
    for (const node of ['router', 'a', 'c', 'd']) {
      const t = took.get(node) ?? { n: 0, reward: 0 };
      const labels = { model_name: node, deployment_name: 'feedback-paths', method: 'feedback' };
      assert.equal(total(families, 'seldon_api_model_feedback_total', labels), t.n, `${node} feedback count`);
      assert.equal(total(families, 'seldon_api_model_feedback_reward_total', labels), t.reward, `${node} reward sum`);
    }
    // the combiner is not a MODEL or ROUTER: never called, never counted
    assert.equal(total(families, 'seldon_api_model_feedback_total', { model_name: 'mix' }), 0);
    assert.ok((took.get('router')?.n ?? 0) >= 10);
  });
});
