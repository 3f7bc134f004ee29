import type { JsonValue, Meta, Metric } from '../message/message';
import { emptyMeta } from '../message/message';
import type { CallContext } from './api';

/** Runs a named unit of work; the telemetry layer swaps in one that opens a span. */
export type WorkRunner = <T>(
  name: string,
  fn: () => Promise<T> | T,
  attributes?: Record<string, string | number | boolean>,
) => Promise<T>;

export const plainWork: WorkRunner = async (_name, fn) => fn();

/** A CallContext that collects what the component adds, for the node runtime to put into the response meta. */
export class CollectingCallContext implements CallContext {
  readonly tags: Record<string, JsonValue> = {};
  readonly metrics: Metric[] = [];

  constructor(
    readonly meta: Readonly<Meta> = emptyMeta(),
    readonly signal: AbortSignal = new AbortController().signal,
    readonly deadline?: number,
    private readonly runner: WorkRunner = plainWork,
  ) {}

  addTags(tags: Record<string, JsonValue>): void {
    Object.assign(this.tags, tags);
  }

  addMetric(metric: Metric): void {
    this.metrics.push(metric);
  }

  work<T>(name: string, fn: () => Promise<T> | T, attributes?: Record<string, string | number | boolean>): Promise<T> {
    return this.runner(name, fn, attributes);
  }
}
