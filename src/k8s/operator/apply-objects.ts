import type { Logger } from 'pino';
import type { KubeObject } from '../desired';
import { FIELD_MANAGER, LABEL } from '../names';
import { crdName, KindNotServedError, type KubeApi } from './kube-api';

/**
 * Server-side apply of a graph's objects where autoscalers are involved, shared by both reconcilers.
 *
 * A Deployment with an autoscaler (HPA or KEDA ScaledObject) is rendered without `spec.replicas`: the autoscaler
 * writes it through the scale subresource, and an apply that set it would reset the scale on every reconcile. But a
 * field the operator set before and now leaves out is removed by server-side apply when no other manager owns it,
 * and Deployments default it to 1: a node running 3 pods that gains an autoscaler would drop to 1 pod until the
 * autoscaler acts. So, as Kubernetes' "transferring ownership" recipe says, the live count is first applied under a
 * second field manager, which keeps it until the autoscaler takes the field over. (Seldon's operator, which updates
 * instead of applying, copies the live replicas into the Deployment it writes when it has an hpaSpec.)
 *
 * An object whose kind the cluster does not serve (KEDA's ScaledObject without KEDA) is not applied; the rest is,
 * and the caller reports what is missing on the graph's status.
 */

/** Holds a Deployment's replica count while the operator hands it over to the autoscaler. */
export const HANDOVER_MANAGER = `${FIELD_MANAGER}-replicas-handover`;

export interface MissingKind {
  /** `<Kind>/<name>` */
  object: string;
  node?: string;
  apiVersion: string;
  kind: string;
  crd?: string;
}

export interface AppliedObjects {
  /** As stored: a Deployment's replicas are what its autoscaler set. */
  applied: KubeObject[];
  missing: MissingKind[];
  /** Deployments whose replicas went to the handover manager in this pass. */
  handedOver: string[];
}

type ManagedField = { manager?: string; operation?: string; fieldsV1?: { 'f:spec'?: { 'f:replicas'?: unknown } } };

const replicasOf = (d: KubeObject): number | undefined => (d.spec as { replicas?: number } | undefined)?.replicas;

/** The operator's apply is the only owner of spec.replicas (as before the node had an autoscaler). */
function replicasOnlyOurs(d: KubeObject): boolean {
  const fields = ((d.metadata as { managedFields?: ManagedField[] }).managedFields ?? []).filter(
    (m) => m.fieldsV1?.['f:spec']?.['f:replicas'] !== undefined,
  );
  const ours = (m: ManagedField): boolean => m.manager === FIELD_MANAGER && m.operation === 'Apply';
  return fields.some(ours) && fields.every(ours);
}

/**
 * Applies `objects` in order. `liveDeployments` lists what runs now (asked only when some Deployment leaves its
 * replicas to an autoscaler).
 */
export async function applyObjects(
  api: KubeApi,
  objects: KubeObject[],
  liveDeployments: () => Promise<KubeObject[]>,
): Promise<AppliedObjects> {
  const handedOver: string[] = [];
  const autoscaled = objects.filter((o) => o.kind === 'Deployment' && replicasOf(o) === undefined);
  if (autoscaled.length) {
    const live = new Map((await liveDeployments()).map((d) => [d.metadata.name, d]));
    for (const d of autoscaled) {
      const now = live.get(d.metadata.name);
      const replicas = now && replicasOf(now);
      if (!now || replicas === undefined || !replicasOnlyOurs(now)) continue;
      const { name, namespace } = d.metadata;
      await api.apply(
        {
          apiVersion: d.apiVersion,
          kind: d.kind,
          metadata: { name, ...(namespace ? { namespace } : {}) },
          spec: { replicas },
        },
        HANDOVER_MANAGER,
      );
      handedOver.push(name);
    }
  }
  const applied: KubeObject[] = [];
  const missing: MissingKind[] = [];
  for (const o of objects) {
    try {
      applied.push(await api.apply(o));
    } catch (err) {
      if (!(err instanceof KindNotServedError)) throw err;
      const node = o.metadata.labels?.[LABEL.node];
      missing.push({
        object: `${o.kind}/${o.metadata.name}`,
        ...(node ? { node } : {}),
        apiVersion: o.apiVersion,
        kind: o.kind,
        ...(err.plural ? { crd: crdName(o.apiVersion, err.plural) } : {}),
      });
    }
  }
  return { applied, missing, handedOver };
}

/** What to tell the user about objects not applied: per node, the kind, the CRD, and what to do. */
export function missingMessage(missing: MissingKind[]): string {
  return missing
    .map((m) => {
      const crd = m.crd ? ` (CRD ${m.crd} is not installed)` : '';
      const who = m.node ? `node ${m.node}` : m.object;
      if (m.kind === 'ScaledObject')
        return (
          `${who}: runtime.autoscaling.keda needs KEDA, but the API server does not serve ${m.apiVersion} ScaledObject${crd}; ` +
          `${m.object} was not applied and the node keeps its current replicas with no autoscaler. ` +
          'Install KEDA, or remove keda to scale with a HorizontalPodAutoscaler'
        );
      return `${who}: the API server does not serve ${m.apiVersion} ${m.kind}${crd}; ${m.object} was not applied`;
    })
    .join('\n');
}

export interface ListOptions {
  logger?: Pick<Logger, 'info'>;
  /** Kinds already reported as not served (`<apiVersion> <kind>`), so each is logged once while it stays so. */
  notServed?: Set<string>;
}

/** The objects of a kind, or none when the cluster does not serve it (a CRD not installed has nothing to prune). */
export async function listServed(
  api: KubeApi,
  apiVersion: string,
  kind: string,
  namespace: string,
  labelSelector: string,
  o: ListOptions,
): Promise<KubeObject[]> {
  const key = `${apiVersion} ${kind}`;
  try {
    const { items } = await api.list(apiVersion, kind, namespace, labelSelector);
    o.notServed?.delete(key);
    return items;
  } catch (err) {
    if (!(err instanceof KindNotServedError)) throw err;
    if (!o.notServed?.has(key)) {
      o.notServed?.add(key);
      o.logger?.info({ kind: key }, `${err.message}: nothing of that kind to prune`);
    }
    return [];
  }
}
