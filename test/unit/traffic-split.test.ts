import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Code, InferError } from '../../src/errors';
import { parseManifest } from '../../src/graph/manifest';
import { allNodes, predictorsOf } from '../../src/graph/spec';
import type { FrontDoor, RequestEnd, RequestMeter } from '../../src/executor/data-plane';
import { pickByWeight, TrafficSplit } from '../../src/executor/predictors';
import type { FeedbackMessage } from '../../src/message/feedback';
import { emptyMeta, type InferMessage } from '../../src/message/message';
import { FakeClient, sleep, vec } from '../helpers/fake-client';
import { manifestProblems } from '../helpers/spec';

/** The weighted choice, the shadow copies' bound and accounting, and spec.predictors' validation. */

const manifest = (predictors: string, extra = ''): string => `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: t}
spec:
${extra}  predictors:
${predictors}`;

const THREE = `    - {name: a, traffic: 75, graph: {name: a-m, type: MODEL, implementation: identity}}
    - {name: b, traffic: 25, graph: {name: b-m, type: MODEL, implementation: identity}}
    - {name: s, shadow: true, graph: {name: s-m, type: MODEL, implementation: identity}}
`;

const request = (): InferMessage => ({ meta: emptyMeta(), payload: vec(1) });

/** A meter that records what TrafficSplit reports about shadows. */
class ShadowLog implements RequestMeter {
  readonly ended: { predictor?: string; code: number }[] = [];
  readonly dropped: string[] = [];
  start(): RequestEnd {
    return () => undefined;
  }
  shadow(_door: FrontDoor, predictor: string): RequestEnd {
    return (code) => this.ended.push({ predictor, code });
  }
  shadowDropped(predictor: string): void {
    this.dropped.push(predictor);
  }
}

const DOOR: FrontDoor = { service: 'predictions', http: 'POST' };
const until = async (ok: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !ok(); i++) await sleep(2);
  assert.ok(ok(), 'condition not reached in 1 s');
};

describe('pickByWeight', () => {
  it('gives each weight its share of [0, 1), skipping zero weights', () => {
    const w = [75, 0, 25];
    assert.equal(pickByWeight(w, 0), 0);
    assert.equal(pickByWeight(w, 0.7499), 0);
    assert.equal(pickByWeight(w, 0.75), 2);
    assert.equal(pickByWeight(w, 0.999999), 2);
    assert.equal(pickByWeight([0, 100], 0), 1);
    assert.equal(pickByWeight([0, 0], 0.5), undefined);
    // r * total rounding up to total still lands on the last positive weight
    assert.equal(pickByWeight([30, 70, 0], 1), 1);
  });

  it('over an even grid of draws, each index gets exactly its weight', () => {
    const w = [10, 20, 30, 40];
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 1000; i++) counts[pickByWeight(w, i / 1000) as number]! += 1;
    assert.deepEqual(counts, [100, 200, 300, 400]);
  });
});

