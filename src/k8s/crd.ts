import { stringify } from 'yaml';
import { NODE_SCHEMA, MANIFEST_SCHEMA, type Field, type ObjectField } from '../graph/schema';
import { GROUP, PLURAL, VERSION } from './names';

/**
 * The InferenceGraph CustomResourceDefinition, generated from the manifest schema (src/graph/schema.ts) so the CRD
 * and the validator cannot disagree on a field, type, range, enum or default. Kubernetes wants a structural schema,
 * and structural schemas cannot recurse: the node tree is written out NODE_DEPTH levels deep, and below that a
 * node's children are kept as they are (x-kubernetes-preserve-unknown-fields) for the operator's validator, which
 * checks the whole tree before anything is applied. Component parameters, volume sources and env values are kept
 * the same way: their checks need the component's own schema, or are Kubernetes' own.
 */

export const NODE_DEPTH = 6;

type OpenApi = Record<string, unknown>;

export function openApiOf(f: Field, depth: number): OpenApi {
  const d = { description: f.description };
  switch (f.type) {
    case 'integer':
      return { type: 'integer', ...d, minimum: f.minimum, ...opt('maximum', f.maximum), ...opt('default', f.default) };
    case 'number':
      return { type: 'number', ...d, minimum: f.minimum, maximum: f.maximum, ...opt('default', f.default) };
    case 'boolean':
      return { type: 'boolean', ...d, ...opt('default', f.default) };
    case 'string':
      return {
        type: 'string',
        ...d,
        ...opt('enum', f.enum ? [...f.enum] : undefined),
        ...opt('pattern', f.pattern?.regex),
        ...opt('maxLength', f.maxLength),
        ...opt('default', f.default),
      };
    case 'quantity':
      return {
        ...d,
        'x-kubernetes-int-or-string': true,
        anyOf: [{ type: 'integer' }, { type: 'string' }],
        pattern: QUANTITY_PATTERN,
      };
    case 'scalar':
      return { ...d, 'x-kubernetes-preserve-unknown-fields': true };
    case 'object':
      return objectOf(f, depth);
    case 'map':
      return { type: 'object', ...d, additionalProperties: openApiOf(f.values, depth) };
    case 'list':
      return { type: 'array', ...d, items: openApiOf(f.items, depth) };
    case 'node': {
      const at = f.crdLevels === undefined ? depth + 1 : NODE_DEPTH - f.crdLevels;
      return at < NODE_DEPTH
        ? objectOf({ ...NODE_SCHEMA, description: f.description }, at)
        : {
            type: 'object',
            description: `${f.description} (deeper than ${NODE_DEPTH} levels: checked by the operator)`,
            'x-kubernetes-preserve-unknown-fields': true,
          };
    }
    case 'opaque':
      if (!f.properties) return { ...d, 'x-kubernetes-preserve-unknown-fields': true };
      return {
        ...objectOf(
          { type: 'object', description: f.description, properties: f.properties, required: f.required },
          depth,
        ),
        'x-kubernetes-preserve-unknown-fields': true,
      };
  }
}

/** Quantity syntax as src/graph/check.ts's QUANTITY (OpenAPI applies a pattern to strings only). */
const QUANTITY_PATTERN = '^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$';

function objectOf(f: ObjectField, depth: number): OpenApi {
  const properties: Record<string, OpenApi> = {};
  for (const [k, sub] of Object.entries(f.properties)) properties[k] = openApiOf(sub, depth);
  return {
    type: 'object',
    description: f.description,
    ...(f.required?.length ? { required: [...f.required] } : {}),
    properties,
  };
}

const opt = (k: string, v: unknown): OpenApi => (v === undefined ? {} : { [k]: v });

const STATUS: OpenApi = {
  type: 'object',
  description: 'Written by the operator.',
  properties: {
    observedGeneration: { type: 'integer', description: 'The metadata.generation the status describes.' },
    readyNodes: { type: 'string', description: 'Nodes with all replicas ready, of all spawned nodes (e.g. 3/5).' },
    executorAddress: { type: 'string', description: "The executor Service's in-cluster address (host:port)." },
    nodes: {
      type: 'array',
      description: 'Per node: desired and ready replicas.',
      items: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string' },
          replicas: { type: 'integer' },
          readyReplicas: { type: 'integer' },
        },
      },
    },
    conditions: {
      type: 'array',
      description: 'Ready, Progressing, Degraded.',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
      items: {
        type: 'object',
        required: ['type', 'status'],
        properties: {
          type: { type: 'string' },
          status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
          reason: { type: 'string' },
          message: { type: 'string' },
          observedGeneration: { type: 'integer' },
          lastTransitionTime: { type: 'string', format: 'date-time' },
        },
      },
    },
  },
};

export function crdObject(): Record<string, unknown> {
  const root = objectOf(MANIFEST_SCHEMA, 0) as {
    properties: Record<string, OpenApi>;
    required?: string[];
  };
  // Kubernetes owns apiVersion, kind and metadata; a CRD schema may only say they are there.
  root.properties.apiVersion = { type: 'string' };
  root.properties.kind = { type: 'string' };
  root.properties.metadata = { type: 'object' };
  root.properties.status = STATUS;
  // One of spec.graph and spec.predictors (the validator says which is wrong; the API server applies this rule).
  (root.properties.spec as OpenApi)['x-kubernetes-validations'] = [
    { rule: 'has(self.graph) != has(self.predictors)', message: 'give either spec.graph or spec.predictors' },
  ];
  delete root.required;
  root.required = ['spec'];
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}`, labels: { 'app.kubernetes.io/name': 'infergraph' } },
    spec: {
      group: GROUP,
      names: {
        kind: 'InferenceGraph',
        listKind: 'InferenceGraphList',
        plural: PLURAL,
        singular: 'inferencegraph',
        shortNames: ['ig'],
        categories: ['all'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Nodes', type: 'string', jsonPath: '.status.readyNodes' },
            { name: 'Executor', type: 'string', jsonPath: '.status.executorAddress', priority: 1 },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: { openAPIV3Schema: root },
        },
      ],
    },
  };
}

export const CRD_HEADER =
  "# Generated by `npm run gen:crd` (infergraph crd) from src/graph/schema.ts, the manifest validator's own schema.\n" +
  '# Do not edit: a test regenerates it and fails when this file differs.\n';

export const crdYaml = (): string =>
  CRD_HEADER + stringify(crdObject(), { lineWidth: 0, aliasDuplicateObjects: false });
