import { spawnedNodes, type ContainerRuntime, type GraphSpec, type NodeSpec } from '../graph/spec';
import {
  predictorIdentity,
  seldonIdentity,
  servicePort,
  unitEnv,
  unitPorts,
  type EnvVar,
  type ManifestMeta,
  type UnitPorts,
} from '../k8s/unit-env';

/**
 * What `infergraph up` runs for a node that is a user's container image (runtime.container, a SeldonDeployment's
 * componentSpecs container): one `docker create` per replica, with the environment the Kubernetes rendering gives
 * the pod (src/k8s/unit-env.ts: the same ports inside the container, the same PREDICTIVE_UNIT_* variables), its
 * ports published on loopback only. Pure — no docker calls — so it is unit-tested without an engine; docker.ts
 * carries it out.
 *
 * Published ports rather than `--network host`: the container then listens where Seldon's operator would tell it to
 * (9000 / 9500 / 6000, or its own named ports), two containers cannot collide on a host port, and nothing is reachable
 * from outside this machine (the Python wrapper binds 0.0.0.0). The cost is docker's userland proxy on each hop:
 * measured here (stand-in REST predict, p50 of 400), 0.98 ms instead of 0.71 ms on the host network.
 */

/** Labels on every container `up` starts: the graph (a later `up` finds what a crashed one left), node, owner pid. */
export const LABEL = { graph: 'infergraph.up', node: 'infergraph.up.node', pid: 'infergraph.up.pid' } as const;

export interface ContainerPlan {
  /** The manifest node it serves. */
  node: string;
  /** How `up` names it in its log: the node, or `<node>#<i>` for replica i. */
  display: string;
  /** The docker container name: `infergraph-<graph>-<node>`, `-<i>` per replica of several. */
  name: string;
  image: string;
  transport: ContainerRuntime['transport'];
  /** Where it listens inside the container. */
  ports: UnitPorts;
  /** Where those ports are published on 127.0.0.1. */
  hostPorts: UnitPorts;
  env: [string, string][];
  entrypoint?: string;
  args: string[];
  workingDir?: string;
  labels: Record<string, string>;
}

/** The nodes `up` runs as containers. */
export const containerNodes = (g: GraphSpec): NodeSpec[] => spawnedNodes(g).filter((n) => n.runtime.container);

/**
 * What `up` cannot give a container locally, one line per node: a storage initializer filling /mnt/models from
 * `modelUri`, and sidecars (TENSORFLOW_SERVER's TF Serving) sharing the pod's network.
 */
export function unsupportedProblems(g: GraphSpec, manifestFile: string): string[] {
  const alternatives = `run the whole graph in docker with k8s/docker-run.sh ${manifestFile} --keep-image <image>, or deploy it with infergraph render | kubectl apply -f -`;
  return containerNodes(g).flatMap((n) => {
    const rt = n.runtime.container as ContainerRuntime;
    const why = [
      ...(rt.modelUri ? [`its modelUri (${rt.modelUri}) needs a storage initializer`] : []),
      ...(Array.isArray(rt.pod?.containers) && rt.pod.containers.length ? ['its pod has sidecar containers'] : []),
    ];
    return why.length
      ? [`${n.path} (${n.name}): infergraph up cannot run ${rt.image}: ${why.join('; ')}; ${alternatives}`]
      : [];
  });
}

/** Container fields that change what the process sees, which `up` does not reproduce: said, not silently dropped. */
const UNAPPLIED_CONTAINER_FIELDS = ['volumeMounts', 'envFrom', 'securityContext'];

/** Warnings for what of the container `up` leaves out (probes, resources and scheduling stay Kubernetes'). */
export function planWarnings(n: NodeSpec): string[] {
  const rt = n.runtime.container as ContainerRuntime;
  const c = rt.container ?? {};
  const fields = UNAPPLIED_CONTAINER_FIELDS.filter((f) => c[f] !== undefined);
  if (Array.isArray(rt.pod?.volumes) && rt.pod.volumes.length) fields.push('pod volumes');
  const out = fields.length
    ? [`${n.path} (${n.name}): infergraph up runs ${rt.image} without its ${fields.join(', ')} (Kubernetes only)`]
    : [];
  const fromRefs = (Array.isArray(c.env) ? (c.env as EnvVar[]) : []).filter((e) => e.value === undefined);
  if (fromRefs.length)
    out.push(
      `${n.path} (${n.name}): env ${fromRefs.map((e) => e.name).join(', ')}: valueFrom is resolved by Kubernetes only; left out by infergraph up`,
    );
  return out;
}

export const containerName = (graph: string, node: string, replica: number, replicas: number): string =>
  `infergraph-${graph}-${node}${replicas > 1 ? `-${replica}` : ''}`;

/** Plans replica `replica` of container node `n`, its ports published at `hostPorts`. */
export function planContainer(
  g: GraphSpec,
  manifest: ManifestMeta,
  n: NodeSpec,
  replica: number,
  hostPorts: UnitPorts,
): ContainerPlan {
  const rt = n.runtime.container as ContainerRuntime;
  const c = rt.container ?? {};
  const ports = unitPorts(rt);
  const id = predictorIdentity(g, n, seldonIdentity(manifest, g.name));
  // valueFrom entries are Kubernetes' to resolve (planWarnings says so).
  const env = unitEnv(n, rt, id, ports).flatMap((e): [string, string][] =>
    e.value === undefined ? [] : [[e.name, typeof e.value === 'string' ? e.value : JSON.stringify(e.value)]],
  );
  // Kubernetes' command replaces the image's ENTRYPOINT (and drops its CMD); docker's --entrypoint takes one word.
  const command = Array.isArray(c.command) ? c.command.map(String) : [];
  const args = Array.isArray(c.args) ? c.args.map(String) : [];
  const replicas = n.runtime.replicas;
  return {
    node: n.name,
    display: replicas > 1 ? `${n.name}#${replica}` : n.name,
    name: containerName(g.name, n.name, replica, replicas),
    image: rt.image,
    transport: rt.transport,
    ports,
    hostPorts,
    env,
    ...(command[0] !== undefined ? { entrypoint: command[0] } : {}),
    args: [...command.slice(1), ...args],
    ...(typeof c.workingDir === 'string' ? { workingDir: c.workingDir } : {}),
    labels: { [LABEL.graph]: g.name, [LABEL.node]: n.name, [LABEL.pid]: String(process.pid) },
  };
}

/** Where the executor calls one container: its transport's published port (REST or gRPC, as the node says). */
export const hostAddress = (p: ContainerPlan): string => `127.0.0.1:${servicePort(p.transport, p.hostPorts)}`;

/** `docker create` arguments; `docker start` runs it. */
export function dockerCreateArgs(p: ContainerPlan): string[] {
  const a = ['create', '--name', p.name];
  for (const [k, v] of Object.entries(p.labels)) a.push('--label', `${k}=${v}`);
  for (const key of ['http', 'grpc', 'metrics'] as const)
    a.push('--publish', `127.0.0.1:${p.hostPorts[key]}:${p.ports[key]}`);
  for (const [k, v] of p.env) a.push('--env', `${k}=${v}`);
  if (p.entrypoint !== undefined) a.push('--entrypoint', p.entrypoint);
  if (p.workingDir !== undefined) a.push('--workdir', p.workingDir);
  a.push(p.image, ...p.args);
  return a;
}
