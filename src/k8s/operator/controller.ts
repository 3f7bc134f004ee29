import type { Logger } from 'pino';
import type { KubeObject } from '../desired';
import { FIELD_MANAGER, LABEL } from '../names';
import { Informer } from './informer';
import type { KubeApi } from './kube-api';
import { API_VERSION, KIND, reconcileGraph, type GraphResource, type ReconcileResult } from './reconcile';
import {
  reconcileSeldonDeployment,
  SELDON_API_VERSION,
  SELDON_KIND,
  type SeldonLoader,
  type SeldonResult,
} from './reconcile-seldon';

/**
 * The operator's loop: informers on InferenceGraphs, on SeldonDeployments (when given a loader for them) and on the
 * Deployments it made (so pods becoming ready update their owner's status), a de-duplicating work queue, one reconcile at a time, retries with exponential backoff, and
 * a periodic resync. Everything goes through KubeApi.
 */

export interface ControllerOptions {
  image: string;
  /** The executors' default payload-log sink (Seldon's executor.requestLogger.defaultEndpoint). */
  requestLoggerDefaultEndpoint?: string;
  identity: string;
  /** Watch one namespace; all when absent. */
  namespace?: string;
  logger: Logger;
  backoff?: { initialMs: number; maxMs: number };
  resyncMs?: number;
  /** Called after each reconcile (tests wait on it); SeldonDeployments' keys start with `sdep:`. */
  onReconciled?: (key: string, result: ReconcileResult | SeldonResult | Error) => void;
  /** Watch SeldonDeployments too, converted by this (src/seldon's loadSeldonDeployment). */
  seldon?: SeldonLoader;
}

