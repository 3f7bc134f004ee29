import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Code, InferError } from '../../src/errors';
import { GraphExecutor } from '../../src/graph/executor';
import { emptyMeta, type InferMessage } from '../../src/message/message';
import { FakeClient, sleep, vec, type Handler } from '../helpers/fake-client';
import { graph, node } from '../helpers/spec';

/** GraphExecutor.feedback with a fake NodeClient: which nodes a feedback reaches, and what it refuses. */

const soon = { deadline: Date.now() + 60_000 };
const took: Handler = () => ({ kind: 'none' });
const lacks: Handler = () => {
  throw new InferError(Code.UNIMPLEMENTED, 'component does not implement sendFeedback');
};
// top (OUTPUT_TRANSFORMER) → r (ROUTER) → [m0 (MODEL), comb (COMBINER) → [m1, m2], r2 (ROUTER) → [m3, m4]]
const g = graph(
  node('top', 'OUTPUT_TRANSFORMER', [
    node('r', 'ROUTER', [
      node('m0', 'MODEL'),
      node('comb', 'COMBINER', [node('m1', 'MODEL'), node('m2', 'MODEL')]),
      node('r2', 'ROUTER', [node('m3', 'MODEL'), node('m4', 'MODEL')]),
    ]),
  ]),
);
const response = (routing: Record<string, number>): InferMessage => ({
  meta: { ...emptyMeta('p'), routing },
  payload: vec(1),
});
const client = (): FakeClient =>
  new FakeClient({ top: took, r: took, r2: took, m0: took, m1: took, m2: lacks, m3: took, m4: took, comb: took });

describe('feedback walk along meta.routing (fake NodeClient)', () => {
  it('reaches the ROUTER and MODEL nodes on the recorded route, each with sendFeedback and the whole feedback', async () => {
    const cases: [Record<string, number>, string[]][] = [
      [{ r: 0 }, ['m0', 'r']],
      [{ r: 1 }, ['m1', 'm2', 'r']],
      [{ r: 2, r2: 1 }, ['m4', 'r', 'r2']],
      [{ r: 2, r2: -1 }, ['m3', 'm4', 'r', 'r2']],
      [{ r: -2 }, ['r']],
      [{ r: -1, r2: 0 }, ['m0', 'm1', 'm2', 'm3', 'r', 'r2']],
    ];
    for (const [routing, expected] of cases) {
      const c = client();
      const fb = { request: { meta: emptyMeta(), payload: vec(1) }, response: response(routing), reward: 0.5 };
      const reply = await new GraphExecutor(g, c).feedback(fb, soon);
      assert.deepEqual(c.calls.map((x) => x.node).sort(), expected, JSON.stringify(routing));
      assert.ok(c.calls.every((x) => x.method === 'sendFeedback' && x.input === fb));
      assert.equal(reply.meta.puid, 'p');
      assert.deepEqual(reply.meta.routing, routing);
    }
  });

  it('refuses what does not fit the graph, naming it; nothing is delivered then', async () => {
    const bad: [Record<string, number> | undefined, RegExp, number?][] = [
      [undefined, /feedback has no response/],
      [{ r: 0, ghost: 1 }, /names 'ghost', which is not a node of graph .* \(routers: r, r2\)/],
      [{ r: 3 }, /router 'r' branch 3, out of range: it has 3 children \(valid: -2, -1, 0\.\.2\)/],
      [{ r: 0.5 }, /router 'r' branch 0\.5, out of range/],
      [{ r: 2 }, /no branch for router 'r2'/],
      [{ r: 0, m0: 0 }, /gives 'm0' branch 0, but it is a MODEL, not a router/],
      [{ r: 0 }, /reward NaN is not a finite number/, NaN],
    ];
    for (const [routing, re, reward] of bad) {
      const c = client();
      const fb = { ...(routing ? { response: response(routing) } : {}), reward: reward ?? 1 };
      await assert.rejects(
        new GraphExecutor(g, c).feedback(fb, soon),
        (e: unknown) => e instanceof InferError && e.code === Code.INVALID_ARGUMENT && re.test(e.message),
      );
      assert.equal(c.calls.length, 0);
    }
  });

  it("a node's refusal is the answer, after the other deliveries settle; UNIMPLEMENTED nodes are skipped", async () => {
    let m1Done = false;
    const c = new FakeClient({
      r: () => {
        throw new InferError(Code.INVALID_ARGUMENT, 'r: reward out of range');
      },
      // slower than the refusal: it still completes before the answer
      m1: async () => (await sleep(30), (m1Done = true), vec(1)),
      m2: lacks,
    });
    await assert.rejects(
      new GraphExecutor(g, c).feedback({ response: response({ r: 1 }), reward: 1 }, soon),
      /r: reward out of range/,
    );
    assert.ok(m1Done);
    assert.deepEqual(c.calls.map((x) => x.node).sort(), ['m1', 'm2', 'r']);
  });
});
