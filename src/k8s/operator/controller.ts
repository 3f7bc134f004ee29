import type { Logger } from 'pino';
import type { KubeObject } from '../desired';
import { FIELD_MANAGER, LABEL } from '../names';
import { Informer } from './informer';
import type { KubeApi } from './kube-api';
import { API_VERSION, KIND, reconcileGraph, type GraphResource, type ReconcileResult } from './reconcile';

/**
 * The operator's loop: informers on InferenceGraphs and on the Deployments it made (so pods becoming ready update
 * the graph's status), a de-duplicating work queue, one reconcile at a time, retries with exponential backoff, and
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
  /** Called after each reconcile (tests wait on it). */
  onReconciled?: (key: string, result: ReconcileResult | Error) => void;
}

export class Controller {
  private readonly graphs = new Map<string, GraphResource>();
  private readonly queue = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly announced = new Map<string, string>();
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
          if (type === 'DELETED') {
            // Kubernetes' garbage collector deletes what the graph owned (controller ownerReferences).
            const k = keyOf(g);
            this.graphs.delete(k);
            this.queue.delete(k);
            clearTimeout(this.retryTimers.get(k));
            this.retryTimers.delete(k);
            this.failures.delete(k);
            for (const said of this.announced.keys())
              if (said.startsWith(`${g.metadata.uid}/`)) this.announced.delete(said);
          } else this.upsert(g);
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

  private upsert(g: GraphResource): void {
    const k = keyOf(g);
    this.graphs.set(k, g);
    this.enqueue(k);
  }

  private ownerChanged(d: KubeObject): void {
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
        const result = await reconcileGraph(this.api, g, {
          image: this.o.image,
          ...(this.o.requestLoggerDefaultEndpoint
            ? { requestLoggerDefaultEndpoint: this.o.requestLoggerDefaultEndpoint }
            : {}),
          identity: this.o.identity,
          announced: this.announced,
        });
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

const keyOf = (g: KubeObject): string => `${g.metadata.namespace ?? ''}/${g.metadata.name}`;