describe('TrafficSplit', () => {
  const g = parseManifest(manifest(THREE), '/tmp', 't.yaml');

  it('draws the live predictor by weight, never a shadow; a pin wins; an unknown pin is INVALID_ARGUMENT', () => {
    let r = 0;
    const split = new TrafficSplit(g, new FakeClient({}), { random: () => r });
    r = 0.1;
    assert.equal(split.choose(request()).name, 'a');
    r = 0.8;
    assert.equal(split.choose(request()).name, 'b');
    assert.equal(split.choose(request(), 'a').name, 'a');
    assert.equal(split.choose(request(), 's').name, 's');
    assert.throws(
      () => split.choose(request(), 'nope'),
      (e: unknown) =>
        e instanceof InferError &&
        e.code === Code.INVALID_ARGUMENT &&
        e.message === "x-infergraph-predictor 'nope': no such predictor (predictors: a, b, s)",
    );
  });

  it('feedback goes to the predictor that answered: the pin, else the one holding the nodes its response names', () => {
    // Draws would say b; the response's meta says a.
    const split = new TrafficSplit(g, new FakeClient({}), { random: () => 0.9 });
    const answeredBy = (node: string): FeedbackMessage => ({
      response: { meta: { ...emptyMeta(), requestPath: { [node]: 'identity' } }, payload: vec(1) },
      reward: 1,
    });
    assert.equal(split.chooseForFeedback(answeredBy('a-m')).name, 'a');
    assert.equal(split.chooseForFeedback(answeredBy('b-m')).name, 'b');
    assert.equal(split.chooseForFeedback(answeredBy('b-m'), 'a').name, 'a', 'a pin wins');
    assert.equal(
      typeof split.chooseForFeedback(answeredBy('a-m')).feedback,
      'function',
      'each predictor takes feedback',
    );
    for (const fb of [answeredBy('nowhere'), { reward: 0 }])
      assert.throws(
        () => split.chooseForFeedback(fb),
        (e: unknown) =>
          e instanceof InferError &&
          e.code === Code.INVALID_ARGUMENT &&
          /do not name the nodes of one predictor \(predictors: a, b\); send the predictor that answered in x-infergraph-predictor/.test(
            e.message,
          ),
      );
    const one = new TrafficSplit(
      parseManifest(
        manifest('    - {name: a, graph: {name: a-m, type: MODEL, implementation: identity}}\n'),
        '/tmp',
        't.yaml',
      ),
      new FakeClient({}),
    );
    assert.equal(one.chooseForFeedback({ reward: 0 }).name, 'a', 'one live predictor takes every feedback');
  });

  it("copies to the shadow off the caller's path, at most shadowMaxInFlight at once; the rest dropped and counted", async () => {
    const small = parseManifest(manifest(THREE, '  shadowMaxInFlight: 2\n'), '/tmp', 't.yaml');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const client = new FakeClient({
      's-m': async () => {
        await gate;
        throw new InferError(Code.INTERNAL, 'shadow broke');
      },
    });
    const meter = new ShadowLog();
    const split = new TrafficSplit(small, client, { meter });
    for (let i = 0; i < 5; i++) split.mirror(request(), { door: DOOR, deadline: Date.now() + 5000 });
    // mirror returned at once: nothing has reached the shadow yet, three copies were refused outright
    assert.equal(client.calls.length, 0);
    assert.deepEqual(meter.dropped, ['s', 's', 's']);
    await until(() => client.calls.length === 2);
    release();
    await until(() => meter.ended.length === 2);
    assert.deepEqual(meter.ended, [
      { predictor: 's', code: Code.INTERNAL },
      { predictor: 's', code: Code.INTERNAL },
    ]);
    // slots are free again once the copies ended
    split.mirror(request(), { door: DOOR, deadline: Date.now() + 5000 });
    await until(() => meter.ended.length === 3);
    assert.equal(meter.dropped.length, 3);
  });

  it("copies a shadow's traffic percent of requests", async () => {
    const half = parseManifest(
      manifest(`    - {name: a, graph: {name: a-m, type: MODEL, implementation: identity}}
    - {name: s, shadow: true, traffic: 50, graph: {name: s-m, type: MODEL, implementation: identity}}
`),
      '/tmp',
      't.yaml',
    );
    const draws = [0.2, 0.7, 0.49, 0.5];
    const client = new FakeClient({ 's-m': () => vec(1) });
    const split = new TrafficSplit(half, client, { random: () => draws.shift() ?? 0 });
    for (let i = 0; i < 4; i++) split.mirror(request(), { door: DOOR, deadline: Date.now() + 5000 });
    await until(() => client.calls.length === 2);
    await sleep(20);
    assert.equal(client.calls.length, 2);
  });
});

