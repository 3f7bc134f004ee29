import { EXECUTOR_PORT, executorName, graphLabels, NODE_PORT, selectorLabels } from './names';
import type { Json } from './pod';

/** The Kubernetes objects of a graph, one builder each: what desired.ts assembles per node and for the executor. */

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    ownerReferences?: OwnerReference[];
  } & Json;
  [k: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: boolean;
  blockOwnerDeletion: boolean;
}

export function deployment(
  metadata: KubeObject['metadata'],
  selector: Record<string, string>,
  labels: Record<string, string>,
  replicas: number | undefined,
  hash: string,
  pod: Json,
  annotations: Record<string, string> = {},
): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata,
    spec: {
      ...(replicas === undefined ? {} : { replicas }),
      selector: { matchLabels: selector },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels, annotations: { ...annotations, 'infergraph.dev/manifest-sha256': hash } },
        spec: pod,
      },
    },
  };
}

export function service(
  metadata: KubeObject['metadata'],
  selector: Record<string, string>,
  ports: { name: string; port: number; appProtocol: string }[],
  headless = true,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata,
    spec: {
      ...(headless ? { clusterIP: 'None' } : { type: 'ClusterIP' }),
      selector,
      ports: ports.map((p) => ({ ...p, targetPort: p.name, protocol: 'TCP' })),
    },
  };
}

export function pdb(metadata: KubeObject['metadata'], selector: Record<string, string>): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata,
    spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
  };
}

/** Node pods take gRPC only from this graph's executor pods; the executor takes its ports from anywhere. */
export function networkPolicies(
  graph: string,
  meta: (name: string, labels: Record<string, string>) => KubeObject['metadata'],
  containerPorts: number[],
  /** the executor's REST port, when REST is on */
  httpPort?: number,
): KubeObject[] {
  const np = (name: string, role: 'node' | 'executor', ports: number[], from?: Json[]): KubeObject => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(name, graphLabels(graph, role)),
    spec: {
      podSelector: { matchLabels: selectorLabels(graph, role) },
      policyTypes: ['Ingress'],
      ingress: [{ ...(from ? { from } : {}), ports: ports.map((port) => ({ protocol: 'TCP', port })) }],
    },
  });
  return [
    np(
      `${graph}-nodes`,
      'node',
      [...new Set([NODE_PORT, ...containerPorts])],
      [{ podSelector: { matchLabels: selectorLabels(graph, 'executor') } }],
    ),
    np(executorName(graph), 'executor', httpPort ? [EXECUTOR_PORT, httpPort] : [EXECUTOR_PORT]),
  ];
}
