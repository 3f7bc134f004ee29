import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type KubernetesObject,
  type V1Lease,
} from '@kubernetes/client-node';
import type { KubeObject } from '../desired';
import { FIELD_MANAGER, GROUP, PLURAL, VERSION } from '../names';
import {
  KindNotServedError,
  KubeApiError,
  statusOf,
  type KubeApi,
  type Lease,
  type ListResult,
  type WatchHandle,
} from './kube-api';

/** KubeApi on @kubernetes/client-node: configuration, auth and TLS are the client's; this only maps the calls. */

const SELDON_GROUP = 'machinelearning.seldon.io';
const SELDON_PLURAL = 'seldondeployments';

const PLURALS: Record<string, string> = {
  InferenceGraph: PLURAL,
  SeldonDeployment: SELDON_PLURAL,
  ConfigMap: 'configmaps',
  Service: 'services',
  Deployment: 'deployments',
  NetworkPolicy: 'networkpolicies',
  PodDisruptionBudget: 'poddisruptionbudgets',
  HorizontalPodAutoscaler: 'horizontalpodautoscalers',
  ScaledObject: 'scaledobjects',
};

export function resourcePath(apiVersion: string, kind: string, namespace?: string): string {
  const plural = PLURALS[kind];
  if (!plural) throw new Error(`no resource path for ${kind}`);
  const root = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return `${root}${namespace ? `/namespaces/${namespace}` : ''}/${plural}`;
}

/** client-node's ApiException and watch errors carry the HTTP status as code / statusCode. */
function wrap(err: unknown): never {
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown; message?: string };
  const status = typeof e.code === 'number' ? e.code : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status === undefined) throw err;
  const body = typeof e.body === 'string' ? e.body : JSON.stringify(e.body ?? '');
  let message = e.message ?? `HTTP ${status}`;
  try {
    message = (JSON.parse(body) as { message?: string }).message ?? message;
  } catch {
    // not a Status object
  }
  throw new KubeApiError(status, message);
}

/** KubernetesObjectApi with its discovery lookup (protected there) opened up. */
class ObjectApi extends KubernetesObjectApi {
  static from(kc: KubeConfig): ObjectApi {
    const api = kc.makeApiClient(ObjectApi);
    api.setDefaultNamespace(kc);
    return api;
  }

  /** The kind's APIResource, undefined when its group/version is served without it; throws on a discovery 404. */
  discover(apiVersion: string, kind: string): Promise<unknown> {
    return this.resource(apiVersion, kind);
  }
}

const call = async <T>(p: Promise<T>): Promise<T> => {
  try {
    return await p;
  } catch (err) {
    return wrap(err);
  }
};

export class ClientNodeApi implements KubeApi {
  private readonly objects: ObjectApi;
  private readonly custom: CustomObjectsApi;
  private readonly coordination: CoordinationV1Api;
  private readonly core: CoreV1Api;
  private readonly watcher: Watch;

