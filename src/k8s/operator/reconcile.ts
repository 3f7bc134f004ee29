import { ConfigError } from '../../errors';
import { validateManifest } from '../../graph/manifest';
import { desiredObjects, type KubeObject, type OwnerReference } from '../desired';
import {
  EXECUTOR_PORT,
  executorName,
  FIELD_MANAGER,
  GROUP,
  LABEL,
  MANIFEST_DIR,
  pruneSelector,
  VERSION,
} from '../names';
import { applyObjects, listServed, missingMessage, type ListOptions } from './apply-objects';
import type { KubeApi } from './kube-api';
import { statusPatch } from './merge-patch';

/**
 * One pass over one InferenceGraph: validate it (never loading user code: module files live in the node's image),
 * server-side apply the desired objects with the graph as their controller owner, prune the objects of nodes that
 * left the graph, and write status. An invalid manifest changes nothing that runs: it becomes a Degraded condition
 * with the validator's messages and one Warning event per new set of problems. An object whose kind the cluster does
 * not serve (a KEDA ScaledObject without KEDA) is left out and reported the same way (reason MissingCRD), the rest
 * applied.
 */

export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'InferenceGraph';

/**
 * What the operator owns and prunes. The autoscalers of nodes with runtime.autoscaling come last: KEDA's
 * ScaledObject is a custom resource, and a cluster without KEDA has none to prune.
 */
export const OWNED_KINDS: readonly (readonly [string, string])[] = [
  ['v1', 'ConfigMap'],
  ['v1', 'Service'],
  ['apps/v1', 'Deployment'],
  ['networking.k8s.io/v1', 'NetworkPolicy'],
  ['policy/v1', 'PodDisruptionBudget'],
  ['autoscaling/v2', 'HorizontalPodAutoscaler'],
  ['keda.sh/v1alpha1', 'ScaledObject'],
];

