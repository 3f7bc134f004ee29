import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULTS, loadManifestFile, parseManifest } from '../../src/graph/manifest';
import { REPO } from '../helpers/graph-process';
import { manifestProblems as problems } from '../helpers/spec';

const base = (graph: string, spec = ''): string => `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata:
  name: g
spec:
${spec}  graph:
${graph
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
`;

describe('manifest validation', () => {
  it('loads the example graph with defaults applied', () => {
    const g = loadManifestFile(path.join(REPO, 'graphs/test-ensemble.yaml'));
    assert.equal(g.name, 'test-ensemble');
    assert.equal(g.codec, 'tftensor');
    assert.equal(g.hopTransport, 'frames');
    assert.equal(g.maxMessageBytes, DEFAULTS.maxMessageBytes);
    assert.equal(g.graph.children[0]?.children[0]?.children.length, 2);
    assert.deepEqual(g.graph.parameters, { factor: 1, offset: 1 });
    assert.equal(g.graph.children[0]?.parameters.offset, 0, 'default parameter not applied');
    assert.equal(g.graph.runtime.restart.maxRestarts, DEFAULTS.restart.maxRestarts);
  });

  it('accepts Seldon-style parameter lists with string values', () => {
    const g = parseManifest(
      base('name: m\ntype: MODEL\nimplementation: scale\nparameters:\n  - {name: factor, value: "2.5", type: FLOAT}'),
      '/tmp',
    );
    assert.equal(g.graph.parameters.factor, 2.5);
  });

  it('rejects invalid YAML with the parser message', () => {
    assert.match(problems('apiVersion: [unclosed')[0] ?? '', /m\.yaml: invalid YAML/);
  });

  it('names the node path and the problem for each mistake, all at once', () => {
    const p = problems(
      base(`name: top
type: COMBINER
implementation: sum-combiner
children:
  - {name: a, type: MODLE, implementation: scale, parameters: {factor: 1}}
  - {name: a, type: MODEL, implementation: nope}
  - {name: c, type: MODEL, implementation: scale}
  - {name: d, type: ROUTER, implementation: fixed-router}
  - {name: e, type: MODEL, implementation: scale, parameters: {factor: x, colour: red}}
  - {name: f, type: MODEL, endpoint: "localhost:99999"}
  - {name: g, type: MODEL, implementation: sum-combiner}
  - {name: Bad_Name, type: MODEL, implementation: identity}
  - {name: h, type: MODEL, implementation: identity, replicas: 3}`),
    );
    const expect = [
      'm.yaml: spec.graph.children[0] (a): type must be one of MODEL, TRANSFORMER, OUTPUT_TRANSFORMER, COMBINER, ROUTER, got "MODLE"',
      "m.yaml: spec.graph.children[1] (a): duplicate node name 'a' (also at spec.graph.children[0])",
      "m.yaml: spec.graph.children[1] (a): unknown implementation 'nope' (built-ins:",
      "m.yaml: spec.graph.children[2] (c): missing required parameter 'factor' (number: multiplier)",
      'm.yaml: spec.graph.children[3] (d): ROUTER needs at least one child',
      'm.yaml: spec.graph.children[4] (e).parameters.factor: must be a number, got "x"',
      "m.yaml: spec.graph.children[4] (e): unknown parameter 'colour' (known: factor, offset)",
      'm.yaml: spec.graph.children[5] (f): bad endpoint "localhost:99999": port 99999 is out of range 1-65535',
      "m.yaml: spec.graph.children[6] (g): implementation 'sum-combiner' cannot serve a MODEL node (it serves COMBINER)",
      'm.yaml: spec.graph.children[7] (Bad_Name): name must be a DNS-1123 label',
      "m.yaml: spec.graph.children[8] (h): unknown field 'replicas'",
    ];
    for (const e of expect)
      assert.ok(
        p.some((x) => x.startsWith(e)),
        `missing problem: ${e}\n got:\n${p.join('\n')}`,
      );
    assert.equal(p.length, expect.length, p.join('\n'));
  });

  it('checks the document shape and spec fields', () => {
    const p = problems(`apiVersion: v1
kind: Deployment
metadata: {name: UPPER}
spec:
  codec: protobuf
  hopTransport: http
  deadlineMs: -5
`);
    assert.deepEqual(p, [
      'm.yaml: apiVersion: must be \'infergraph.dev/v1alpha1\', got "v1"',
      'm.yaml: kind: must be \'InferenceGraph\', got "Deployment"',
      'm.yaml: metadata.name: must be a DNS-1123 label (lowercase letters, digits, \'-\', at most 63), got "UPPER"',
      'm.yaml: spec.deadlineMs: must be an integer >= 1, got -5',
      'm.yaml: spec.codec: must be one of tftensor, tensor, ndarray, flatbuffers, got "protobuf"',
      'm.yaml: spec.hopTransport: must be one of grpc, frames, got "http"',
      'm.yaml: spec.graph: required: the root node of the graph (or spec.predictors)',
    ]);
  });

  it('runtime.replicas defaults to 1 and must be an integer >= 1', () => {
    const one = parseManifest(base('name: m\ntype: MODEL\nimplementation: identity'), '/tmp');
    assert.equal(one.graph.runtime.replicas, 1);
    const three = parseManifest(base('name: m\ntype: MODEL\nimplementation: identity\nruntime: {replicas: 3}'), '/tmp');
    assert.equal(three.graph.runtime.replicas, 3);
    for (const bad of ['0', '1.5', '"2"', '-1']) {
      assert.deepEqual(problems(base(`name: m\ntype: MODEL\nimplementation: identity\nruntime: {replicas: ${bad}}`)), [
        `m.yaml: spec.graph (m).runtime.replicas: must be an integer >= 1, got ${bad}`,
      ]);
    }
  });

  it('validates endpoints', () => {
    const ok = parseManifest(base('name: ext\ntype: MODEL\nendpoint: "unix:/run/model.sock"'), '/tmp');
    assert.equal(ok.graph.endpoint, 'unix:/run/model.sock');
    assert.match(problems(base('name: ext\ntype: MODEL\nendpoint: "unix:relative.sock"'))[0] ?? '', /absolute path/);
    assert.match(problems(base('name: ext\ntype: MODEL\nendpoint: "http://x"'))[0] ?? '', /expected host:port/);
    assert.match(problems(base('name: ext\ntype: MODEL'))[0] ?? '', /implementation is required/);
  });

  it('resolves user component modules against the manifest folder and reports unloadable ones', () => {
    assert.match(
      problems(base('name: u\ntype: MODEL\nimplementation: ./missing-component.js'))[0] ?? '',
      /cannot load component module \/tmp\/missing-component\.js/,
    );
  });
});

describe('manifest validation reports everything at once', () => {
  it('tracing problems come together with graph problems', () => {
    const p = problems(
      base('name: Bad\ntype: MODEL\nimplementation: scale', '  tracing:\n    exporter: zipkin\n    sampleRatio: 2\n'),
    );
    assert.deepEqual(p, [
      'm.yaml: spec.graph (Bad): name must be a DNS-1123 label ' +
        `(lowercase letters, digits, '-', at most 63), got "Bad"`,
      "m.yaml: spec.graph (Bad): missing required parameter 'factor' (number: multiplier)",
      'm.yaml: spec.tracing.exporter: must be one of none, jaeger, otlp-grpc, otlp-http, got "zipkin"',
      'm.yaml: spec.tracing.sampleRatio: must be a number from 0 to 1, got 2',
    ]);
  });
});
