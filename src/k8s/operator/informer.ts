import type { KubeObject } from '../desired';
import { statusOf, type KubeApi, type WatchEventType, type WatchHandle } from './kube-api';

/**
 * List, then watch from the list's resourceVersion; when the watch ends, watch again from the last version seen,
 * and when that version has expired (410 Gone) list again. Errors back off; stop() ends it all.
 */

export interface InformerOptions {
  apiVersion: string;
  kind: string;
  namespace?: string;
  labelSelector?: string;
  /** Every object of a (re-)list: the full current set. */
  onList(items: KubeObject[]): void;
  onEvent(type: Exclude<WatchEventType, 'BOOKMARK' | 'ERROR'>, obj: KubeObject): void;
  onError(err: unknown, what: string): void;
  backoff?: { initialMs: number; maxMs: number };
}

export class Informer {
  private stopped = false;
  private handle: WatchHandle | undefined;
  private wake: (() => void) | undefined;
  private readonly done: Promise<void>;
  /** Lists made so far (a re-list after 410 counts). */
  lists = 0;

  constructor(
    private readonly api: KubeApi,
    private readonly o: InformerOptions,
  ) {
    this.done = this.run();
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.handle?.stop();
    this.wake?.();
    return this.done;
  }

  private async run(): Promise<void> {
    const { initialMs, maxMs } = this.o.backoff ?? { initialMs: 200, maxMs: 30_000 };
    let failures = 0;
    const pause = async (): Promise<void> => {
      const ms = Math.min(maxMs, initialMs * 2 ** failures++);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    };
    while (!this.stopped) {
      let rv: string;
      try {
        const list = await this.api.list(this.o.apiVersion, this.o.kind, this.o.namespace, this.o.labelSelector);
        this.lists++;
        rv = list.resourceVersion;
        this.o.onList(list.items);
      } catch (err) {
        this.o.onError(err, `list ${this.o.kind}`);
        await pause();
        continue;
      }
      // Watch until the version expires (then re-list) or we are stopped.
      while (!this.stopped) {
        const t0 = Date.now();
        const end = await this.watchOnce(rv, (v) => (rv = v));
        if (end === 'gone') break;
        // A watch the server (or a proxy) ends at once is retried with backoff, not in a tight loop.
        if (end === 'error' || Date.now() - t0 < 1000) await pause();
        else failures = 0;
      }
    }
  }

  private watchOnce(from: string, seen: (rv: string) => void): Promise<'closed' | 'gone' | 'error'> {
    return new Promise((resolve) => {
      let gone = false;
      const onEvent = (type: WatchEventType, obj: KubeObject): void => {
        if (type === 'ERROR') {
          // The API server reports an expired resourceVersion as an ERROR event carrying a Status with code 410.
          if ((obj as { code?: number }).code === 410) gone = true;
          else this.o.onError(new Error(`watch error: ${JSON.stringify(obj)}`), `watch ${this.o.kind}`);
          return;
        }
        const v = obj.metadata?.resourceVersion;
        if (typeof v === 'string') seen(v);
        if (type !== 'BOOKMARK') this.o.onEvent(type, obj);
      };
      const onClose = (err?: unknown): void => {
        this.handle = undefined;
        if (gone || statusOf(err) === 410) return resolve('gone');
        if (err && !this.stopped) {
          this.o.onError(err, `watch ${this.o.kind}`);
          return resolve('error');
        }
        resolve('closed');
      };
      this.api
        .watch(
          this.o.apiVersion,
          this.o.kind,
          this.o.namespace,
          { resourceVersion: from, labelSelector: this.o.labelSelector },
          onEvent,
          onClose,
        )
        .then((h) => {
          this.handle = h;
          if (this.stopped) h.stop();
        }, onClose);
    });
  }
}
