import { stringify } from 'yaml';

/**
 * A CustomResourceDefinition for SeldonDeployment (machinelearning.seldon.io v1, v1alpha2, v1alpha3), for clusters
 * without Seldon Core installed: the same names, short name (sdep), versions and scale subresource as Seldon's own,
 * so existing objects, kubectl habits and HPAs on SeldonDeployments keep working. The schema is structural; the
 * Kubernetes objects inside (PodSpecs, resources, HPA metrics, explainer) keep their unknown fields, and the graph
 * is typed UNIT_DEPTH levels deep, below which children are kept as written for the validator, which checks the
 * whole tree. With Seldon's CRD already installed, keep that one: objects are the same.
 */

export const SELDON_CRD_NAME = 'seldondeployments.machinelearning.seldon.io';
export const UNIT_DEPTH = 8;

type OpenApi = Record<string, unknown>;
const str = (description?: string): OpenApi => ({ type: 'string', ...(description ? { description } : {}) });
const int = (description?: string): OpenApi => ({ type: 'integer', ...(description ? { description } : {}) });
const kept = (description: string, type: 'object' | 'array' = 'object'): OpenApi => ({
  type,
  description,
  ...(type === 'array' ? { items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } : {}),
  'x-kubernetes-preserve-unknown-fields': true,
});
const stringMap = (description: string): OpenApi => ({
  type: 'object',
  description,
  additionalProperties: { type: 'string' },
});

function unit(depth: number): OpenApi {
  const children: OpenApi =
    depth + 1 < UNIT_DEPTH
      ? { type: 'array', description: 'Child units, called in parallel.', items: unit(depth + 1) }
      : kept(`Child units (deeper than ${UNIT_DEPTH} levels: checked by the validator).`, 'array');
  return {
    type: 'object',
    description: 'A graph unit.',
    required: ['name'],
    properties: {
      name: str('Unit name; a componentSpecs container of the same name serves it.'),
      type: {
        type: 'string',
        enum: ['UNKNOWN_TYPE', 'ROUTER', 'COMBINER', 'MODEL', 'TRANSFORMER', 'OUTPUT_TRANSFORMER'],
      },
      implementation: str('A prepackaged server (SKLEARN_SERVER, ...), AVERAGE_COMBINER, or an infergraph built-in.'),
      methods: { type: 'array', items: { type: 'string' } },
      endpoint: {
        type: 'object',
        properties: {
          service_host: str(),
          service_port: int(),
          type: { type: 'string', enum: ['REST', 'GRPC'] },
          httpPort: int(),
          grpcPort: int(),
        },
      },
      parameters: {
        type: 'array',
        items: {
          type: 'object',
          required: ['name', 'value', 'type'],
          properties: {
            name: str(),
            value: str(),
            type: { type: 'string', enum: ['INT', 'FLOAT', 'DOUBLE', 'STRING', 'BOOL', 'JSON'] },
          },
        },
      },
      modelUri: str(),
      serviceAccountName: str(),
      envSecretRefName: str(),
      storageInitializerImage: str(),
      logger: {
        type: 'object',
        properties: { url: str(), mode: { type: 'string', enum: ['all', 'request', 'response'] } },
      },
      children,
    },
  };
}

const COMPONENT_SPEC: OpenApi = {
  type: 'object',
  properties: {
    metadata: {
      type: 'object',
      properties: {
        name: str(),
        labels: stringMap('Pod labels.'),
        annotations: stringMap('Pod annotations.'),
      },
      'x-kubernetes-preserve-unknown-fields': true,
    },
    spec: kept('A Kubernetes PodSpec.'),
    hpaSpec: {
      type: 'object',
      required: ['maxReplicas'],
      properties: {
        minReplicas: int(),
        maxReplicas: int(),
        metrics: kept('autoscaling/v2beta1 MetricSpecs.', 'array'),
        metricsv2: kept('autoscaling/v2 MetricSpecs.', 'array'),
      },
    },
    replicas: int(),
    kedaSpec: kept('KEDA ScaledObject spec (refused by infergraph).'),
    pdbSpec: kept('PodDisruptionBudget spec.'),
  },
};

const PREDICTOR: OpenApi = {
  type: 'object',
  required: ['name', 'graph'],
  properties: {
    name: str(),
    graph: unit(0),
    componentSpecs: { type: 'array', items: COMPONENT_SPEC },
    replicas: int(),
    annotations: stringMap('Predictor annotations.'),
    labels: stringMap('Predictor labels.'),
    engineResources: kept('Resources of the executor (deprecated: svcOrchSpec).'),
    svcOrchSpec: {
      type: 'object',
      properties: {
        resources: kept('Resources of the executor.'),
        env: kept('Environment of the executor.', 'array'),
        replicas: int(),
      },
    },
    traffic: int('Percentage of requests; non-shadow predictors sum to 100.'),
    shadow: { type: 'boolean' },
    explainer: kept('An explainer (refused by infergraph).'),
    ssl: kept('TLS secret (refused by infergraph: use an InferenceGraph with spec.tls).'),
  },
};

export function seldonCrdObject(): Record<string, unknown> {
  const schema: OpenApi = {
    type: 'object',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: {
        type: 'object',
        required: ['predictors'],
        properties: {
          name: str('Deprecated, ignored.'),
          predictors: { type: 'array', items: PREDICTOR },
          oauth_key: str(),
          oauth_secret: str(),
          annotations: stringMap('Deployment annotations (seldon.io/rest-timeout, ...).'),
          protocol: str('seldon or v2.'),
          transport: { type: 'string', enum: ['rest', 'grpc'] },
          replicas: int(),
          serverType: str(),
        },
      },
      status: kept('Written by the operator; kept as Seldon wrote it.'),
    },
  };
  const version = (name: string, storage: boolean): OpenApi => ({
    name,
    served: true,
    storage,
    subresources: {
      status: {},
      scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas' },
    },
    schema: { openAPIV3Schema: schema },
  });
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: SELDON_CRD_NAME, labels: { 'app.kubernetes.io/name': 'infergraph' } },
    spec: {
      group: 'machinelearning.seldon.io',
      names: {
        kind: 'SeldonDeployment',
        listKind: 'SeldonDeploymentList',
        plural: 'seldondeployments',
        singular: 'seldondeployment',
        shortNames: ['sdep'],
      },
      scope: 'Namespaced',
      // The three versions have one shape (Seldon's own CRD serves them the same way), so no conversion is needed.
      versions: [version('v1', true), version('v1alpha2', false), version('v1alpha3', false)],
    },
  };
}

export const seldonCrdYaml = (): string =>
  '# SeldonDeployment CRD for clusters without Seldon Core (infergraph crd --seldon).\n' +
  stringify(seldonCrdObject(), { lineWidth: 0, aliasDuplicateObjects: false });
