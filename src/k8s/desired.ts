import { createHash } from 'node:crypto';
import { DEFAULT_ENDPOINT_ENV, graphLogs } from '../request-log/config';
import { stringify } from 'yaml';
import { ConfigError } from '../errors';
import { DEFAULTS } from '../graph/manifest';
import { spawnedNodes, type GraphSpec, type NodeSpec } from '../graph/spec';
import {
  DEFAULT_IMAGE,
  EXECUTOR_PORT,
  executorName,
  FIELD_MANAGER,
  graphLabels,
  manifestConfigMapName,
  MANIFEST_PATH,
  NODE_PORT,
  nodeObjectName,
  selectorLabels,
} from './names';
import { containerPieces } from './container-node';
import { predictorIdentity, seldonIdentity } from './unit-env';
import { horizontalPodAutoscaler, scaledObject } from './hpa';
import { deployment, networkPolicies, pdb, service, type KubeObject, type OwnerReference } from './objects';
import {
  baseMounts,
  baseVolumes,
  CONTAINER_SECURITY,
  containerEnv,
  DRAIN_SECONDS,
  GRACE_SECONDS,
  grpcProbes,
  httpProbes,
  modelPieces,
  POD_SECURITY,
  RESERVED_VOLUME_PREFIX,
  resources,
  userMounts,
  userVolumes,
  type Json,
} from './pod';

/**
 * The Kubernetes objects a graph is made of — the one function behind both `infergraph render` and the operator, so
 * what render prints is exactly what the operator applies. Per spawned node: a Deployment and a headless Service
 * (clients balance over its pod IPs); the executor's Deployment and ClusterIP Service; the manifest in a ConfigMap
 * mounted into every pod; NetworkPolicies (only executor pods reach node pods); a PodDisruptionBudget where there is
 * more than one replica.
 */

export interface DesiredInput {
  graph: GraphSpec;
  /** The manifest as written (apiVersion, kind, metadata, spec): it becomes the ConfigMap's graph.yaml. */
  manifest: { apiVersion: string; kind: string; metadata: Json; spec: unknown };
  image?: string;
  namespace?: string;
  owner?: OwnerReference;
  /**
   * The payload-log sink of loggers without a url (the operator's --request-logger-default-endpoint, as Seldon's
   * executor.requestLogger.defaultEndpoint): the executor's REQUEST_LOGGER_DEFAULT_ENDPOINT when the graph logs.
   */
  requestLoggerDefaultEndpoint?: string;
}

const MAX_NAME = 63;
/** Service names are DNS-1035 labels: they must start with a letter. */
const DNS_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** Kubernetes adds limits a local graph does not have: object names must fit, and must not collide. */
export function kubernetesProblems(g: GraphSpec): string[] {
  const problems: string[] = [];
  const names = [executorName(g.name), manifestConfigMapName(g.name)];
  if (!DNS_1035.test(g.name))
    problems.push(
      `metadata.name: '${g.name}' must start with a letter on Kubernetes (Service names are DNS-1035 labels)`,
    );
  for (const n of spawned(g)) {
    const obj = nodeObjectName(g.name, n.name);
    if (obj.length > MAX_NAME)
      problems.push(
        `${n.path} (${n.name}): object name '${obj}' is ${obj.length} characters, over ${MAX_NAME}; shorten the graph or node name`,
      );
    // Deployments, Services and PDBs share names per kind: a node called 'executor' would be the executor's.
    if (obj === executorName(g.name))
      problems.push(`${n.path} (${n.name}): object name '${obj}' collides with the graph's own executor`);
    const auto = n.runtime.autoscaling;
    if (auto?.keda && auto.inFlightTarget === undefined)
      problems.push(`${n.path} (${n.name}).runtime.autoscaling.keda: needs inFlightTarget (the trigger's threshold)`);
    if (auto?.inFlightTarget !== undefined && !auto.keda && n.runtime.container)
      problems.push(
        `${n.path} (${n.name}).runtime.autoscaling.inFlightTarget: a user's container exports no infergraph_node_in_flight_requests; add keda (scales on the executor's infergraph_hop_in_flight_requests) or give metrics`,
      );
    for (const v of n.runtime.volumes ?? []) {
      if (v.name.startsWith(RESERVED_VOLUME_PREFIX))
        problems.push(
          `${n.path} (${n.name}).runtime.volumes: name '${v.name}' is reserved (prefix ${RESERVED_VOLUME_PREFIX})`,
        );
    }
  }
  for (const name of names)
    if (name.length > MAX_NAME) problems.push(`metadata.name: object name '${name}' is over ${MAX_NAME} characters`);
  return problems;
}

