import type { KubeObject } from '../desired';

/**
 * The few API server operations the operator uses, as an interface: the reconcile logic and the controller are
 * written against it (and tested against a stand-in API server through the real client), and the implementation on
 * @kubernetes/client-node (client-node-api.ts) stays a thin mapping.
 */

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchHandle {
  stop(): void;
}

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
}

export interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** An API error with its HTTP status, so callers can tell 404 (gone), 409 (conflict) and 410 (expired) apart. */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export const statusOf = (err: unknown): number | undefined => (err instanceof KubeApiError ? err.status : undefined);

/**
 * The API server does not serve this kind (404 on its group/version or collection): a custom resource whose CRD is not
 * installed, such as KEDA's ScaledObject on a cluster without KEDA.
 */
export class KindNotServedError extends KubeApiError {
  constructor(
    readonly apiVersion: string,
    readonly kind: string,
    /** The resource's plural where known: with the group it names the CRD (scaledobjects.keda.sh). */
    readonly plural?: string,
  ) {
    super(
      404,
      `the API server does not serve ${apiVersion} ${kind}${plural ? ` (CRD ${crdName(apiVersion, plural)})` : ''}`,
    );
    this.name = 'KindNotServedError';
  }
}

export const crdName = (apiVersion: string, plural: string): string => `${plural}.${apiVersion.split('/')[0] ?? ''}`;

export interface KubeApi {
  /** KindNotServedError when the API server does not serve the kind. */
  list(apiVersion: string, kind: string, namespace: string | undefined, labelSelector?: string): Promise<ListResult>;
  /** Watches from resourceVersion; onClose(err) when the stream ends (err.status 410: the version is too old). */
  watch(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    opts: { resourceVersion: string; labelSelector?: string },
    onEvent: (type: WatchEventType, obj: KubeObject) => void,
    onClose: (err?: unknown) => void,
  ): Promise<WatchHandle>;
  /**
   * Server-side apply with force, as the operator's field manager (or another: the replicas handover), creates or
   * updates and returns the object as stored; KindNotServedError when the API server does not serve its kind.
   */
  apply(obj: KubeObject, fieldManager?: string): Promise<KubeObject>;
  /** Deletes; absent objects are not an error. */
  delete(apiVersion: string, kind: string, namespace: string, name: string): Promise<void>;
  /** Merge patch of an InferenceGraph's status subresource (a null removes a key). */
  patchGraphStatus(namespace: string, name: string, status: Record<string, unknown>): Promise<void>;
  /** Merge patch of a SeldonDeployment's status subresource (machinelearning.seldon.io/v1; a null removes a key). */
  patchSeldonStatus(namespace: string, name: string, status: Record<string, unknown>): Promise<void>;
  createEvent(namespace: string, event: KubeObject): Promise<void>;
  getLease(namespace: string, name: string): Promise<Lease | undefined>;
  /** 409 when it exists already. */
  createLease(lease: Lease): Promise<Lease>;
  /** 409 when metadata.resourceVersion is stale: someone else wrote it. */
  replaceLease(lease: Lease): Promise<Lease>;
}
