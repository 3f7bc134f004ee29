import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { ConfigError } from '../../src/errors';
import { seldonCrdObject } from '../../src/k8s/seldon-crd';
import { parseAnyManifest, type Loaded } from '../../src/seldon/load';
import { CLI, REPO } from '../helpers/graph-process';

/**
 * SeldonDeployment validation: Seldon's webhook rules and infergraph's refusals, every problem at once, each message
 * exact (field path + what is wrong + what to do). Then the SeldonDeployment CRD and the CLI commands, run as the
 * real `infergraph` process.
 */

const parse = (yaml: string): Loaded => parseAnyManifest(yaml, '/tmp', 'sd.yaml');

function problems(yaml: string): string[] {
  try {
    parse(yaml);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => p.replace(/^sd\.yaml: /, ''));
  }
  return assert.fail('expected a ConfigError');
}

const CONTAINER = `  - componentSpecs:
    - spec:
        containers:
        - {name: clf, image: my/model:1}
`;

describe('SeldonDeployment validation', () => {
  it('reports every problem of a predictor list at once, with Seldon-webhook rules and field paths', () => {
    const yaml = `apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: sd}
spec:
  protocol: tensorflow
  transport: http
  predictors:
  - name: a
    traffic: 60
    graph: {name: clf, implementation: SKLEARN_SERVER}
  - name: a
    traffic: 30
    graph:
      name: r
      type: ROUTER
      children:
      - {name: x, type: MODEL}
      logger: {url: http://log}
  - name: s1
    shadow: true
    traffic: 101
    graph: {name: y, implementation: RANDOM_ABTEST}
  - name: s2
    shadow: true
    graph: {name: z, implementation: NO_SUCH_SERVER, modelUri: gs://b/m}
    componentSpecs:
    - kedaSpec: {triggers: []}
      spec: {containers: [{name: z, image: ''}]}
`;
    assert.deepEqual(problems(yaml), [
      "spec.protocol: 'tensorflow' (TF Serving's own API) is not supported: use protocol: seldon (TENSORFLOW_SERVER then runs behind Seldon's tfserving-proxy) or protocol: v2",
      'spec.transport: must be one of rest, grpc, got "http"',
      "spec.predictors[1].graph.children[0] (x): Can't find container for Predictive Unit: give it an implementation, a componentSpecs container named 'x', or an endpoint.service_host",
      'spec.predictors[1].graph (r).logger.mode: No logger mode specified: must be all, request or response, got undefined',
      "spec.predictors[1].graph (r): Can't find container for Predictive Unit: give it an implementation, a componentSpecs container named 'r', or an endpoint.service_host",
      'spec.predictors[2].graph (y).implementation: RANDOM_ABTEST is not supported: split traffic between predictors with traffic: instead',
      'spec.predictors[3].componentSpecs[0].kedaSpec: KEDA scaling is not supported: use hpaSpec (an autoscaling/v2 HorizontalPodAutoscaler is rendered)',
      "spec.predictors[1]: Duplicate predictor name 'a' (also at spec.predictors[0])",
      'spec.predictors[3].shadow: Multiple shadows are not allowed',
      "spec.predictors[2].traffic: a shadow's traffic must be from 0 to 100, got 101",
      'spec.predictors: Traffic must sum to 100 for multiple predictors (shadows excluded): got 90 (a 60, a 30)',
      'spec.predictors[0].graph (clf).modelUri: required for the prepackaged server SKLEARN_SERVER (where its model is: gs://, s3://, pvc://...)',
      "spec.predictors[3].graph (z).implementation: No entry in predictors map for NO_SUCH_SERVER: add it to the server table (--servers FILE, Seldon's predictor_servers shape) or give a componentSpecs container 'z' an image",
    ]);
  });

  it("a shadow alone, mixed endpoint types, bad parameters, v2 with a container: Seldon's and infergraph's messages", () => {
    const base = (spec: string): string =>
      `apiVersion: machinelearning.seldon.io/v1alpha3\nkind: SeldonDeployment\nmetadata: {name: sd}\nspec:\n${spec}`;
    assert.deepEqual(
      problems(base(`  predictors:\n${CONTAINER}    name: p\n    shadow: true\n    graph: {name: clf}\n`)),
      ['spec.predictors[0].shadow: Shadow can not exist as only predictor'],
    );
    assert.deepEqual(
      problems(
        base(`  transport: rest
  predictors:
${CONTAINER}        - {name: two, image: my/model:1}
    name: p
    graph:
      name: clf
      endpoint: {type: GRPC}
      parameters:
      - {name: n, type: INT, value: "1.5"}
      - {name: f, type: FLOAT, value: abc}
      - {name: b, type: BOOL, value: "yes"}
      - {name: j, type: JSON, value: "{bad"}
      - {name: s, type: TEXT, value: x}
      - {name: ok, type: DOUBLE, value: "2.5"}
      children:
      - {name: two, endpoint: {type: REST}}
`),
      ),
      [
        'spec.predictors[0].graph (clf).parameters[0] (n): value must be an integer for type INT, got "1.5"',
        'spec.predictors[0].graph (clf).parameters[1] (f): value must be a number for type FLOAT, got "abc"',
        'spec.predictors[0].graph (clf).parameters[2] (b): value must be true or false for type BOOL, got "yes"',
        'spec.predictors[0].graph (clf).parameters[3] (j): value must be valid JSON for type JSON, got "{bad"',
        'spec.predictors[0].graph (clf).parameters[4] (s): type must be one of INT, FLOAT, DOUBLE, STRING, BOOL, JSON, got "TEXT"',
        'spec: Multiple endpoint.types found - can only have 1 type in graph. Please use spec.transport',
      ],
    );
    assert.deepEqual(
      problems(
        base(
          `  transport: rest\n  predictors:\n${CONTAINER}    name: p\n    graph: {name: clf, endpoint: {type: GRPC}}\n`,
        ),
      ),
      ['spec: Mixed transport types found. Remove graph endpoint.types if transport set at deployment level'],
    );
    assert.deepEqual(
      problems(base(`  protocol: v2\n  predictors:\n${CONTAINER}    name: p\n    graph: {name: clf}\n`)),
      [
        "spec.predictors[0].graph (clf): protocol v2 needs the model to speak the V2 protocol to the executor, which calls nodes over Seldon's protocol: use protocol: seldon for this container, or an infergraph built-in",
      ],
    );
    assert.deepEqual(problems(base('  predictors: []\n')), [
      'spec.predictors: Graph contains no predictors: give at least one predictor with a graph',
    ]);
  });

  it('typed parameters reach an infergraph built-in typed; Seldon annotations set the deadline and message limit', () => {
    const l = parse(`apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: sd, annotations: {seldon.io/rest-timeout: "2500", seldon.io/grpc-timeout: "4000"}}
spec:
  transport: grpc
  annotations: {seldon.io/grpc-max-message-size: "33554432"}
  predictors:
  - name: p
    graph:
      name: s
      implementation: scale
      parameters: [{name: factor, type: FLOAT, value: "2.5"}]
`);
    const g = l.graphs[0]!.graph;
    assert.equal(g.name, 'sd-p');
    assert.deepEqual(g.graph.parameters, { factor: 2.5, offset: 0 }, 'FLOAT typed; the default applied');
    assert.equal(g.graph.implementation, 'scale');
    assert.equal(g.deadlineMs, 4000, 'gRPC transport: seldon.io/grpc-timeout');
    assert.equal(g.maxMessageBytes, 33554432);
    assert.equal(
      (l.graphs[0]!.manifest.metadata.annotations as Record<string, string>)['infergraph.dev/traffic'],
      '100',
    );
  });

  it('an endpoint unit becomes an endpoint node; AVERAGE_COMBINER the average-combiner built-in', () => {
    const l = parse(`apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: sd}
spec:
  predictors:
  - name: p
    graph:
      name: avg
      implementation: AVERAGE_COMBINER
      children:
      - {name: a, endpoint: {service_host: models.example, service_port: 9500}}
      - {name: b, endpoint: {service_host: models.example, service_port: 9501}}
`);
    const root = l.graphs[0]!.graph.graph;
    assert.equal(root.type, 'COMBINER');
    assert.equal(root.implementation, 'average-combiner');
    // transport rest (Seldon's default): Seldon's REST node API at the endpoint, as Seldon's executor calls it.
    assert.deepEqual(
      root.children.map((c) => c.endpoint),
      ['http://models.example:9500', 'http://models.example:9501'],
    );
    const grpc = parse(`apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: sd}
spec:
  transport: grpc
  predictors:
  - name: p
    graph: {name: a, endpoint: {service_host: models.example, service_port: 9500}}
`);
    assert.equal(grpc.graphs[0]!.graph.graph.endpoint, 'models.example:9500');
  });
});