const spawned = (g: GraphSpec): NodeSpec[] => spawnedNodes(g);

function loggerEnv(input: DesiredInput): Record<string, string> {
  const url = input.requestLoggerDefaultEndpoint;
  return url && graphLogs(input.graph) ? { [DEFAULT_ENDPOINT_ENV]: url } : {};
}

export function desiredObjects(input: DesiredInput): KubeObject[] {
  const { graph: g } = input;
  const problems = kubernetesProblems(g);
  if (problems.length) throw new ConfigError(problems);
  const image = input.image ?? DEFAULT_IMAGE;
  const namespace = input.namespace ?? g.namespace;
  const meta = (name: string, labels: Record<string, string>): KubeObject['metadata'] => ({
    name,
    ...(namespace ? { namespace } : {}),
    labels,
    ...(input.owner ? { ownerReferences: [input.owner] } : {}),
  });
  const manifestYaml = manifestText(input.manifest, g.name);
  // Processes read the manifest once at start-up: a changed manifest must roll the pods.
  const hash = createHash('sha256').update(manifestYaml).digest('hex').slice(0, 16);
  const cm = manifestConfigMapName(g.name);
  const out: KubeObject[] = [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta(cm, graphLabels(g.name, 'manifest')),
      data: { 'graph.yaml': manifestYaml },
    },
  ];

  const nodeAddresses: string[] = [];
  const containerPorts: number[] = [];
  const graphIdentity = seldonIdentity(input.manifest, g.name);
  for (const n of spawned(g)) {
    const identity = predictorIdentity(g, n, graphIdentity);
    const name = nodeObjectName(g.name, n.name);
    const labels = graphLabels(g.name, 'node', n.name);
    const selector = selectorLabels(g.name, 'node', n.name);
    const rt = n.runtime.container;
    // With an autoscaler the Deployment leaves replicas to it (both setting it would fight on every apply).
    const replicas = n.runtime.autoscaling ? undefined : n.runtime.replicas;
    if (rt) {
      const c = containerPieces(n, rt, identity);
      const [http, grpc] = c.ports as [number, number];
      containerPorts.push(http, grpc);
      // The executor calls the container as Seldon's executor does: Seldon's REST node API on transport rest.
      nodeAddresses.push(
        '--node-address',
        rt.transport === 'rest' ? `${n.name}=http://${name}:${http}` : `${n.name}=dns:///${name}:${grpc}`,
      );
      const pod = {
        terminationGracePeriodSeconds: 20,
        ...c.pod,
        ...(c.initContainers.length ? { initContainers: c.initContainers } : {}),
        containers: [c.container, ...c.sidecars],
        volumes: c.volumes,
      };
      // The container does not read the manifest: only its own settings roll its pods.
      const own = createHash('sha256').update(JSON.stringify(rt)).digest('hex').slice(0, 16);
      const extra = rt.podMetadata ?? {};
      out.push(
        service(meta(name, labels), selector, [
          { name: 'http', port: http, appProtocol: 'http' },
          { name: 'grpc', port: grpc, appProtocol: 'grpc' },
        ]),
      );
      out.push(
        deployment(
          meta(name, labels),
          selector,
          { ...identity.labels, ...extra.labels, ...labels },
          replicas,
          own,
          pod,
          { ...identity.annotations, ...extra.annotations },
        ),
      );
    } else {
      nodeAddresses.push('--node-address', `${n.name}=dns:///${name}:${NODE_PORT}`);
      const models = modelPieces(n.runtime.models, image);
      const container = {
        name: 'node',
        image: n.runtime.image ?? image,
        imagePullPolicy: 'IfNotPresent',
        args: ['node', '--graph', MANIFEST_PATH, '--node', n.name, '--address', `0.0.0.0:${NODE_PORT}`],
        ports: [{ name: 'grpc', containerPort: NODE_PORT, protocol: 'TCP' }],
        ...opt('env', nonEmpty(containerEnv(g.tracing, n.runtime.env))),
        ...opt('resources', resources(n.runtime.resources)),
        ...grpcProbes(NODE_PORT),
        lifecycle: { preStop: { sleep: { seconds: DRAIN_SECONDS } } },
        securityContext: CONTAINER_SECURITY,
        volumeMounts: [...baseMounts(), ...models.mounts, ...userMounts(n.runtime.volumeMounts)],
      };
      const pod = podSpec(
        [container],
        [...baseVolumes(cm), ...models.volumes, ...userVolumes(n.runtime.volumes)],
        models.initContainers,
      );
      out.push(service(meta(name, labels), selector, [{ name: 'grpc', port: NODE_PORT, appProtocol: 'grpc' }], true));
      out.push(deployment(meta(name, labels), selector, labels, replicas, hash, pod));
    }
    if (n.runtime.replicas > 1) out.push(pdb(meta(name, labels), selector));
    const auto = n.runtime.autoscaling;
    if (auto?.keda) out.push(scaledObject(meta(name, labels), name, g.name, n.name, { ...auto, keda: auto.keda }));
    else if (auto) out.push(horizontalPodAutoscaler(meta(name, labels), name, auto));
  }

  const ex = executorName(g.name);
  const exLabels = graphLabels(g.name, 'executor');
  const exSelector = selectorLabels(g.name, 'executor');
  const exRuntime = g.executor ?? { replicas: 1, env: {} };
  const rest = g.rest ?? DEFAULTS.rest;
  const executor = {
    name: 'executor',
    image: exRuntime.image ?? image,
    imagePullPolicy: 'IfNotPresent',
    args: [
      'executor',
      '--graph',
      MANIFEST_PATH,
      '--address',
      `0.0.0.0:${EXECUTOR_PORT}`,
      '--rest-address',
      rest.enabled ? `0.0.0.0:${rest.port}` : 'none',
      ...nodeAddresses,
    ],
    ports: [
      { name: 'grpc', containerPort: EXECUTOR_PORT, protocol: 'TCP' },
      ...(rest.enabled ? [{ name: 'http', containerPort: rest.port, protocol: 'TCP' }] : []),
    ],
    ...opt('env', nonEmpty(containerEnv(g.tracing, { ...loggerEnv(input), ...exRuntime.env }))),
    ...opt('resources', resources(exRuntime.resources)),
    ...(rest.enabled && rest.probes === 'http' ? httpProbes('http') : grpcProbes(EXECUTOR_PORT)),
    lifecycle: { preStop: { sleep: { seconds: DRAIN_SECONDS } } },
    securityContext: CONTAINER_SECURITY,
    volumeMounts: baseMounts(),
  };
  out.push(
    service(
      meta(ex, exLabels),
      exSelector,
      [
        { name: 'grpc', port: EXECUTOR_PORT, appProtocol: 'grpc' },
        ...(rest.enabled ? [{ name: 'http', port: rest.port, appProtocol: 'http' }] : []),
      ],
      false,
    ),
  );
  out.push(
    deployment(
      meta(ex, exLabels),
      exSelector,
      exLabels,
      exRuntime.replicas,
      hash,
      podSpec([executor], baseVolumes(cm), []),
    ),
  );
  if (exRuntime.replicas > 1) out.push(pdb(meta(ex, exLabels), exSelector));
  out.push(...networkPolicies(g.name, meta, containerPorts, rest.enabled ? rest.port : undefined));
  return out;
}

/** The manifest as the pods read it: only the fields validation knows, metadata reduced to name and namespace. */
export function manifestText(m: DesiredInput['manifest'], name: string): string {
  const metadata: Json = { name };
  if (typeof m.metadata.namespace === 'string') metadata.namespace = m.metadata.namespace;
  return stringify(
    { apiVersion: m.apiVersion, kind: m.kind, metadata, spec: m.spec },
    { lineWidth: 0, aliasDuplicateObjects: false },
  );
}

const opt = (key: string, v: unknown): Json => (v === undefined ? {} : { [key]: v });
const nonEmpty = <T>(a: T[]): T[] | undefined => (a.length ? a : undefined);

function podSpec(containers: Json[], volumes: Json[], initContainers: Json[]): Json {
  return {
    // Graph pods never talk to the API server.
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: GRACE_SECONDS,
    securityContext: POD_SECURITY,
    ...(initContainers.length ? { initContainers } : {}),
    containers,
    volumes,
  };
}

export const renderYaml = (objects: KubeObject[]): string =>
  objects.map((o) => `---\n${stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })}`).join('');

export type { KubeObject, OwnerReference };

/** Server-side apply's field manager, exported for the operator. */
export { FIELD_MANAGER };
