import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../../src/errors';
import { parseManifest } from '../../src/graph/manifest';
import { crdObject, crdYaml, NODE_DEPTH } from '../../src/k8s/crd';
import { REPO } from '../helpers/graph-process';
import { manifestFiles } from '../helpers/manifests';

/**
 * The CRD is generated from the validator's schema: checked in as generated, structural (what apiextensions.k8s.io/v1
 * demands), and in agreement with the validator on real and broken manifests. No API server runs here, so the
 * CRD's schema is applied with ajv the way the API server would with `kubectl apply` (strict field validation,
 * kubectl's default since 1.27: unknown fields are errors).
 */

type S = Record<string, unknown>;

/** Structural schema rules (k8s.io/apiextensions-apiserver: structural.go), the ones a generator could break. */
function structuralProblems(s: S, at: string, out: string[]): string[] {
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
  const intOrString = s['x-kubernetes-int-or-string'] === true;
  if (typeof s.type !== 'string' && !preserve && !intOrString) out.push(`${at}: no type`);
  if (s.properties && s.additionalProperties) out.push(`${at}: properties and additionalProperties together`);
  if (s.additionalProperties === false) out.push(`${at}: additionalProperties false is not allowed`);
  for (const j of ['anyOf', 'oneOf', 'allOf']) {
    const list = s[j] as S[] | undefined;
    if (!list) continue;
    const ok =
      intOrString &&
      j === 'anyOf' &&
      list.length === 2 &&
      list.every((x) => Object.keys(x).length === 1 && (x.type === 'integer' || x.type === 'string'));
    if (!ok) out.push(`${at}: ${j} other than the int-or-string form`);
  }
  if (s.default !== undefined && s.type === 'object') out.push(`${at}: object defaults`);
  for (const [k, v] of Object.entries((s.properties as Record<string, S>) ?? {}))
    structuralProblems(v, `${at}.${k}`, out);
  if (s.items) structuralProblems(s.items as S, `${at}[]`, out);
  if (s.additionalProperties && typeof s.additionalProperties === 'object')
    structuralProblems(s.additionalProperties as S, `${at}{}`, out);
  return out;
}

const openApi = (): S => {
  const versions = (crdObject().spec as { versions: { schema: { openAPIV3Schema: S } }[] }).versions;
  return versions[0]?.schema.openAPIV3Schema as S;
};

/** The CRD schema as ajv sees the API server apply it: strict about unknown fields where fields are declared. */
function strict(s: S): S {
  const out: S = { ...s };
  if (out.properties && out['x-kubernetes-preserve-unknown-fields'] !== true) out.additionalProperties = false;
  if (out.properties)
    out.properties = Object.fromEntries(
      Object.entries(out.properties as Record<string, S>).map(([k, v]) => [k, strict(v)]),
    );
  if (out.items) out.items = strict(out.items as S);
  if (out.additionalProperties && typeof out.additionalProperties === 'object')
    out.additionalProperties = strict(out.additionalProperties as S);
  return out;
}

