import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { managedFields, sameOwners, ssaApply, ssaUpdate, type Managers } from './fake-ssa';

/**
 * An in-process stand-in for the parts of the Kubernetes API server the operator uses, speaking the real HTTP API so
 * that @kubernetes/client-node talks to it unchanged: discovery (404 for a group/version nothing serves), list and
 * watch with resourceVersion (and 410 Gone after a compaction), server-side apply (PATCH application/apply-patch+yaml
 * with fieldManager and force, with field ownership: test/helpers/fake-ssa.ts), merge patch of the status
 * subresource, delete with garbage collection by ownerReferences, Leases with optimistic concurrency, Events.
 * Deployments default `replicas` to 1 and report their replicas ready when `deploymentsReady` is set, as if pods
 * started; `scale()` writes a Deployment's replicas as an HPA does. KEDA's ScaledObjects are served only when asked
 * for (`{keda: true}` or `installKeda()`), as where KEDA's CRD is installed.
 */

type Obj = Record<string, any>;

interface Resource {
  group: string;
  version: string;
  plural: string;
  kind: string;
}

const RESOURCES: Resource[] = [
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap' },
  { group: '', version: 'v1', plural: 'services', kind: 'Service' },
  { group: '', version: 'v1', plural: 'events', kind: 'Event' },
  { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment' },
  { group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', kind: 'NetworkPolicy' },
  { group: 'policy', version: 'v1', plural: 'poddisruptionbudgets', kind: 'PodDisruptionBudget' },
  { group: 'autoscaling', version: 'v2', plural: 'horizontalpodautoscalers', kind: 'HorizontalPodAutoscaler' },
  { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease' },
  { group: 'infergraph.dev', version: 'v1alpha1', plural: 'inferencegraphs', kind: 'InferenceGraph' },
  { group: 'machinelearning.seldon.io', version: 'v1', plural: 'seldondeployments', kind: 'SeldonDeployment' },
];

/** KEDA's CRD: served only where installed. */
const KEDA: Resource = { group: 'keda.sh', version: 'v1alpha1', plural: 'scaledobjects', kind: 'ScaledObject' };

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType?: string;
}

interface Watcher {
  plural: string;
  namespace?: string;
  selector: Record<string, string>;
  res: ServerResponse;
}

export class FakeApiServer {
  readonly requests: RequestRecord[] = [];
  /** key: plural/namespace/name */
  readonly store = new Map<string, Obj>();
  /** Field managers per stored object (same key). */
  private readonly owners = new Map<string, Managers>();
  private readonly resources: Resource[];
  private history: { rv: number; plural: string; type: string; obj: Obj }[] = [];
  private rv = 1;
  private compactedBelow = 0;
  private watchers = new Set<Watcher>();
  deploymentsReady = true;
  /** Fail this many of the next server-side applies with 500, as an overloaded API server might. */
  failApplies = 0;
  private server: Server | undefined;
  url = '';

  constructor(opts: { keda?: boolean } = {}) {
    this.resources = opts.keda ? [...RESOURCES, KEDA] : [...RESOURCES];
  }

  /** KEDA installed: ScaledObjects are served from now on. */
  installKeda(): void {
    if (!this.resources.includes(KEDA)) this.resources.push(KEDA);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /** Other writes in the cluster move the resourceVersion on, unseen by watchers of other kinds. */
  bump(n = 5): void {
    this.rv += n;
  }

  /** Watches from versions before now get 410 Gone, as after an etcd compaction. */
  compact(): void {
    this.compactedBelow = this.rv;
    this.history = [];
  }

  /** Ends every open watch (the API server does so after its timeout). */
  dropWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  list(plural: string, namespace?: string): Obj[] {
    return [...this.store.values()]
      .filter((o) => o._plural === plural && (!namespace || o.metadata.namespace === namespace))
      .map(strip);
  }

  get(plural: string, namespace: string, name: string): Obj | undefined {
    const o = this.store.get(`${plural}/${namespace}/${name}`);
    return o && strip(o);
  }

  /** What `kubectl apply --server-side` of a graph does: create, or update (generation + 1 when the spec changed). */
  applyGraph(obj: Obj): Obj {
    return strip(this.upsert('inferencegraphs', obj.metadata.namespace ?? 'default', obj, 'kubectl', 'apply'));
  }

  /** `kubectl apply --server-side` of any custom resource (a SeldonDeployment). */
  apply(plural: string, obj: Obj): Obj {
    return strip(this.upsert(plural, obj.metadata.namespace ?? 'default', obj, 'kubectl', 'apply'));
  }

  /** Any object, written (created or replaced) as another client would. */
  put(plural: string, obj: Obj): Obj {
    return strip(this.upsert(plural, obj.metadata.namespace ?? 'default', obj, 'other', 'update'));
  }

  /**
   * What a HorizontalPodAutoscaler (or KEDA's) does to its target: an update of `spec.replicas` through the scale
   * subresource, by the kube-controller-manager, which then owns the field.
   */
  scale(namespace: string, name: string, replicas: number, manager = 'kube-controller-manager'): Obj {
    const o = this.store.get(`deployments/${namespace}/${name}`);
    if (!o) throw new Error(`no deployment ${namespace}/${name}`);
    const body = strip(o);
    body.spec = { ...body.spec, replicas };
    return strip(this.upsert('deployments', namespace, body, manager, 'update', 'scale'));
  }

  deleteObject(plural: string, namespace: string, name: string): boolean {
    const key = `${plural}/${namespace}/${name}`;
    const o = this.store.get(key);
    if (!o) return false;
    this.store.delete(key);
    this.owners.delete(key);
    o.metadata.resourceVersion = String(++this.rv);
    this.emit(plural, 'DELETED', o);
    // The garbage collector: dependents whose owner is gone go too (foreground/background alike here).
    for (const dep of [...this.store.values()]) {
      if ((dep.metadata.ownerReferences ?? []).some((r: Obj) => r.uid === o.metadata.uid))
        this.deleteObject(dep._plural, dep.metadata.namespace, dep.metadata.name);
    }
    return true;
  }

  /** Marks every Deployment's replicas ready (or not) and emits the MODIFIED events the pods' start would cause. */
  setDeploymentsReady(ready: boolean): void {
    this.deploymentsReady = ready;
    for (const o of [...this.store.values()].filter((x) => x._plural === 'deployments')) {
      o.status = deploymentStatus(o, ready);
      o.metadata.resourceVersion = String(++this.rv);
      this.emit('deployments', 'MODIFIED', o);
    }
  }

  private upsert(
    plural: string,
    namespace: string,
    body: Obj,
    manager: string,
    mode: 'apply' | 'update',
    subresource?: string,
  ): Obj {
    const key = `${plural}/${namespace}/${body.metadata.name}`;
    const old = this.store.get(key);
    const before = this.owners.get(key) ?? new Map();
    const live = old && userPart(old);
    const input = userPart({ ...body, metadata: { ...body.metadata, namespace } });
    const { obj, owners } =
      mode === 'apply' ? ssaApply(live, before, manager, input) : ssaUpdate(live, before, manager, input, subresource);
    // The API server's defaulting (an unset field of nobody's).
    if (plural === 'deployments' && obj.spec && obj.spec.replicas === undefined) obj.spec.replicas = 1;
    // As the API server: a write that changes nothing writes nothing (no new resourceVersion, no watch event).
    if (old && live && same(live, obj) && sameOwners(before, owners)) return old;
    this.owners.set(key, owners);
    const o: Obj = {
      ...(old ? { status: old.status } : {}),
      ...obj,
      _plural: plural,
      metadata: {
        ...obj.metadata,
        namespace,
        uid: old?.metadata.uid ?? randomUUID(),
        creationTimestamp: old?.metadata.creationTimestamp ?? new Date().toISOString(),
        generation: old ? old.metadata.generation + (same(live?.spec, obj.spec) ? 0 : 1) : 1,
        resourceVersion: String(++this.rv),
        managedFields: managedFields(owners),
      },
    };
    if (plural === 'deployments') o.status = deploymentStatus(o, this.deploymentsReady);
    this.store.set(key, o);
    this.emit(plural, old ? 'MODIFIED' : 'ADDED', o);
    // The garbage collector also removes objects created with an owner that no longer exists.
    const refs = (o.metadata.ownerReferences ?? []) as Obj[];
    if (refs.length && !refs.some((r) => [...this.store.values()].some((x) => x.metadata.uid === r.uid))) {
      setImmediate(() => this.deleteObject(plural, namespace, o.metadata.name));
    }
    return o;
  }

  private emit(plural: string, type: string, o: Obj): void {
    const rv = Number(o.metadata.resourceVersion);
    this.history.push({ rv, plural, type, obj: strip(o) });
    for (const w of this.watchers) {
      if (w.plural === plural && matches(o, w.namespace, w.selector))
        w.res.write(`${JSON.stringify({ type, object: strip(o) })}\n`);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(u.searchParams);
    const contentType = req.headers['content-type'];
    this.requests.push({ method: req.method ?? '', path: u.pathname, query, ...(contentType ? { contentType } : {}) });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const fail = (code: number, reason: string, message: string): void =>
      send(code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code });
    try {
      const parts = u.pathname.split('/').filter(Boolean);
      // Discovery: /api/v1, /apis/<group>/<version>
      const isCore = parts[0] === 'api';
      const group = isCore ? '' : (parts[1] ?? '');
      const version = isCore ? parts[1] : parts[2];
      const rest = parts.slice(isCore ? 2 : 3);
      if (rest.length === 0 && req.method === 'GET') {
        const served = this.resources.filter((r) => r.group === group && r.version === version);
        // A group/version nothing serves (a CRD not installed) is not found, as on a real API server.
        if (!served.length) return fail(404, 'NotFound', 'the server could not find the requested resource');
        const resources = served.map((r) => ({
          name: r.plural,
          singularName: '',
          namespaced: true,
          kind: r.kind,
          verbs: ['get', 'list', 'watch', 'create', 'patch', 'update', 'delete'],
        }));
        return send(200, {
          kind: 'APIResourceList',
          apiVersion: 'v1',
          groupVersion: group ? `${group}/${version}` : version,
          resources,
        });
      }
      let namespace: string | undefined;
      let i = 0;
      if (rest[0] === 'namespaces') {
        namespace = rest[1];
        i = 2;
      }
      const plural = rest[i] ?? '';
      const name = rest[i + 1];
      const sub = rest[i + 2];
      const resource = this.resources.find((r) => r.plural === plural && r.group === group);
      if (!resource) return fail(404, 'NotFound', 'the server could not find the requested resource');
      const key = `${plural}/${namespace}/${name}`;

      if (req.method === 'GET' && !name) {
        const selector = parseSelector(query.labelSelector);
        if (query.watch === 'true')
          return this.watch(res, plural, namespace, selector, Number(query.resourceVersion ?? 0));
        const items = [...this.store.values()]
          .filter((o) => o._plural === plural && matches(o, namespace, selector))
          .map(strip);
        return send(200, {
          kind: `${resource.kind}List`,
          apiVersion: group ? `${group}/${version}` : version,
          metadata: { resourceVersion: String(this.rv) },
          items,
        });
      }
      if (req.method === 'GET') {
        const o = this.store.get(key);
        return o ? send(200, strip(o)) : fail(404, 'NotFound', `${plural} "${name}" not found`);
      }
      if (req.method === 'POST' && namespace) {
        const body = JSON.parse(text) as Obj;
        if (this.store.has(`${plural}/${namespace}/${body.metadata.name}`))
          return fail(409, 'AlreadyExists', `${plural} "${body.metadata.name}" already exists`);
        return send(201, strip(this.upsert(plural, namespace, body, 'client', 'update')));
      }
      if (req.method === 'PUT' && namespace && name) {
        const body = JSON.parse(text) as Obj;
        const old = this.store.get(key);
        if (!old) return fail(404, 'NotFound', `${plural} "${name}" not found`);
        if (body.metadata?.resourceVersion !== old.metadata.resourceVersion) {
          return fail(
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${plural} "${name}": the object has been modified`,
          );
        }
        return send(200, strip(this.upsert(plural, namespace, body, 'client', 'update')));
      }
      if (req.method === 'PATCH' && namespace && name && sub === 'status') {
        if (contentType !== 'application/merge-patch+json')
          return fail(415, 'UnsupportedMediaType', `status patch as ${contentType}`);
        const o = this.store.get(key);
        if (!o) return fail(404, 'NotFound', `${plural} "${name}" not found`);
        o.status = mergePatch(o.status ?? {}, (JSON.parse(text) as Obj).status);
        o.metadata.resourceVersion = String(++this.rv);
        this.emit(plural, 'MODIFIED', o);
        return send(200, strip(o));
      }
      if (req.method === 'PATCH' && namespace && name) {
        if (this.failApplies > 0) {
          this.failApplies--;
          return fail(500, 'InternalError', 'injected failure');
        }
        if (contentType !== 'application/apply-patch+yaml')
          return fail(415, 'UnsupportedMediaType', `only server-side apply here, got ${contentType}`);
        if (!query.fieldManager) return fail(422, 'Invalid', 'fieldManager is required for apply');
        const body = parseYaml(text) as Obj;
        if (body.metadata?.name !== name || body.kind !== resource.kind)
          return fail(400, 'BadRequest', 'name or kind does not match the path');
        return send(200, strip(this.upsert(plural, namespace, body, query.fieldManager, 'apply')));
      }
      if (req.method === 'DELETE' && namespace && name) {
        const o = this.store.get(key);
        if (!o || !this.deleteObject(plural, namespace, name))
          return fail(404, 'NotFound', `${plural} "${name}" not found`);
        return send(200, {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Success',
          details: { name, kind: plural, uid: o.metadata.uid },
        });
      }
      return fail(405, 'MethodNotAllowed', `${req.method} ${u.pathname}`);
    } catch (err) {
      return fail(500, 'InternalError', (err as Error).message);
    }
  }

  private watch(
    res: ServerResponse,
    plural: string,
    namespace: string | undefined,
    selector: Record<string, string>,
    from: number,
  ): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    if (from < this.compactedBelow) {
      const status = {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        reason: 'Expired',
        message: `too old resource version: ${from} (${this.compactedBelow})`,
        code: 410,
      };
      res.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
      return;
    }
    for (const h of this.history) {
      if (h.rv > from && h.plural === plural && matches(h.obj, namespace, selector))
        res.write(`${JSON.stringify({ type: h.type, object: h.obj })}\n`);
    }
    const w: Watcher = { plural, namespace, selector, res };
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
  }
}

/** An object without its status and the metadata the API server sets. */
function userPart(o: Obj): Obj {
  const { status: _s, _plural: _p, metadata, ...rest } = o;
  const {
    uid: _u,
    creationTimestamp: _c,
    generation: _g,
    resourceVersion: _r,
    managedFields: _m,
    ...meta
  } = (metadata ?? {}) as Obj;
  return JSON.parse(JSON.stringify({ ...rest, metadata: meta })) as Obj;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));

const sortKeys = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(sortKeys)
    : v && typeof v === 'object'
      ? Object.fromEntries(
          Object.entries(v)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([k, x]) => [k, sortKeys(x)]),
        )
      : v;

function deploymentStatus(d: Obj, ready: boolean): Obj {
  const n = d.spec?.replicas ?? 1;
  return {
    observedGeneration: d.metadata.generation,
    replicas: n,
    updatedReplicas: n,
    readyReplicas: ready ? n : 0,
    availableReplicas: ready ? n : 0,
  };
}

const strip = (o: Obj): Obj => {
  const { _plural: _p, ...rest } = o;
  return JSON.parse(JSON.stringify(rest)) as Obj;
};

function parseSelector(s: string | undefined): Record<string, string> {
  if (!s) return {};
  return Object.fromEntries(s.split(',').map((kv) => kv.split('=') as [string, string]));
}

function matches(o: Obj, namespace: string | undefined, selector: Record<string, string>): boolean {
  if (namespace && o.metadata.namespace !== namespace) return false;
  return Object.entries(selector).every(([k, v]) => o.metadata.labels?.[k] === v);
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: Obj, patch: Obj): Obj {
  const out: Obj = { ...target };
  for (const [k, v] of Object.entries(patch ?? {})) {
    if (v === null) delete out[k];
    else if (typeof v === 'object' && !Array.isArray(v) && typeof out[k] === 'object' && !Array.isArray(out[k]))
      out[k] = mergePatch(out[k], v);
    else out[k] = v;
  }
  return out;
}
