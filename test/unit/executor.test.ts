import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Code, InferError } from '../../src/errors';
import { GraphExecutor } from '../../src/graph/executor';
import { emptyMeta, type InferMessage, type Payload } from '../../src/message/message';
import { FakeClient, map, sleep, values, vec, type Handler } from '../helpers/fake-client';
import { graph, node } from '../helpers/spec';

const req = (p: Payload, puid = ''): InferMessage => ({ meta: emptyMeta(puid), payload: p });
const soon = (ms = 5000): { deadline: number } => ({ deadline: Date.now() + ms });
const route =
  (n: number): Handler =>
  () =>
    vec(n);
const mean: Handler = (inputs) => {
  const list = (inputs as InferMessage[]).map(values);
  return vec(...(list[0] as number[]).map((_, i) => list.reduce((s, v) => s + (v[i] as number), 0) / list.length));
};

describe('graph walk (fake NodeClient)', () => {
  it('chain: MODEL with a MODEL child runs parent then child, answer is the child', async () => {
    const c = new FakeClient({ a: map((x) => x + 1), b: map((x) => x * 10) });
    const out = await new GraphExecutor(graph(node('a', 'MODEL', [node('b', 'MODEL')])), c).execute(
      req(vec(1, 2)),
      soon(),
    );
    assert.deepEqual(values(out), [20, 30]);
    assert.deepEqual(c.names(), ['a.predict', 'b.predict']);
  });

  it('transformer → model: transformInput then predict', async () => {
    const c = new FakeClient({ t: map((x) => x * 2), m: map((x) => x + 1) });
    const out = await new GraphExecutor(graph(node('t', 'TRANSFORMER', [node('m', 'MODEL')])), c).execute(
      req(vec(3)),
      soon(),
    );
    assert.deepEqual(values(out), [7]);
    assert.deepEqual(c.names(), ['t.transformInput', 'm.predict']);
  });

  it('combiner: children run in parallel and aggregate gets their answers in child order', async () => {
    const slow: Handler = async (i, o) => {
      await sleep(40, o.signal);
      return map((x) => x * 3)(i, o);
    };
    const c = new FakeClient({ comb: mean, a: slow, b: map((x) => x * 5) });
    const out = await new GraphExecutor(
      graph(node('comb', 'COMBINER', [node('a', 'MODEL'), node('b', 'MODEL')])),
      c,
    ).execute(req(vec(1)), soon());
    assert.deepEqual(values(out), [4]);
    const agg = c.calls.find((x) => x.method === 'aggregate');
    assert.deepEqual((agg?.input as InferMessage[]).map(values), [[3], [5]]);
    // b started before a (40 ms) finished: parallel.
    const [a, b] = [c.calls.find((x) => x.node === 'a'), c.calls.find((x) => x.node === 'b')];
    assert.ok(a && b && b.started - a.started < 30, 'children were not started in parallel');
  });

  it('output transformer post-processes its child', async () => {
    const c = new FakeClient({ ot: map((x) => -x), m: map((x) => x + 1) });
    const out = await new GraphExecutor(graph(node('ot', 'OUTPUT_TRANSFORMER', [node('m', 'MODEL')])), c).execute(
      req(vec(1)),
      soon(),
    );
    assert.deepEqual(values(out), [-2]);
    assert.deepEqual(c.names(), ['m.predict', 'ot.transformOutput']);
  });

  it('the ensemble shape: OT → transformer → combiner → two models', async () => {
    const c = new FakeClient({
      top: map((x) => x + 0.5),
      pre: map((x) => x * 2),
      ens: mean,
      r: map((x) => x * 3),
      d: map((x) => x * 5),
    });
    const g = graph(
      node('top', 'OUTPUT_TRANSFORMER', [
        node('pre', 'TRANSFORMER', [node('ens', 'COMBINER', [node('r', 'MODEL'), node('d', 'MODEL')])]),
      ]),
    );
    const out = await new GraphExecutor(g, c).execute(req(vec(1)), soon());
    assert.deepEqual(values(out), [8.5]);
    assert.deepEqual(c.names().slice(0, 1), ['pre.transformInput']);
    assert.deepEqual(c.names().slice(3), ['ens.aggregate', 'top.transformOutput']);
  });

  for (const [r, expectCalls, expected] of [
    [-1, ['router.route', 'a.predict', 'b.predict'], [10]],
    [-2, ['router.route'], [1]],
    [1, ['router.route', 'b.predict'], [100]],
  ] as const) {
    it(`router ${r}`, async () => {
      const c = new FakeClient({ router: route(r), a: map((x) => x * 10), b: map((x) => x * 100) });
      const out = await new GraphExecutor(
        graph(node('router', 'ROUTER', [node('a', 'MODEL'), node('b', 'MODEL')])),
        c,
      ).execute(req(vec(1)), soon());
      assert.deepEqual(values(out), expected);
      assert.deepEqual(c.names(), expectCalls);
      assert.equal(out.meta.routing.router, r);
    });
  }

  it('router choosing a child that does not exist is INTERNAL naming the router', async () => {
    const c = new FakeClient({ router: route(5), a: map((x) => x) });
    const err = await new GraphExecutor(graph(node('router', 'ROUTER', [node('a', 'MODEL')])), c)
      .execute(req(vec(1)), soon())
      .catch((e: unknown) => e);
    assert.ok(err instanceof InferError);
    assert.equal(err.code, Code.INTERNAL);
    assert.match(err.message, /router 'router' chose route 5 but has 1 children/);
  });

  it('first failing child cancels its siblings and its own status is returned', async () => {
    let siblingAborted = false;
    const c = new FakeClient({
      comb: mean,
      bad: async () => {
        await sleep(5);
        throw new InferError(Code.RESOURCE_EXHAUSTED, 'bad: out of memory');
      },
      slow: async (_i, o) => {
        try {
          await sleep(2000, o.signal);
        } catch (e) {
          siblingAborted = true;
          throw e;
        }
        return vec(1);
      },
    });
    const t0 = Date.now();
    const err = await new GraphExecutor(
      graph(node('comb', 'COMBINER', [node('slow', 'MODEL'), node('bad', 'MODEL')])),
      c,
    )
      .execute(req(vec(1)), soon())
      .catch((e: unknown) => e);
    assert.ok(err instanceof InferError);
    assert.equal(err.code, Code.RESOURCE_EXHAUSTED);
    assert.equal(err.message, 'bad: out of memory');
    assert.ok(siblingAborted, 'sibling was not cancelled');
    assert.ok(Date.now() - t0 < 1000, 'walk waited for the slow sibling');
    assert.ok(!c.names().includes('comb.aggregate'));
  });

  it('a fan-out of 12 hops listening to the request at once draws no MaxListenersExceededWarning', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `m${i}`);
    const handlers: Record<string, Handler> = { comb: mean };
    for (const n of names)
      handlers[n] = async (_i, o) => {
        await sleep(20, o.signal); // listens to the request's signal while it waits
        return vec(1);
      };
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const g = graph(
        node(
          'comb',
          'COMBINER',
          names.map((n) => node(n, 'MODEL')),
        ),
      );
      const out = await new GraphExecutor(g, new FakeClient(handlers)).execute(req(vec(1)), soon());
      assert.deepEqual(values(out), [1]);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(warnings, []);
  });

  it('a non-InferError from a hop becomes INTERNAL with its message', async () => {
    const c = new FakeClient({
      m: () => {
        throw new Error('boom');
      },
    });
    const err = await new GraphExecutor(graph(node('m', 'MODEL')), c)
      .execute(req(vec(1)), soon())
      .catch((e: unknown) => e);
    assert.ok(err instanceof InferError);
    assert.equal(err.code, Code.INTERNAL);
    assert.equal(err.message, 'boom');
  });

  it('one end-to-end deadline reaches every hop; a passed deadline fails before any hop', async () => {
    const c = new FakeClient({ t: map((x) => x), comb: mean, a: map((x) => x), b: map((x) => x) });
    const g = graph(node('t', 'TRANSFORMER', [node('comb', 'COMBINER', [node('a', 'MODEL'), node('b', 'MODEL')])]));
    const deadline = Date.now() + 1234;
    await new GraphExecutor(g, c).execute(req(vec(1)), { deadline });
    assert.equal(c.calls.length, 4);
    for (const call of c.calls) assert.equal(call.opts.deadline, deadline);
    const c2 = new FakeClient({});
    const err = await new GraphExecutor(g, c2)
      .execute(req(vec(1)), { deadline: Date.now() - 1 })
      .catch((e: unknown) => e);
    assert.ok(err instanceof InferError);
    assert.equal(err.code, Code.DEADLINE_EXCEEDED);
    assert.equal(c2.calls.length, 0);
  });

  it('client cancellation aborts in-flight hops', async () => {
    const c = new FakeClient({ m: async (_i, o) => (await sleep(2000, o.signal), vec(1)) });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 20);
    const err = await new GraphExecutor(graph(node('m', 'MODEL')), c)
      .execute(req(vec(1)), { deadline: Date.now() + 5000, signal: ac.signal })
      .catch((e: unknown) => e);
    assert.ok(err instanceof InferError);
    assert.equal(err.code, Code.CANCELLED);
    assert.equal(c.calls[0]?.aborted, true);
  });

  it('meta: puid generated once, tags/metrics/requestPath merged through every node including the combiner', async () => {
    const tagged =
      (tag: string, f: (x: number) => number): Handler =>
      (input) => {
        const m = input as InferMessage;
        return {
          meta: { ...emptyMeta(), tags: { [tag]: true }, metrics: [{ key: `${tag}_n`, type: 'COUNTER', value: 1 }] },
          payload: vec(...values(m).map(f)),
        };
      };
    const c = new FakeClient({
      top: tagged('top', (x) => x),
      comb: (inputs) => {
        const list = inputs as InferMessage[];
        // The combiner sees what its children tagged.
        assert.equal(list[0]?.meta.tags.a, true);
        assert.equal(list[0]?.meta.tags.b, true);
        return {
          meta: { ...emptyMeta(), tags: { comb: true }, metrics: [{ key: 'comb_n', type: 'COUNTER', value: 1 }] },
          payload: vec(0),
        };
      },
      a: tagged('a', (x) => x),
      b: tagged('b', (x) => x),
    });
    const g = graph(
      node('top', 'OUTPUT_TRANSFORMER', [node('comb', 'COMBINER', [node('a', 'MODEL'), node('b', 'MODEL')])]),
    );
    const input = req(vec(1));
    input.meta.tags.client = 'yes';
    input.meta.metrics.push({ key: 'client_n', type: 'GAUGE', value: 7 });
    const out = await new GraphExecutor(g, c).execute(input, soon());
    assert.match(out.meta.puid, /^[0-9a-f-]{36}$/);
    assert.deepEqual(out.meta.tags, { client: 'yes', a: true, b: true, comb: true, top: true });
    assert.deepEqual(out.meta.metrics.map((m) => m.key).sort(), ['a_n', 'b_n', 'client_n', 'comb_n', 'top_n']);
    assert.deepEqual(Object.keys(out.meta.requestPath).sort(), ['a', 'b', 'comb', 'top']);
    // Every hop of one request saw the same puid.
    assert.equal(
      new Set(
        c.calls.flatMap((x) => (Array.isArray(x.input) ? x.input : [x.input as InferMessage]).map((m) => m.meta.puid)),
      ).size,
      1,
    );
    const kept = await new GraphExecutor(graph(node('a', 'MODEL')), new FakeClient({ a: map((x) => x) })).execute(
      req(vec(1), 'my-puid'),
      soon(),
    );
    assert.equal(kept.meta.puid, 'my-puid');
  });
});