describe('spec.predictors', () => {
  it('validates into predictors, the first live one as spec.graph, every node in allNodes', () => {
    const g = parseManifest(manifest(THREE), '/tmp', 't.yaml');
    assert.deepEqual(
      predictorsOf(g).map((p) => [p.name, p.traffic, p.shadow]),
      [
        ['a', 75, false],
        ['b', 25, false],
        ['s', 100, true],
      ],
    );
    assert.equal(g.graph.name, 'a-m');
    assert.deepEqual(
      allNodes(g).map((n) => n.name),
      ['a-m', 'b-m', 's-m'],
    );
    const one = parseManifest(
      manifest('    - {name: only, graph: {name: m, type: MODEL, implementation: identity}}\n'),
      '/tmp',
      't.yaml',
    );
    assert.deepEqual(
      predictorsOf(one).map((p) => [p.name, p.traffic]),
      [['only', 100]],
    );
  });

  it('a graph written with spec.graph is the one predictor "default"', () => {
    const g = parseManifest(
      'apiVersion: infergraph.dev/v1alpha1\nkind: InferenceGraph\nmetadata: {name: t}\nspec:\n  graph: {name: m, type: MODEL, implementation: identity}\n',
      '/tmp',
      't.yaml',
    );
    assert.equal(g.predictors, undefined);
    assert.deepEqual(
      predictorsOf(g).map((p) => [p.name, p.traffic, p.shadow]),
      [['default', 100, false]],
    );
  });

  it('refuses every problem at once, naming the field', () => {
    assert.deepEqual(
      manifestProblems(
        manifest(`    - {name: a, traffic: 60, graph: {name: m, type: MODEL, implementation: identity}}
    - {name: a, traffic: 30, graph: {name: m, type: MODEL, implementation: identity}}
    - {name: s, shadow: true, traffic: 101, graph: {name: x, type: MODEL, implementation: identity}}
    - {name: t, shadow: true}
`),
      ),
      [
        "m.yaml: spec.predictors[1] (a): duplicate predictor name 'a' (also at spec.predictors[0])",
        "m.yaml: spec.predictors[1].graph (m): duplicate node name 'm' (also at spec.predictors[0].graph)",
        'm.yaml: spec.predictors[2].traffic: must be an integer from 0 to 100, got 101',
        'm.yaml: spec.predictors[3] (t).graph: required: the root node of the predictor',
      ],
    );
    assert.deepEqual(
      manifestProblems(
        manifest(`    - {name: a, traffic: 60, graph: {name: m, type: MODEL, implementation: identity}}
    - {name: b, traffic: 30, graph: {name: n, type: MODEL, implementation: identity}}
`),
      ),
      [
        'm.yaml: spec.predictors: traffic of the live predictors must sum to 100 (shadows excluded): got 90 (a 60, b 30)',
      ],
    );
    assert.deepEqual(
      manifestProblems(
        manifest('    - {name: s, shadow: true, graph: {name: m, type: MODEL, implementation: identity}}\n'),
      ),
      ['m.yaml: spec.predictors: needs a live predictor: shadows only get copies of what a live predictor answers'],
    );
    assert.deepEqual(
      manifestProblems(
        manifest('    - {name: a, traffic: 50, graph: {name: m, type: MODEL, implementation: identity}}\n'),
      ),
      ['m.yaml: spec.predictors[0].traffic: a lone live predictor takes all requests: give 100 or nothing, got 50'],
    );
    assert.deepEqual(
      manifestProblems(
        manifest(
          '    - {name: a, graph: {name: m, type: MODEL, implementation: identity}}\n',
          '  graph: {name: g, type: MODEL, implementation: identity}\n',
        ),
      ),
      ['m.yaml: spec: give either graph (one graph) or predictors (several behind one executor), not both'],
    );
    assert.deepEqual(manifestProblems(manifest('    []\n')), [
      'm.yaml: spec.predictors: must be a non-empty list of predictors ({name, traffic, shadow, graph})',
    ]);
  });
});
