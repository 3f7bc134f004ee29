import { ConfigError } from '../../errors';
import type { GraphSpec } from '../../graph/spec';
import { desiredObjects, type DesiredInput, type KubeObject, type OwnerReference } from '../desired';
import { EXECUTOR_PORT, executorName, FIELD_MANAGER, LABEL } from '../names';
import { applyObjects, listServed, missingMessage, type ListOptions } from './apply-objects';
import type { KubeApi } from './kube-api';
import { statusPatch } from './merge-patch';
import { event, OWNED_KINDS, replicas, type GraphResource, type ReconcileOptions } from './reconcile';

/**
 * One pass over one SeldonDeployment, through the path `infergraph render` takes: validate and convert it (one
 * InferenceGraph per predictor, src/seldon), render each predictor's objects, server-side apply them all with the
 * SeldonDeployment as their controller owner (deleting it deletes them, as with Seldon's operator), prune what it
 * owned and no longer wants (a predictor or unit removed), and write status in Seldon's own shape (state Creating /
 * Available / Failed, description, deploymentStatus, serviceStatus, address), so `kubectl get sdep` and tools that
 * read Seldon's status keep working. An invalid deployment changes nothing that runs: state Failed with the
 * validator's messages, and a Warning event. An object whose kind the cluster does not serve is left out, named in
 * the description, with a Warning event MissingCRD.
 */

export const SELDON_API_VERSION = 'machinelearning.seldon.io/v1';
export const SELDON_KIND = 'SeldonDeployment';
/** The same shape under these versions (Seldon's conversion is the identity). */
export const SELDON_VERSIONS = [
  'machinelearning.seldon.io/v1',
  'machinelearning.seldon.io/v1alpha2',
  'machinelearning.seldon.io/v1alpha3',
];

/**
 * SeldonDeployment -> its InferenceGraphs (src/seldon/load.ts's loadSeldonDeployment), throwing ConfigError with the
 * problems. Given by the composition root (the CLI): src/seldon reads src/k8s's container constants, so src/k8s must
 * not import it back (no folder cycles).
 */
export type SeldonLoader = (
  doc: unknown,
  source: string,
) => { graphs: { graph: GraphSpec; manifest: DesiredInput['manifest'] }[] };

export interface SeldonReconcileOptions extends ReconcileOptions {
  load: SeldonLoader;
}

export interface SeldonStatus {
  state?: 'Creating' | 'Available' | 'Failed';
  description?: string;
  deploymentStatus?: Record<string, { replicas: number; availableReplicas: number }>;
  serviceStatus?: Record<string, { svcName: string; httpEndpoint?: string; grpcEndpoint: string }>;
  address?: { url: string };
  replicas?: number;
}

export interface SeldonResult {
  status: SeldonStatus;
  valid: boolean;
  ready: boolean;
  applied: number;
  pruned: string[];
  /** The InferenceGraphs the deployment became (their names label the objects). */
  graphs: string[];
}

const MAX_MESSAGE = 8000;