export interface Condition {
  type: 'Ready' | 'Progressing' | 'Degraded';
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

export interface GraphStatus {
  observedGeneration?: number;
  readyNodes?: string;
  executorAddress?: string;
  nodes?: { name: string; replicas: number; readyReplicas: number }[];
  conditions?: Condition[];
}

export interface GraphResource extends KubeObject {
  metadata: KubeObject['metadata'] & { namespace: string; uid: string; generation?: number; resourceVersion?: string };
  spec?: unknown;
  status?: GraphStatus;
}

export interface ReconcileOptions extends ListOptions {
  image: string;
  requestLoggerDefaultEndpoint?: string;
  /** Who writes events (the pod name). */
  identity: string;
  /**
   * Events this process has sent, by graph uid + reason: the informer's copy of a graph can lag behind our own
   * status write, and judging by status alone would repeat an event. (After a restart, status alone decides.)
   */
  announced?: Map<string, string>;
  now?: () => Date;
}

export interface ReconcileResult {
  /** The status as written (or found unchanged). */
  status: GraphStatus;
  valid: boolean;
  ready: boolean;
  applied: number;
  pruned: string[];
}

const MAX_MESSAGE = 8000;

export async function reconcileGraph(
  api: KubeApi,
  cr: GraphResource,
  opts: ReconcileOptions,
): Promise<ReconcileResult> {
  const { name, namespace, uid } = cr.metadata;
  const generation = cr.metadata.generation ?? 0;
  const now = (opts.now ?? (() => new Date()))().toISOString();
  const manifest = { apiVersion: cr.apiVersion, kind: cr.kind, metadata: { name, namespace }, spec: cr.spec };
  let objects: KubeObject[];
  try {
    const graph = validateManifest(manifest, MANIFEST_DIR, `${namespace}/${name}`, { skipModuleFiles: true });
    const owner: OwnerReference = {
      apiVersion: API_VERSION,
      kind: KIND,
      name,
      uid,
      controller: true,
      blockOwnerDeletion: true,
    };
    objects = desiredObjects({
      graph,
      manifest,
      image: opts.image,
      namespace,
      owner,
      ...(opts.requestLoggerDefaultEndpoint ? { requestLoggerDefaultEndpoint: opts.requestLoggerDefaultEndpoint } : {}),
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const message = err.problems.join('\n').slice(0, MAX_MESSAGE);
    const before = condition(cr.status, 'Degraded');
    const status: GraphStatus = {
      ...cr.status,
      observedGeneration: generation,
      conditions: conditions(cr.status, now, generation, [
        ['Ready', 'False', 'InvalidManifest', 'the manifest is invalid: see the Degraded condition'],
        ['Progressing', 'False', 'InvalidManifest', 'nothing is applied until the manifest is fixed'],
        ['Degraded', 'True', 'InvalidManifest', message],
      ]),
    };
    if (before?.status !== 'True' || before.message !== message) {
      await event(api, cr, 'Warning', 'InvalidManifest', message, opts, now, `${generation}/${message}`);
    }
    await writeStatus(api, cr, status);
    return { status, valid: false, ready: false, applied: 0, pruned: [] };
  }

  const { applied, missing } = await applyObjects(api, objects, () =>
    listServed(api, 'apps/v1', 'Deployment', namespace, pruneSelector(name), opts),
  );
  const pruned = await prune(api, namespace, name, new Set(objects.map(key)), opts);

  const deployments = applied.filter((o) => o.kind === 'Deployment');
  const rows = deployments.map((d) => ({ d, ...replicas(d) }));
  const nodeRows = rows.filter((r) => r.d.metadata.labels?.[LABEL.role] === 'node');
  const notReady = rows.filter((r) => !r.ready).map((r) => `${r.d.metadata.name} ${r.readyReplicas}/${r.replicas}`);
  const ready = notReady.length === 0;
  const status: GraphStatus = {
    observedGeneration: generation,
    readyNodes: `${nodeRows.filter((r) => r.ready).length}/${nodeRows.length}`,
    executorAddress: `${executorName(name)}.${namespace}.svc:${EXECUTOR_PORT}`,
    nodes: nodeRows.map((r) => ({
      name: r.d.metadata.labels?.[LABEL.node] ?? r.d.metadata.name,
      replicas: r.replicas,
      readyReplicas: r.readyReplicas,
    })),
    conditions: conditions(cr.status, now, generation, [
      ready
        ? ['Ready', 'True', 'AllReplicasReady', `${rows.length} deployments ready`]
        : ['Ready', 'False', 'ReplicasNotReady', `waiting for ${notReady.join(', ')}`],
      ready
        ? ['Progressing', 'False', 'Complete', 'all replicas are up to date and ready']
        : ['Progressing', 'True', 'RollingOut', `${notReady.length} deployments rolling out`],
      missing.length
        ? ['Degraded', 'True', 'MissingCRD', missingMessage(missing).slice(0, MAX_MESSAGE)]
        : ['Degraded', 'False', 'AsExpected', 'the manifest is valid and applied'],
    ]),
  };
  const degraded = condition(status, 'Degraded');
  const before = condition(cr.status, 'Degraded');
  if (degraded?.reason === 'MissingCRD' && (before?.reason !== 'MissingCRD' || before.message !== degraded.message))
    await event(api, cr, 'Warning', 'MissingCRD', degraded.message, opts, now, `${generation}/${degraded.message}`);
  if (cr.status?.observedGeneration !== generation) {
    const gone = pruned.length ? `, pruned ${pruned.join(', ')}` : '';
    await event(
      api,
      cr,
      'Normal',
      'Applied',
      `applied ${applied.length} objects of generation ${generation}${gone}`,
      opts,
      now,
      String(generation),
    );
  }
  await writeStatus(api, cr, status);
  return { status, valid: true, ready, applied: applied.length, pruned };
}

const key = (o: KubeObject): string => `${o.kind}/${o.metadata.name}`;

/** Objects of this graph (by label) that the desired state no longer has: nodes removed, a PDB no longer needed. */
async function prune(
  api: KubeApi,
  namespace: string,
  graph: string,
  keep: Set<string>,
  opts: ListOptions,
): Promise<string[]> {
  const pruned: string[] = [];
  for (const [apiVersion, kind] of OWNED_KINDS) {
    for (const o of await listServed(api, apiVersion, kind, namespace, pruneSelector(graph), opts)) {
      const k = `${kind}/${o.metadata.name}`;
      if (keep.has(k)) continue;
      await api.delete(apiVersion, kind, namespace, o.metadata.name);
      pruned.push(k);
    }
  }
  return pruned;
}

/**
 * A Deployment's want and readiness from the object as stored (what apply returned), not from the manifest: with an
 * autoscaler its replicas are what the autoscaler last set.
 */
export function replicas(d: KubeObject): { replicas: number; readyReplicas: number; ready: boolean } {
  const spec = (d.spec ?? {}) as { replicas?: number };
  const st = (d.status ?? {}) as { observedGeneration?: number; readyReplicas?: number; updatedReplicas?: number };
  const want = spec.replicas ?? 1;
  const readyReplicas = st.readyReplicas ?? 0;
  const generation = (d.metadata as { generation?: number }).generation ?? 0;
  const current = (st.observedGeneration ?? 0) >= generation && (st.updatedReplicas ?? 0) >= want;
  return { replicas: want, readyReplicas, ready: current && readyReplicas >= want };
}

const condition = (s: GraphStatus | undefined, type: Condition['type']): Condition | undefined =>
  s?.conditions?.find((c) => c.type === type);

/** New conditions keep their lastTransitionTime unless their status flips. */
function conditions(
  prev: GraphStatus | undefined,
  now: string,
  generation: number,
  list: [Condition['type'], Condition['status'], string, string][],
): Condition[] {
  return list.map(([type, status, reason, message]) => {
    const old = condition(prev, type);
    const lastTransitionTime = old && old.status === status && old.lastTransitionTime ? old.lastTransitionTime : now;
    return { type, status, reason, message, observedGeneration: generation, lastTransitionTime };
  });
}

async function writeStatus(api: KubeApi, cr: GraphResource, status: GraphStatus): Promise<void> {
  const patch = statusPatch(cr.status, status);
  if (patch) await api.patchGraphStatus(cr.metadata.namespace, cr.metadata.name, patch);
}

export async function event(
  api: KubeApi,
  cr: GraphResource,
  type: 'Normal' | 'Warning',
  reason: string,
  message: string,
  opts: ReconcileOptions,
  now: string,
  signature: string,
): Promise<void> {
  const { name, namespace, uid, resourceVersion } = cr.metadata;
  const said = `${uid}/${reason}`;
  const involved =
    cr.kind === 'SeldonDeployment'
      ? { apiVersion: cr.apiVersion, kind: cr.kind }
      : { apiVersion: API_VERSION, kind: KIND };
  if (opts.announced?.get(said) === signature) return;
  await api.createEvent(namespace, {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: {
      name: `${name}.${Date.now().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`,
      namespace,
    },
    involvedObject: { ...involved, name, namespace, uid, resourceVersion },
    type,
    reason,
    message: message.slice(0, 1024),
    source: { component: FIELD_MANAGER },
    reportingComponent: FIELD_MANAGER,
    reportingInstance: opts.identity,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  });
  opts.announced?.set(said, signature);
}