export class Controller {
  private readonly graphs = new Map<string, GraphResource>();
  private readonly queue = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly announced = new Map<string, string>();
  /** Owned kinds the cluster does not serve (KEDA's CRD absent), logged once each. */
  private readonly notServed = new Set<string>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private informers: Informer[] = [];
  private resync: NodeJS.Timeout | undefined;
  private working: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly api: KubeApi,
    private readonly o: ControllerOptions,
  ) {}

  start(): void {
    const log = this.o.logger;
    const onError = (err: unknown, what: string): void =>
      log.warn({ err: (err as Error).message }, `${what} failed; retrying`);
    this.informers.push(
      new Informer(this.api, {
        apiVersion: API_VERSION,
        kind: KIND,
        namespace: this.o.namespace,
        backoff: this.o.backoff,
        onError,
        onList: (items) => {
          this.graphs.clear();
          for (const g of items as GraphResource[]) this.upsert(g);
        },
        onEvent: (type, obj) => {
          const g = obj as GraphResource;
          if (type === 'DELETED') this.forget(g);
          else this.upsert(g);
        },
      }),
      new Informer(this.api, {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: this.o.namespace,
        labelSelector: `${LABEL.managedBy}=${FIELD_MANAGER}`,
        backoff: this.o.backoff,
        onError,
        onList: (items) => items.forEach((d) => this.ownerChanged(d)),
        onEvent: (_type, d) => this.ownerChanged(d),
      }),
    );
    if (this.o.seldon)
      this.informers.push(
        new Informer(this.api, {
          apiVersion: SELDON_API_VERSION,
          kind: SELDON_KIND,
          namespace: this.o.namespace,
          backoff: this.o.backoff,
          onError,
          onList: (items) => {
            for (const k of [...this.graphs.keys()]) if (k.startsWith(SDEP)) this.graphs.delete(k);
            for (const g of items as GraphResource[]) this.upsert(g, true);
          },
          onEvent: (type, obj) => {
            const g = obj as GraphResource;
            if (type === 'DELETED') this.forget(g, true);
            else this.upsert(g, true);
          },
        }),
      );
    this.resync = setInterval(
      () => [...this.graphs.keys()].forEach((k) => this.enqueue(k)),
      this.o.resyncMs ?? 300_000,
    );
    this.resync.unref();
  }

  /** Stops watching and waits for the reconcile in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resync);
    for (const t of this.retryTimers.values()) clearTimeout(t);
    this.retryTimers.clear();
    this.queue.clear();
    await Promise.all(this.informers.map((i) => i.stop()));
    await this.working;
  }

  /** Kubernetes' garbage collector deletes what the object owned (controller ownerReferences). */
  private forget(g: GraphResource, sdep = false): void {
    const k = keyOf(g, sdep);
    this.graphs.delete(k);
    this.queue.delete(k);
    clearTimeout(this.retryTimers.get(k));
    this.retryTimers.delete(k);
    this.failures.delete(k);
    for (const said of this.announced.keys()) if (said.startsWith(`${g.metadata.uid}/`)) this.announced.delete(said);
  }

  private upsert(g: GraphResource, sdep = false): void {
    const k = keyOf(g, sdep);
    this.graphs.set(k, g);
    this.enqueue(k);
  }

  private ownerChanged(d: KubeObject): void {
    const owner = (d.metadata as { ownerReferences?: { kind?: string; name?: string }[] }).ownerReferences?.[0];
    if (owner?.kind === SELDON_KIND) {
      const k = `${SDEP}${d.metadata.namespace ?? ''}/${owner.name ?? ''}`;
      if (this.graphs.has(k)) this.enqueue(k);
      return;
    }
    const graph = d.metadata.labels?.[LABEL.graph];
    const k = `${d.metadata.namespace ?? ''}/${graph ?? ''}`;
    if (graph && this.graphs.has(k)) this.enqueue(k);
  }

  private enqueue(k: string): void {
    if (this.stopped) return;
    this.queue.add(k);
    this.kick();
  }

  private kick(): void {
    if (this.working) return;
    this.working = this.drain().finally(() => {
      this.working = undefined;
      // Enqueued after the loop's last look at the queue.
      if (this.queue.size && !this.stopped) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (!this.stopped && this.queue.size) {
      const k = this.queue.values().next().value as string;
      this.queue.delete(k);
      const g = this.graphs.get(k);
      if (!g) continue;
      try {
        const common = {
          image: this.o.image,
          identity: this.o.identity,
          announced: this.announced,
          notServed: this.notServed,
          logger: this.o.logger,
          ...(this.o.requestLoggerDefaultEndpoint
            ? { requestLoggerDefaultEndpoint: this.o.requestLoggerDefaultEndpoint }
            : {}),
        };
        const result =
          k.startsWith(SDEP) && this.o.seldon
            ? await reconcileSeldonDeployment(this.api, g, { ...common, load: this.o.seldon })
            : await reconcileGraph(this.api, g, common);
        this.failures.delete(k);
        this.o.logger.debug(
          { graph: k, valid: result.valid, ready: result.ready, pruned: result.pruned },
          'reconciled',
        );
        this.o.onReconciled?.(k, result);
      } catch (err) {
        this.o.logger.warn({ graph: k, err: (err as Error).message }, 'reconcile failed; retrying with backoff');
        this.o.onReconciled?.(k, err as Error);
        this.retry(k);
      }
    }
  }

  private retry(k: string): void {
    const { initialMs, maxMs } = this.o.backoff ?? { initialMs: 500, maxMs: 60_000 };
    const n = this.failures.get(k) ?? 0;
    this.failures.set(k, n + 1);
    clearTimeout(this.retryTimers.get(k));
    const t = setTimeout(
      () => {
        this.retryTimers.delete(k);
        this.enqueue(k);
      },
      Math.min(maxMs, initialMs * 2 ** n),
    );
    t.unref();
    this.retryTimers.set(k, t);
  }
}

/** Queue keys of SeldonDeployments: their names may equal an InferenceGraph's. */
const SDEP = 'sdep:';
const keyOf = (g: KubeObject, sdep = false): string =>
  `${sdep ? SDEP : ''}${g.metadata.namespace ?? ''}/${g.metadata.name}`;
