import { isObj, type Obj } from '../graph/check';
import type { SeldonProblems } from './problems';
import type { Json, SeldonHpaSpec, SeldonPodSpec } from './types';

/**
 * componentSpecs[]: a pod template per entry. The PodSpec is Kubernetes' own and is kept as written (Kubernetes checks
 * it when the objects are applied, and render's output is checked against its schemas); here only what infergraph
 * needs from it is checked: named containers, and the autoscaling fields of Seldon's hpaSpec.
 */

const COMPONENT = ['metadata', 'spec', 'hpaSpec', 'replicas', 'kedaSpec', 'pdbSpec'];
const DNS = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function stringMap(raw: unknown, at: string, p: SeldonProblems): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (!isObj(raw)) {
    p.add(at, 'must be a mapping of strings');
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v === 'string') out[k] = v;
    else p.add(`${at}.${k}`, `must be a string, got ${JSON.stringify(v)}`);
  }
  return out;
}

export function checkComponentSpec(raw: unknown, at: string, p: SeldonProblems): SeldonPodSpec | undefined {
  if (!isObj(raw)) {
    p.add(at, 'must be a mapping with spec (a Kubernetes PodSpec)');
    return undefined;
  }
  p.unknown(at, raw, COMPONENT);
  if (raw.kedaSpec !== undefined)
    p.add(
      `${at}.kedaSpec`,
      'KEDA scaling is not supported: use hpaSpec (an autoscaling/v2 HorizontalPodAutoscaler is rendered)',
    );
  if (raw.pdbSpec !== undefined)
    p.warn(
      `${at}.pdbSpec`,
      'ignored: infergraph renders its own PodDisruptionBudget (maxUnavailable 1) for every pod with more than one replica',
    );
  const spec = isObj(raw.spec) ? raw.spec : {};
  const containers = Array.isArray(spec.containers) ? spec.containers : [];
  if (!isObj(raw.spec) || !Array.isArray(spec.containers))
    p.add(`${at}.spec`, 'must be a Kubernetes PodSpec with containers');
  const named: (Json & { name: string })[] = [];
  containers.forEach((c, k) => {
    const where = `${at}.spec.containers[${k}]`;
    if (!isObj(c) || typeof c.name !== 'string' || !DNS.test(c.name)) {
      p.add(where, 'needs a name, a DNS-1123 label (it is matched to the graph unit of that name)');
      return;
    }
    if (c.env !== undefined && !Array.isArray(c.env)) p.add(`${where}.env`, 'must be a list of {name, value}');
    named.push(c as Json & { name: string });
  });
  const meta = isObj(raw.metadata) ? raw.metadata : {};
  const out: SeldonPodSpec = {
    metadata: {
      labels: stringMap(meta.labels, `${at}.metadata.labels`, p),
      annotations: stringMap(meta.annotations, `${at}.metadata.annotations`, p),
    },
    spec: { ...spec, containers: named },
  };
  if (typeof meta.name === 'string') out.metadata.name = meta.name;
  if (raw.replicas !== undefined && raw.replicas !== null) {
    if (typeof raw.replicas === 'number' && Number.isInteger(raw.replicas) && raw.replicas >= 0)
      out.replicas = raw.replicas;
    else p.add(`${at}.replicas`, `must be an integer >= 0, got ${JSON.stringify(raw.replicas)}`);
  }
  if (raw.hpaSpec !== undefined) {
    const hpa = hpaSpec(raw.hpaSpec, `${at}.hpaSpec`, p);
    if (hpa) out.hpaSpec = hpa;
  }
  return out;
}