export async function reconcileSeldonDeployment(
  api: KubeApi,
  cr: GraphResource,
  opts: SeldonReconcileOptions,
): Promise<SeldonResult> {
  const { name, namespace, uid } = cr.metadata;
  const generation = cr.metadata.generation ?? 0;
  const now = (opts.now ?? (() => new Date()))().toISOString();
  const doc = {
    apiVersion: cr.apiVersion,
    kind: cr.kind,
    metadata: { ...cr.metadata, name, namespace },
    spec: cr.spec,
  };
  // List items may come without kind: events name the SeldonDeployment.
  const sd: GraphResource = { ...cr, apiVersion: doc.apiVersion, kind: SELDON_KIND };
  const owner: OwnerReference = {
    apiVersion: cr.apiVersion || SELDON_API_VERSION,
    kind: SELDON_KIND,
    name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
  let objects: KubeObject[];
  let graphs: string[];
  try {
    const loaded = opts.load(doc, `${namespace}/${name}`);
    graphs = loaded.graphs.map((g) => g.graph.name);
    objects = loaded.graphs.flatMap((g) =>
      desiredObjects({ graph: g.graph, manifest: g.manifest, image: opts.image, namespace, owner }),
    );
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const message = err.problems.join('\n').slice(0, MAX_MESSAGE);
    const status: SeldonStatus = { ...(cr.status as SeldonStatus | undefined), state: 'Failed', description: message };
    const before = cr.status as SeldonStatus | undefined;
    if (before?.state !== 'Failed' || before.description !== message)
      await event(api, sd, 'Warning', 'InvalidManifest', message, opts, now, `${generation}/${message}`);
    await writeStatus(api, cr, status);
    return { status, valid: false, ready: false, applied: 0, pruned: [], graphs: [] };
  }

  const owned = `${LABEL.managedBy}=${FIELD_MANAGER}`;
  const { applied, missing } = await applyObjects(api, objects, async () =>
    (await listServed(api, 'apps/v1', 'Deployment', namespace, owned, opts)).filter((d) => ownedBy(d, uid)),
  );
  const pruned = await prune(api, namespace, uid, new Set(objects.map((o) => `${o.kind}/${o.metadata.name}`)), opts);
  const lacking = missing.length ? missingMessage(missing) : '';
  const rows = applied.filter((o) => o.kind === 'Deployment').map((d) => ({ d, ...replicas(d) }));
  const notReady = rows.filter((r) => !r.ready).map((r) => `${r.d.metadata.name} ${r.readyReplicas}/${r.replicas}`);
  const ready = notReady.length === 0;
  const svc = (g: string): string => `${executorName(g)}.${namespace}.svc.cluster.local`;
  const status: SeldonStatus = {
    state: ready ? 'Available' : 'Creating',
    description: [
      ready ? `${rows.length} deployments ready (infergraph)` : `waiting for ${notReady.join(', ')}`,
      ...(lacking ? [lacking] : []),
    ]
      .join('\n')
      .slice(0, MAX_MESSAGE),
    replicas: Math.min(...rows.map((r) => r.readyReplicas)),
    deploymentStatus: Object.fromEntries(
      rows.map((r) => [r.d.metadata.name, { replicas: r.replicas, availableReplicas: r.readyReplicas }]),
    ),
    serviceStatus: Object.fromEntries(
      graphs.map((g) => [
        executorName(g),
        {
          svcName: executorName(g),
          grpcEndpoint: `${svc(g)}:${EXECUTOR_PORT}`,
          httpEndpoint: restEndpoint(applied, g, svc(g)),
        },
      ]),
    ),
    ...(graphs[0]
      ? { address: { url: `http://${restEndpoint(applied, graphs[0], svc(graphs[0]))}/api/v1.0/predictions` } }
      : {}),
  };
  const said = (cr.status as SeldonStatus | undefined)?.description ?? '';
  if (lacking && !said.includes(lacking))
    await event(api, sd, 'Warning', 'MissingCRD', lacking, opts, now, `${generation}/${lacking}`);
  const last = opts.announced?.get(`${uid}/Applied`);
  if (last !== String(generation)) {
    const gone = pruned.length ? `, pruned ${pruned.join(', ')}` : '';
    await event(
      api,
      sd,
      'Normal',
      'Applied',
      `applied ${applied.length} objects of generation ${generation} (${graphs.join(', ')})${gone}`,
      opts,
      now,
      String(generation),
    );
  }
  await writeStatus(api, cr, status);
  return { status, valid: true, ready, applied: applied.length, pruned, graphs };
}

/** The executor Service's REST port (8080 by default), as Seldon's httpEndpoint. */
function restEndpoint(applied: KubeObject[], graph: string, host: string): string | undefined {
  const s = applied.find((o) => o.kind === 'Service' && o.metadata.name === executorName(graph));
  const ports = ((s?.spec ?? {}) as { ports?: { name?: string; port?: number }[] }).ports ?? [];
  const http = ports.find((p) => p.name === 'http');
  return http?.port ? `${host}:${http.port}` : undefined;
}

/** What this SeldonDeployment owns (ownerReferences uid) among infergraph's objects, no longer desired: deleted. */
async function prune(
  api: KubeApi,
  namespace: string,
  uid: string,
  keep: Set<string>,
  opts: ListOptions,
): Promise<string[]> {
  const pruned: string[] = [];
  for (const [apiVersion, kind] of OWNED_KINDS) {
    for (const o of await listServed(api, apiVersion, kind, namespace, `${LABEL.managedBy}=${FIELD_MANAGER}`, opts)) {
      if (!ownedBy(o, uid)) continue;
      const k = `${kind}/${o.metadata.name}`;
      if (keep.has(k)) continue;
      await api.delete(apiVersion, kind, namespace, o.metadata.name);
      pruned.push(k);
    }
  }
  return pruned;
}

const ownedBy = (o: KubeObject, uid: string): boolean =>
  ((o.metadata as { ownerReferences?: { uid?: string }[] }).ownerReferences ?? []).some((r) => r.uid === uid);

async function writeStatus(api: KubeApi, cr: GraphResource, status: SeldonStatus): Promise<void> {
  const patch = statusPatch(cr.status, status);
  if (patch) await api.patchSeldonStatus(cr.metadata.namespace, cr.metadata.name, patch);
}