describe('SeldonDeployment CRD (infergraph crd --seldon)', () => {
  it('is a valid, structural CRD serving v1, v1alpha2 and v1alpha3, which accepts the Seldon examples', () => {
    const crd = seldonCrdObject() as Record<string, any>;
    assert.doesNotThrow(() => new CustomResourceDefinition(crd as never).validate());
    assert.deepEqual(
      crd.spec.versions.map((v: any) => [v.name, v.storage]),
      [
        ['v1', true],
        ['v1alpha2', false],
        ['v1alpha3', false],
      ],
    );
    const schema = crd.spec.versions[0].schema.openAPIV3Schema;
    const walk = (s: any, at: string, out: string[]): string[] => {
      if (typeof s.type !== 'string' && s['x-kubernetes-preserve-unknown-fields'] !== true) out.push(`${at}: no type`);
      for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, `${at}.${k}`, out);
      if (s.items) walk(s.items, `${at}[]`, out);
      if (typeof s.additionalProperties === 'object') walk(s.additionalProperties, `${at}{}`, out);
      return out;
    };
    assert.deepEqual(walk(schema, '', []), [], 'every node typed (structural)');
    const ajv = new Ajv({ strict: false });
    const check = ajv.compile(schema);
    for (const f of ['model-with-hpa-v2.yaml', 'graph-metadata-router.yaml', 'tfserving-mnist-rest.yaml']) {
      const doc = parseYaml(execFileSync('cat', [path.join(REPO, 'test/fixtures/seldon', f)], { encoding: 'utf8' }));
      assert.ok(check(doc), `${f}: ${ajv.errorsText(check.errors)}`);
    }
    assert.equal(check({ spec: { predictors: [{ name: 'p', graph: { name: 'x', type: 'BAD' } }] } }), false);
  });
});