function crdValidator(): (doc: unknown) => string[] {
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  for (const k of [
    'x-kubernetes-preserve-unknown-fields',
    'x-kubernetes-int-or-string',
    'x-kubernetes-list-type',
    'x-kubernetes-list-map-keys',
  ]) {
    ajv.addKeyword({ keyword: k });
  }
  const validate = ajv.compile(strict(openApi()));
  return (doc) => (validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`));
}

const doc = (graph: string, spec = ''): string => `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: g}
spec:
${spec}  graph:
${graph
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
`;

/** Broken manifests of the validation tests. `crd`: the CRD rejects it too; `operator`: only the validator can tell. */
const BROKEN: { what: string; yaml: string; crd: boolean }[] = [
  {
    what: 'unknown node type',
    yaml: doc('{name: a, type: MODLE, implementation: scale, parameters: {factor: 1}}'),
    crd: true,
  },
  {
    what: 'node name not a DNS label',
    yaml: doc('{name: Bad_Name, type: MODEL, implementation: identity}'),
    crd: true,
  },
  { what: 'unknown node field', yaml: doc('{name: h, type: MODEL, implementation: identity, replicas: 3}'), crd: true },
  {
    what: 'unknown codec',
    yaml: doc('{name: a, type: MODEL, implementation: identity}', '  codec: protobuf\n'),
    crd: true,
  },
  {
    what: 'negative deadline',
    yaml: doc('{name: a, type: MODEL, implementation: identity}', '  deadlineMs: -5\n'),
    crd: true,
  },
  {
    // The CRD says so in a CEL rule (x-kubernetes-validations), which the API server applies and ajv cannot.
    what: 'missing graph',
    yaml: 'apiVersion: infergraph.dev/v1alpha1\nkind: InferenceGraph\nmetadata: {name: g}\nspec: {codec: tftensor}\n',
    crd: false,
  },
  {
    what: 'unknown exporter',
    yaml: doc('{name: a, type: MODEL, implementation: identity}', '  tracing: {exporter: zipkin}\n'),
    crd: true,
  },
  {
    what: 'sample ratio > 1',
    yaml: doc('{name: a, type: MODEL, implementation: identity}', '  tracing: {exporter: none, sampleRatio: 2}\n'),
    crd: true,
  },
  {
    what: 'zero replicas',
    yaml: doc('{name: a, type: MODEL, implementation: identity, runtime: {replicas: 0}}'),
    crd: true,
  },
  {
    what: 'bad quantity',
    yaml: doc('{name: a, type: MODEL, implementation: identity, runtime: {resources: {limits: {memory: lots}}}}'),
    crd: true,
  },
  {
    what: 'unknown model source',
    yaml: doc('{name: a, type: MODEL, implementation: identity, runtime: {models: {source: s3}}}'),
    crd: true,
  },
  {
    what: 'unknown executor field',
    yaml: doc('{name: a, type: MODEL, implementation: identity}', '  executor: {replica: 2}\n'),
    crd: true,
  },
  {
    what: 'a bad node deep in the tree (within the expanded depth)',
    yaml: doc(`name: l0
type: TRANSFORMER
implementation: identity
children:
  - name: l1
    type: TRANSFORMER
    implementation: identity
    children:
      - {name: l2, type: MODLE, implementation: identity}`),
    crd: true,
  },
  // Beyond what a schema can say: uniqueness across the tree, component parameters, endpoint ports, child counts.
  {
    what: 'duplicate node names',
    yaml: doc(
      'name: a\ntype: COMBINER\nimplementation: sum-combiner\nchildren:\n  - {name: a, type: MODEL, implementation: identity}',
    ),
    crd: false,
  },
  { what: 'unknown implementation', yaml: doc('{name: a, type: MODEL, implementation: nope}'), crd: false },
  { what: 'missing required parameter', yaml: doc('{name: c, type: MODEL, implementation: scale}'), crd: false },
  { what: 'ROUTER without children', yaml: doc('{name: d, type: ROUTER, implementation: fixed-router}'), crd: false },
  {
    what: 'parameter of the wrong type',
    yaml: doc('{name: e, type: MODEL, implementation: scale, parameters: {factor: x}}'),
    crd: false,
  },
  { what: 'endpoint port out of range', yaml: doc('{name: f, type: MODEL, endpoint: "localhost:99999"}'), crd: false },
  {
    what: 'implementation serving another type',
    yaml: doc('{name: g, type: MODEL, implementation: sum-combiner}'),
    crd: false,
  },
];

describe('InferenceGraph CRD (k8s/crd.yaml)', () => {
  it('is checked in exactly as generated from the manifest schema (npm run gen:crd)', () => {
    const file = readFileSync(path.join(REPO, 'k8s/crd.yaml'), 'utf8');
    assert.equal(file, crdYaml(), 'k8s/crd.yaml is stale: run npm run gen:crd');
  });

  it('has a structural schema, a status subresource, printer columns and a short name', () => {
    assert.deepEqual(structuralProblems(openApi(), 'openAPIV3Schema', []), []);
    const spec = crdObject().spec as {
      names: { shortNames: string[] };
      versions: { subresources: unknown; additionalPrinterColumns: { name: string }[] }[];
    };
    assert.deepEqual(spec.names.shortNames, ['ig']);
    assert.deepEqual(spec.versions[0]?.subresources, { status: {} });
    assert.deepEqual(
      spec.versions[0]?.additionalPrinterColumns.map((c) => c.name),
      ['Ready', 'Nodes', 'Executor', 'Age'],
    );
  });

  it(`writes the node tree out ${NODE_DEPTH} levels deep, then keeps deeper children for the operator`, () => {
    let node = ((openApi().properties as Record<string, S>).spec?.properties as Record<string, S>).graph as S;
    for (let i = 0; i < NODE_DEPTH; i++)
      node = ((node.properties as Record<string, S>).children?.items as S) ?? assert.fail(`level ${i}`);
    assert.equal(node['x-kubernetes-preserve-unknown-fields'], true);
    assert.equal(node.properties, undefined);
  });

  it('accepts every manifest under graphs/ and k8s/examples/', () => {
    const check = crdValidator();
    const files = manifestFiles();
    assert.ok(files.length >= 5, files.join(', '));
    for (const f of files) assert.deepEqual(check(parseYaml(readFileSync(f, 'utf8'))), [], f);
  });

  it('rejects the broken manifests a schema can tell; the validator rejects all of them', () => {
    const check = crdValidator();
    for (const b of BROKEN) {
      assert.throws(() => parseManifest(b.yaml, '/tmp', 'm.yaml'), ConfigError, `validator accepted: ${b.what}`);
      const errors = check(parseYaml(b.yaml));
      if (b.crd) assert.ok(errors.length > 0, `CRD accepted: ${b.what}`);
      else assert.deepEqual(errors, [], `expected only the operator's validator to catch: ${b.what}`);
    }
  });
});
