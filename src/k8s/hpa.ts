import type { Autoscaling } from '../graph/spec';
import type { Json } from './pod';

/** What infergraph exports that autoscaling reads (src/telemetry): a node's own queue, and the executor's view of it. */
export const IN_FLIGHT_METRIC = {
  node: 'infergraph_node_in_flight_requests',
  hop: 'infergraph_hop_in_flight_requests',
};

type KubeObj = Json & { apiVersion: string; kind: string; metadata: Json & { name: string } };

/**
 * runtime.autoscaling (and Seldon's componentSpecs[].hpaSpec, converted to it) as an autoscaling/v2
 * HorizontalPodAutoscaler on the node's Deployment. Without metrics Kubernetes scales on 80% average CPU utilisation;
 * the Deployment then leaves `replicas` to the autoscaler.
 */
export function horizontalPodAutoscaler(
  metadata: Json & { name: string },
  deployment: string,
  a: Autoscaling,
): Json & { apiVersion: string; kind: string; metadata: Json & { name: string } } {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata,
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment },
      ...(a.minReplicas !== undefined ? { minReplicas: a.minReplicas } : {}),
      maxReplicas: a.maxReplicas,
      ...(metricsOf(a).length ? { metrics: metricsOf(a) } : {}),
    },
  };
}

/**
 * The MetricSpecs: the user's, plus with inFlightTarget a Pods metric on the node's own in-flight gauge (each node pod
 * exports it on its /metrics; a Prometheus adapter turns it into the custom metrics API's pods metric). Without
 * both, Kubernetes' default (80% CPU).
 */
function metricsOf(a: Autoscaling): Json[] {
  const out = [...(a.metrics ?? [])];
  if (a.inFlightTarget !== undefined)
    out.push({
      type: 'Pods',
      pods: {
        metric: { name: IN_FLIGHT_METRIC.node },
        target: { type: 'AverageValue', averageValue: String(a.inFlightTarget) },
      },
    });
  return out;
}

/**
 * autoscaling.keda: a KEDA ScaledObject instead of an HPA (KEDA makes its own). Its prometheus trigger reads the
 * executor's in-flight calls to this node, summed over executor replicas: it exists for every node, a user's
 * container included (which exports no infergraph metric of its own). KEDA asks for ceil(value / threshold) pods.
 */
export function scaledObject(
  metadata: Json & { name: string },
  deployment: string,
  graph: string,
  node: string,
  a: Autoscaling & { keda: NonNullable<Autoscaling['keda']> },
): KubeObj {
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata,
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment },
      minReplicaCount: a.minReplicas ?? 1,
      maxReplicaCount: a.maxReplicas,
      ...(a.keda.pollingInterval !== undefined ? { pollingInterval: a.keda.pollingInterval } : {}),
      ...(a.keda.cooldownPeriod !== undefined ? { cooldownPeriod: a.keda.cooldownPeriod } : {}),
      triggers: [
        {
          type: 'prometheus',
          metadata: {
            serverAddress: a.keda.prometheusAddress,
            query: `sum(${IN_FLIGHT_METRIC.hop}{deployment_name="${graph}",model_name="${node}"})`,
            threshold: String(a.inFlightTarget ?? 1),
          },
        },
      ],
    },
  };
}
