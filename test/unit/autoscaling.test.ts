import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { type ConfigError } from '../../src/errors';
import { parseManifest } from '../../src/graph/manifest';
import { desiredObjects, type KubeObject } from '../../src/k8s/desired';
import { REPO } from '../helpers/graph-process';

/**
 * runtime.autoscaling beyond CPU: in-flight requests as an autoscaling/v2 Pods metric (the node's own
 * infergraph_node_in_flight_requests, for clusters with a Prometheus adapter), and a KEDA ScaledObject on the
 * executor's infergraph_hop_in_flight_requests. HPAs are checked against Kubernetes' schema (kubernetes-models),
 * ScaledObjects against KEDA's CRD schema (test/fixtures/keda, source in its README).
 */

const render = (autoscaling: string, container = false): KubeObject[] => {
  const node = container
    ? `{name: m, type: MODEL, runtime: {container: {image: user/model:1}, autoscaling: ${autoscaling}}}`
    : `{name: m, type: MODEL, implementation: identity, runtime: {autoscaling: ${autoscaling}}}`;
  const yaml = `apiVersion: infergraph.dev/v1alpha1\nkind: InferenceGraph\nmetadata: {name: g}\nspec:\n  graph: ${node}\n`;
  const graph = parseManifest(yaml, REPO, 'g.yaml');
  return desiredObjects({
    graph,
    manifest: { apiVersion: 'infergraph.dev/v1alpha1', kind: 'InferenceGraph', metadata: { name: 'g' }, spec: {} },
  });
};
const kedaSpec = JSON.parse(
  readFileSync(path.join(REPO, 'test/fixtures/keda/scaledobject-spec.schema.json'), 'utf8'),
) as Record<string, unknown>;
const validateKeda = new Ajv({ strict: false }).compile(kedaSpec);

describe('autoscaling: in-flight requests (Pods metric) and KEDA', () => {
  it('inFlightTarget adds a Pods metric on infergraph_node_in_flight_requests beside the given metrics', () => {
    const cpu = '{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}}';
    const hpa = render(`{minReplicas: 2, maxReplicas: 8, inFlightTarget: 4, metrics: [${cpu}]}`).find(
      (o) => o.kind === 'HorizontalPodAutoscaler',
    );
    assert.ok(hpa);
    assert.doesNotThrow(() => new HorizontalPodAutoscaler(hpa).validate());
    const spec = hpa.spec as { metrics: unknown[]; scaleTargetRef: { name: string } };
    assert.equal(spec.scaleTargetRef.name, 'g-m');
    assert.deepEqual(spec.metrics[1], {
      type: 'Pods',
      pods: {
        metric: { name: 'infergraph_node_in_flight_requests' },
        target: { type: 'AverageValue', averageValue: '4' },
      },
    });
  });

  it('keda: a ScaledObject (no HPA) on the executor-side in-flight gauge, valid against KEDA’s schema; containers too', () => {
    for (const container of [false, true]) {
      const objects = render(
        '{maxReplicas: 5, inFlightTarget: 3, keda: {prometheusAddress: "http://prometheus.monitoring:9090", pollingInterval: 10}}',
        container,
      );
      assert.equal(objects.filter((o) => o.kind === 'HorizontalPodAutoscaler').length, 0, 'KEDA makes its own HPA');
      const so = objects.find((o) => o.kind === 'ScaledObject');
      assert.ok(so);
      assert.equal(so.apiVersion, 'keda.sh/v1alpha1');
      assert.ok(validateKeda(so.spec), JSON.stringify(validateKeda.errors));
      assert.deepEqual(so.spec, {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'g-m' },
        minReplicaCount: 1,
        maxReplicaCount: 5,
        pollingInterval: 10,
        triggers: [
          {
            type: 'prometheus',
            metadata: {
              serverAddress: 'http://prometheus.monitoring:9090',
              query: 'sum(infergraph_hop_in_flight_requests{deployment_name="g",model_name="m"})',
              threshold: '3',
            },
          },
        ],
      });
    }
    // The schema does catch a wrong shape.
    assert.equal(
      validateKeda({ scaleTargetRef: { name: 'x' }, triggers: [{ type: 'prometheus', metadata: { threshold: 3 } }] }),
      false,
    );
  });

  it('with an autoscaler (HPA or KEDA) the Deployment sets no replicas, the executor and other nodes do: what the operator applies', () => {
    for (const a of [
      '{maxReplicas: 4}',
      '{maxReplicas: 4, inFlightTarget: 2, keda: {prometheusAddress: "http://p:9090"}}',
    ]) {
      const objects = render(a);
      const spec = (name: string): Record<string, unknown> =>
        objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name)?.spec as Record<string, unknown>;
      assert.equal('replicas' in spec('g-m'), false, a);
      assert.equal(spec('g-executor').replicas, 1);
    }
  });

  it('refusals name the field and what to do instead', () => {
    assert.throws(
      () => render('{maxReplicas: 5, keda: {prometheusAddress: "http://p:9090"}}'),
      (e: ConfigError) => /runtime\.autoscaling\.keda: needs inFlightTarget/.test(e.message),
    );
    assert.throws(
      () => render('{maxReplicas: 5, inFlightTarget: 2}', true),
      (e: ConfigError) =>
        /inFlightTarget: a user's container exports no infergraph_node_in_flight_requests; add keda/.test(e.message),
    );
  });
});
