import type { Autoscaling } from '../graph/spec';
import type { KubeObject } from './desired';

/**
 * runtime.autoscaling (and Seldon's componentSpecs[].hpaSpec, converted to it) as an autoscaling/v2
 * HorizontalPodAutoscaler on the node's Deployment. Without metrics Kubernetes scales on 80% average CPU utilisation;
 * the Deployment then leaves `replicas` to the autoscaler.
 */
export function horizontalPodAutoscaler(
  metadata: KubeObject['metadata'],
  deployment: string,
  a: Autoscaling,
): KubeObject {
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
