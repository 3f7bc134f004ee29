import type { Autoscaling } from '../graph/spec';
import type { Json } from './pod';

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
      ...(a.metrics?.length ? { metrics: a.metrics } : {}),
    },
  };
}
