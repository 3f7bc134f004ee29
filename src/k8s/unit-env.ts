import { predictorOfNode, type ContainerRuntime, type GraphSpec, type NodeSpec } from '../graph/spec';
import type { Json } from './pod';

/**
 * Seldon Core v1's environment contract for a unit's container — its ports and the PREDICTIVE_UNIT_* / PREDICTOR_* /
 * SELDON_* variables an image built on Seldon's Python wrapper reads — written once, for the two places that start
 * such a container: the Kubernetes rendering (container-node.ts) and `infergraph up`'s docker runner
 * (src/runner/docker-plan.ts). Both must hand the image the same environment, or an image that works under one
 * would fail under the other.
 */

/** Who the container belongs to: Seldon's identifiers, from the InferenceGraph's annotations and labels. */
export interface SeldonIdentity {
  deployment: string;
  predictor: string;
  labels: Record<string, string>;
  /** Seldon's unit name when it is not the node's (a predictor-prefixed node of a converted SeldonDeployment). */
  unit?: string;
}

/** A graph's identity plus what only the rendering needs (the pod annotations, whether it came from Seldon). */
export type GraphIdentity = SeldonIdentity & { annotations: Record<string, string>; converted: boolean };

/** The manifest's envelope, as loaded (src/seldon/load.ts): a converted SeldonDeployment keeps its names here. */
export interface ManifestMeta {
  metadata: Json;
}

/** Where conversion records a SeldonDeployment's names (src/seldon/convert.ts writes them). */
const DEPLOYMENT_ANNOTATION = 'infergraph.dev/seldon-deployment';
const PREDICTOR_ANNOTATION = 'infergraph.dev/predictor';

/** Seldon's executor serves its metrics here; the Python wrapper is told the same path. */
const METRICS_PATH = '/prometheus';

/** Seldon's identifiers for container nodes: a converted SeldonDeployment's annotations, else the graph's own. */
export function seldonIdentity(m: ManifestMeta, graph: string): GraphIdentity {
  const md = m.metadata;
  const ann = (md.annotations ?? {}) as Record<string, string>;
  return {
    converted: ann[DEPLOYMENT_ANNOTATION] !== undefined,
    deployment: ann[DEPLOYMENT_ANNOTATION] ?? graph,
    predictor: ann[PREDICTOR_ANNOTATION] ?? graph,
    labels: (md.labels ?? {}) as Record<string, string>,
    annotations: Object.fromEntries(Object.entries(ann).filter(([k]) => !k.startsWith('infergraph.dev/'))),
  };
}

/**
 * With spec.predictors, a node's predictor is its own: its name and labels; a converted SeldonDeployment's node
 * `<predictor>-<unit>` is Seldon's unit `<unit>` (PREDICTIVE_UNIT_ID).
 */
export function predictorIdentity(g: GraphSpec, n: NodeSpec, id: GraphIdentity): GraphIdentity {
  const p = g.predictors && predictorOfNode(g, n.name);
  if (!p) return id;
  const prefix = `${p.name}-`;
  const converted = id.converted && n.name.startsWith(prefix);
  return {
    ...id,
    predictor: p.name,
    labels: p.labels ?? id.labels,
    ...(converted ? { unit: n.name.slice(prefix.length) } : {}),
  };
}

/** The ports the container listens on, inside it. */
export interface UnitPorts {
  http: number;
  grpc: number;
  metrics: number;
}

const namedPort = (c: Json, name: string): number | undefined => {
  const ports = Array.isArray(c.ports) ? (c.ports as Json[]) : [];
  return ports.find((p) => p.name === name)?.containerPort as number | undefined;
};

/** The container's ports: its own named ports (http, grpc, metrics) win, as in Seldon's defaulting. */
export function unitPorts(rt: ContainerRuntime): UnitPorts {
  const c = rt.container ?? {};
  return {
    http: namedPort(c, 'http') ?? rt.httpPort,
    grpc: namedPort(c, 'grpc') ?? rt.grpcPort,
    metrics: namedPort(c, 'metrics') ?? rt.metricsPort,
  };
}

/** The port PREDICTIVE_UNIT_SERVICE_PORT names, probes check and the executor calls: the transport's. */
export const servicePort = (transport: ContainerRuntime['transport'], p: UnitPorts): number =>
  transport === 'grpc' ? p.grpc : p.http;

/** One Kubernetes EnvVar: `value`, or a `valueFrom` the container wrote (kept for Kubernetes to resolve). */
export type EnvVar = Json & { name: string };

/** Go's json.Marshal of a map[string]string: keys sorted. */
const sortedJson = (m: Record<string, string>): string =>
  JSON.stringify(
    Object.fromEntries(
      Object.keys(m)
        .sort()
        .map((k) => [k, m[k]]),
    ),
  );

/**
 * The container's environment as Seldon's operator writes it: the container's own first (which wins for the ports
 * and parameters), then the variables Seldon always appends — after the container's, so under both Kubernetes and
 * docker (the later of two entries wins) they override a stale copy the user may have written.
 */
export function unitEnv(n: NodeSpec, rt: ContainerRuntime, id: SeldonIdentity, ports: UnitPorts): EnvVar[] {
  const given = rt.container ?? {};
  const env: EnvVar[] = Array.isArray(given.env) ? [...(given.env as EnvVar[])] : [];
  const set = (name: string, value: string): void => {
    if (!env.some((e) => e.name === name)) env.push({ name, value });
  };
  set('PREDICTIVE_UNIT_SERVICE_PORT', String(servicePort(rt.transport, ports)));
  set('PREDICTIVE_UNIT_HTTP_SERVICE_PORT', String(ports.http));
  set('PREDICTIVE_UNIT_GRPC_SERVICE_PORT', String(ports.grpc));
  if (rt.parameters?.length)
    set(
      'PREDICTIVE_UNIT_PARAMETERS',
      JSON.stringify(rt.parameters.map(({ name, value, type }) => ({ name, value, type }))),
    );
  env.push(
    { name: 'PREDICTIVE_UNIT_ID', value: id.unit ?? n.name },
    { name: 'PREDICTIVE_UNIT_IMAGE', value: rt.image },
    { name: 'PREDICTOR_ID', value: id.predictor },
    { name: 'PREDICTOR_LABELS', value: sortedJson(id.labels) },
    { name: 'SELDON_DEPLOYMENT_ID', value: id.deployment },
    { name: 'SELDON_EXECUTOR_ENABLED', value: 'true' },
    { name: 'PREDICTIVE_UNIT_METRICS_SERVICE_PORT', value: String(ports.metrics) },
    { name: 'PREDICTIVE_UNIT_METRICS_ENDPOINT', value: METRICS_PATH },
  );
  return env;
}