  constructor(kc: KubeConfig) {
    this.objects = ObjectApi.from(kc);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.coordination = kc.makeApiClient(CoordinationV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.watcher = new Watch(kc);
  }

  /** In a pod: the service account; elsewhere: $KUBECONFIG or ~/.kube/config. */
  static fromDefault(): ClientNodeApi {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    return new ClientNodeApi(kc);
  }

  /**
   * Discovery (client-node caches a group/version once it is served): a kind the API server does not serve is
   * KindNotServedError, where client-node would throw a plain Error or a discovery 404.
   */
  private async served(apiVersion: string, kind: string): Promise<void> {
    let found: unknown;
    try {
      found = await call(this.objects.discover(apiVersion, kind));
    } catch (err) {
      if (statusOf(err) === 404) throw new KindNotServedError(apiVersion, kind, PLURALS[kind]);
      throw err;
    }
    if (!found) throw new KindNotServedError(apiVersion, kind, PLURALS[kind]);
  }

  async list(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    labelSelector?: string,
  ): Promise<ListResult> {
    await this.served(apiVersion, kind);
    try {
      const res = await call(
        this.objects.list(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, labelSelector),
      );
      return { items: res.items as KubeObject[], resourceVersion: res.metadata?.resourceVersion ?? '' };
    } catch (err) {
      // A collection is never "not found" while its kind is served: the CRD went after discovery was cached.
      if (statusOf(err) === 404) throw new KindNotServedError(apiVersion, kind, PLURALS[kind]);
      throw err;
    }
  }

  async watch(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    opts: { resourceVersion: string; labelSelector?: string },
    onEvent: Parameters<KubeApi['watch']>[4],
    onClose: (err?: unknown) => void,
  ): Promise<WatchHandle> {
    const query = {
      resourceVersion: opts.resourceVersion,
      allowWatchBookmarks: true,
      labelSelector: opts.labelSelector,
    };
    const ac = await this.watcher.watch(
      resourcePath(apiVersion, kind, namespace),
      query,
      (type: string, obj: unknown) => onEvent(type as Parameters<typeof onEvent>[0], obj as KubeObject),
      (err: unknown) => {
        try {
          if (err) wrap(err);
          onClose();
        } catch (e) {
          onClose(e);
        }
      },
    );
    return { stop: () => ac.abort() };
  }

  async apply(obj: KubeObject, fieldManager = FIELD_MANAGER): Promise<KubeObject> {
    await this.served(obj.apiVersion, obj.kind);
    const spec = obj as unknown as KubernetesObject;
    return (await call(
      this.objects.patch(spec, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply),
    )) as unknown as KubeObject;
  }

  async delete(apiVersion: string, kind: string, namespace: string, name: string): Promise<void> {
    try {
      await call(this.objects.delete({ apiVersion, kind, metadata: { name, namespace } }));
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
    }
  }

  async patchGraphStatus(namespace: string, name: string, status: Record<string, unknown>): Promise<void> {
    await call(
      this.custom.patchNamespacedCustomObjectStatus(
        { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: { status } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
  }

  async patchSeldonStatus(namespace: string, name: string, status: Record<string, unknown>): Promise<void> {
    await call(
      this.custom.patchNamespacedCustomObjectStatus(
        { group: SELDON_GROUP, version: 'v1', namespace, plural: SELDON_PLURAL, name, body: { status } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
  }

  async createEvent(namespace: string, event: KubeObject): Promise<void> {
    await call(this.core.createNamespacedEvent({ namespace, body: event as never }));
  }

  async getLease(namespace: string, name: string): Promise<Lease | undefined> {
    try {
      return toLease(await call(this.coordination.readNamespacedLease({ name, namespace })));
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async createLease(lease: Lease): Promise<Lease> {
    return toLease(
      await call(
        this.coordination.createNamespacedLease({ namespace: lease.metadata.namespace, body: fromLease(lease) }),
      ),
    );
  }

  async replaceLease(lease: Lease): Promise<Lease> {
    const { name, namespace } = lease.metadata;
    return toLease(await call(this.coordination.replaceNamespacedLease({ name, namespace, body: fromLease(lease) })));
  }
}

/** client-node's V1Lease uses Date objects for MicroTime fields; ours are ISO strings. */
function toLease(l: V1Lease): Lease {
  const s = l.spec ?? {};
  const iso = (d: unknown): string | undefined =>
    d instanceof Date ? d.toISOString() : typeof d === 'string' ? d : undefined;
  return {
    metadata: {
      name: l.metadata?.name ?? '',
      namespace: l.metadata?.namespace ?? '',
      resourceVersion: l.metadata?.resourceVersion,
    },
    spec: {
      holderIdentity: s.holderIdentity,
      leaseDurationSeconds: s.leaseDurationSeconds,
      acquireTime: iso(s.acquireTime),
      renewTime: iso(s.renewTime),
      leaseTransitions: s.leaseTransitions,
    },
  };
}

function fromLease(l: Lease): V1Lease {
  const date = (s: string | undefined): Date | undefined => (s ? new Date(s) : undefined);
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: l.metadata.name, namespace: l.metadata.namespace, resourceVersion: l.metadata.resourceVersion },
    spec: {
      holderIdentity: l.spec.holderIdentity,
      leaseDurationSeconds: l.spec.leaseDurationSeconds,
      acquireTime: date(l.spec.acquireTime) as never,
      renewTime: date(l.spec.renewTime) as never,
      leaseTransitions: l.spec.leaseTransitions,
    },
  };
}