describe('infergraph CLI with SeldonDeployments (real process)', () => {
  const run = (args: string[], env: Record<string, string> = {}): { out: string; err: string; code: number | null } => {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
    return { out: r.stdout, err: r.stderr, code: r.status };
  };
  const fixture = (f: string): string => path.join(REPO, 'test/fixtures/seldon', f);

  it('convert prints one InferenceGraph with spec.predictors that validate then accepts', () => {
    const r = run(['convert', fixture('ab-test-mlflow.yaml')]);
    assert.equal(r.code, 0, r.err);
    const docs = parseAllDocuments(r.out).map((d) => d.toJS() as Record<string, any>);
    assert.deepEqual(
      docs.map((d) => [d.kind, d.metadata.name, d.spec.predictors.map((p: any) => [p.name, p.traffic])]),
      [
        [
          'InferenceGraph',
          'mlflow-deployment',
          [
            ['a-mlflow-deployment-dag', 80],
            ['b-mlflow-deployment-dag', 20],
          ],
        ],
      ],
    );
    const dir = mkdtempSync(path.join(os.tmpdir(), 'seldon-convert-'));
    writeFileSync(path.join(dir, 'a.yaml'), r.out.split(/^---\n/m)[1]!);
    const v = run(['validate', path.join(dir, 'a.yaml')]);
    assert.equal(v.code, 0, v.err);
    assert.match(v.out, /a-mlflow-deployment-dag-wines-classifier MODEL container seldonio\/mlflowserver:1\.17\.1/);
    assert.match(v.out, /predictor b-mlflow-deployment-dag: traffic 20%/);
  });

  it('up --no-docker refuses a graph with container nodes, naming each and the options', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'seldon-up-'));
    const converted = run(['convert', fixture('custom-metrics-grpc.yaml')]);
    writeFileSync(path.join(dir, 'g.yaml'), converted.out);
    const options =
      /; or run the image yourself \(PREDICTIVE_UNIT_HTTP_SERVICE_PORT .*\) and give the unit endpoint: \{service_host, service_port\} \(or the node endpoint: http:\/\/host:port for REST, host:port for gRPC\); run the whole graph in docker with k8s\/docker-run\.sh \S+ --keep-image seldonio\/model-with-metrics_grpc:0\.1; or deploy it with infergraph render \| kubectl apply -f -/;
    // The converted InferenceGraph, and the SeldonDeployment itself (up takes one of a single predictor).
    for (const file of [path.join(dir, 'g.yaml'), fixture('custom-metrics-grpc.yaml')]) {
      const r = run(['up', file, '--no-docker']);
      assert.equal(r.code, 2, r.err);
      assert.match(
        r.err,
        /spec\.graph \(classifier\): runs the container image seldonio\/model-with-metrics_grpc:0\.1, which infergraph up runs with docker, but --no-docker says not to: leave it out where a Docker engine answers; or run/,
      );
      assert.match(r.err, options);
    }
    // Without --no-docker and no engine to reach: the same options, and why docker is out.
    const r = run(['up', fixture('custom-metrics-grpc.yaml')], { DOCKER_HOST: `unix://${dir}/no-engine.sock` });
    assert.equal(r.code, 2, r.err);
    assert.match(
      r.err,
      /spec\.graph \(classifier\): runs the container image seldonio\/model-with-metrics_grpc:0\.1, which infergraph up runs with docker, but no Docker engine answers here \('docker info' failed: [^)]+\): start one, or point DOCKER_HOST at one; or run/,
    );
    assert.match(r.err, options);
  });

  it('validate prints warnings on stderr and the predictors; a refusal exits 2 naming the field', () => {
    const ok = run(['validate', fixture('model-seldon-grpc.yaml')]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.err, /warning: .*unknown field 'protocol' ignored/);
    assert.match(ok.out, /^grpc-seldon: SeldonDeployment, 1 predictor\(s\), protocol seldon, transport grpc$/m);
    const bad = run(['validate', fixture('income-explainer.yaml')]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /spec\.predictors\[0\]\.explainer: explainers are not supported/);
  });

  it('crd --seldon and render --servers with a predictor_servers table of its own', () => {
    const crd = run(['crd', '--seldon']);
    assert.equal(crd.code, 0, crd.err);
    assert.equal(
      (parseYaml(crd.out) as Record<string, any>).metadata.name,
      'seldondeployments.machinelearning.seldon.io',
    );
    const dir = mkdtempSync(path.join(os.tmpdir(), 'seldon-servers-'));
    const table = path.join(dir, 'servers.json');
    writeFileSync(
      table,
      JSON.stringify({
        SKLEARN_SERVER: { protocols: { seldon: { image: 'registry.local/sk', defaultImageVersion: '9' } } },
      }),
    );
    const r = run(['render', '--servers', table, fixture('sklearn-iris.yaml')]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /image: registry\.local\/sk:9/);
  });
});
