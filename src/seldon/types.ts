/**
 * A SeldonDeployment (machinelearning.seldon.io v1, v1alpha2, v1alpha3: the same shape) as validation leaves it:
 * Seldon's defaults applied (unit type, traffic, replicas, the predictor's `version` label), Kubernetes objects that
 * Kubernetes itself checks (containers, pod settings, HPA metrics) kept as written. Field names are Seldon's.
 */

export const SELDON_GROUP = 'machinelearning.seldon.io';
export const SELDON_VERSIONS = ['v1', 'v1alpha2', 'v1alpha3'] as const;
export const SELDON_KIND = 'SeldonDeployment';

export type Json = Record<string, unknown>;

export const UNIT_TYPES = ['MODEL', 'TRANSFORMER', 'OUTPUT_TRANSFORMER', 'COMBINER', 'ROUTER'] as const;
export type UnitType = (typeof UNIT_TYPES)[number];

export const PARAMETER_TYPES = ['INT', 'FLOAT', 'DOUBLE', 'STRING', 'BOOL', 'JSON'] as const;
export type ParameterType = (typeof PARAMETER_TYPES)[number];

/** Seldon's list form; `value` is always a string on the wire (PREDICTIVE_UNIT_PARAMETERS). */
export interface SeldonParameter {
  name: string;
  type: ParameterType;
  value: string;
}

export interface SeldonEndpoint {
  type?: 'REST' | 'GRPC';
  service_host?: string;
  service_port?: number;
  httpPort?: number;
  grpcPort?: number;
}

export interface SeldonLogger {
  mode: 'all' | 'request' | 'response';
  url?: string;
}

export interface PredictiveUnit {
  name: string;
  type: UnitType;
  implementation?: string;
  children: PredictiveUnit[];
  endpoint?: SeldonEndpoint;
  parameters: SeldonParameter[];
  modelUri?: string;
  serviceAccountName?: string;
  envSecretRefName?: string;
  storageInitializerImage?: string;
  logger?: SeldonLogger;
  /** Path for messages, e.g. spec.predictors[0].graph.children[1]. */
  path: string;
}

export interface SeldonHpaSpec {
  minReplicas?: number;
  maxReplicas: number;
  /** autoscaling/v2 MetricSpecs: `metricsv2` as written, or `metrics` (v2beta1) converted. */
  metrics: Json[];
}

export interface SeldonPodSpec {
  /** Object metadata of the pod: labels and annotations are kept. */
  metadata: { name?: string; labels: Record<string, string>; annotations: Record<string, string> };
  /** A Kubernetes PodSpec, kept as written. */
  spec: Json & { containers: (Json & { name: string })[] };
  hpaSpec?: SeldonHpaSpec;
  replicas?: number;
  pdbSpec?: Json;
}

export interface SvcOrchSpec {
  resources?: Json;
  env: Json[];
  replicas?: number;
}

export interface PredictorSpec {
  name: string;
  graph: PredictiveUnit;
  componentSpecs: SeldonPodSpec[];
  /** predictor.replicas, else spec.replicas, else 1 (componentSpecs[].replicas override it per pod). */
  replicas: number;
  annotations: Record<string, string>;
  labels: Record<string, string>;
  traffic: number;
  shadow: boolean;
  svcOrchSpec: SvcOrchSpec;
  engineResources?: Json;
  path: string;
}

export const PROTOCOLS = ['seldon', 'v2'] as const;
export type SeldonProtocol = (typeof PROTOCOLS)[number];
export const TRANSPORTS = ['rest', 'grpc'] as const;
export type SeldonTransport = (typeof TRANSPORTS)[number];

export interface SeldonDeployment {
  apiVersion: string;
  name: string;
  namespace?: string;
  metadata: { labels: Record<string, string>; annotations: Record<string, string> };
  protocol: SeldonProtocol;
  transport: SeldonTransport;
  annotations: Record<string, string>;
  predictors: PredictorSpec[];
}

export function walkUnits(root: PredictiveUnit): PredictiveUnit[] {
  const out: PredictiveUnit[] = [];
  const visit = (u: PredictiveUnit): void => {
    out.push(u);
    u.children.forEach(visit);
  };
  visit(root);
  return out;
}