function hpaSpec(raw: unknown, at: string, p: SeldonProblems): SeldonHpaSpec | undefined {
  if (!isObj(raw)) {
    p.add(at, 'must be a mapping with minReplicas, maxReplicas, metrics or metricsv2');
    return undefined;
  }
  p.unknown(at, raw, ['minReplicas', 'maxReplicas', 'metrics', 'metricsv2']);
  const int = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;
  if (!int(raw.maxReplicas))
    p.add(`${at}.maxReplicas`, `required integer >= 1, got ${JSON.stringify(raw.maxReplicas)}`);
  if (raw.minReplicas !== undefined && !int(raw.minReplicas))
    p.add(`${at}.minReplicas`, `must be an integer >= 1, got ${JSON.stringify(raw.minReplicas)}`);
  else if (int(raw.minReplicas) && int(raw.maxReplicas) && raw.minReplicas > raw.maxReplicas)
    p.add(at, `minReplicas ${raw.minReplicas} is above maxReplicas ${raw.maxReplicas}`);
  if (raw.metrics !== undefined && raw.metricsv2 !== undefined)
    p.add(at, 'give metrics (autoscaling/v2beta1 form) or metricsv2 (autoscaling/v2 form), not both');
  let metrics: Json[] = [];
  if (raw.metricsv2 !== undefined) {
    if (Array.isArray(raw.metricsv2) && raw.metricsv2.every(isObj)) metrics = raw.metricsv2;
    else p.add(`${at}.metricsv2`, 'must be a list of autoscaling/v2 MetricSpecs');
  } else if (raw.metrics !== undefined) {
    if (!Array.isArray(raw.metrics)) p.add(`${at}.metrics`, 'must be a list of autoscaling/v2beta1 MetricSpecs');
    else
      raw.metrics.forEach((m, i) => {
        const v2 = metricToV2(m);
        if (typeof v2 === 'string') p.add(`${at}.metrics[${i}]`, v2);
        else metrics.push(v2);
      });
  }
  if (!int(raw.maxReplicas)) return undefined;
  const out: SeldonHpaSpec = { maxReplicas: raw.maxReplicas, metrics };
  if (int(raw.minReplicas)) out.minReplicas = raw.minReplicas;
  return out;
}

/**
 * autoscaling/v2beta1 → v2, as Kubernetes converts them (v2beta1 is gone since Kubernetes 1.25): the target moves
 * into `target: {type, averageUtilization | averageValue | value}`, a metric name into `metric: {name, selector}`.
 */
function metricToV2(m: unknown): Json | string {
  if (!isObj(m)) return 'must be a MetricSpec mapping';
  const target = (o: Obj): Json | undefined => {
    if (o.targetAverageUtilization !== undefined)
      return { type: 'Utilization', averageUtilization: o.targetAverageUtilization };
    if (o.targetAverageValue !== undefined) return { type: 'AverageValue', averageValue: o.targetAverageValue };
    if (o.targetValue !== undefined) return { type: 'Value', value: o.targetValue };
    return undefined;
  };
  const metric = (o: Obj): Json => ({
    name: o.metricName,
    ...(o.selector !== undefined
      ? { selector: o.selector }
      : o.metricSelector !== undefined
        ? { selector: o.metricSelector }
        : {}),
  });
  const need = 'needs a target (targetAverageUtilization, targetAverageValue or targetValue)';
  switch (m.type) {
    case 'Resource': {
      const r = isObj(m.resource) ? m.resource : {};
      const t = target(r);
      return t ? { type: 'Resource', resource: { name: r.name, target: t } } : `resource ${need}`;
    }
    case 'Pods': {
      const r = isObj(m.pods) ? m.pods : {};
      const t = target(r);
      return t ? { type: 'Pods', pods: { metric: metric(r), target: t } } : `pods ${need}`;
    }
    case 'Object': {
      const r = isObj(m.object) ? m.object : {};
      const t = target(r);
      return t
        ? { type: 'Object', object: { describedObject: r.target, metric: metric(r), target: t } }
        : `object ${need}`;
    }
    case 'External': {
      const r = isObj(m.external) ? m.external : {};
      const t = target(r);
      return t ? { type: 'External', external: { metric: metric(r), target: t } } : `external ${need}`;
    }
    default:
      return `type must be Resource, Pods, Object or External, got ${JSON.stringify(m.type)}`;
  }
}
