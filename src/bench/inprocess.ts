import { GraphExecutor } from '../graph/executor';
import type { GraphSpec } from '../graph/spec';
import { emptyMeta, type InferMessage, type Payload } from '../message/message';
import { TimelineRecorder } from '../telemetry/timeline';
import { LocalNodeClient, type BaselineModels, type InProcessOptions } from '../executor/local-node-client';
import type { BenchTarget, Sample } from './target';

/**
 * The in-process baseline: the graph's own components, created from the same manifest through the component registry,
 * called directly by a NodeClient that hands the walk's messages to them — the real GraphExecutor, no gRPC, no
 * encoding, no processes. Its numbers are what this machine can do with these components; the graph's numbers over
 * these are the price of one-process-per-node and the wire.
 */

export type { BaselineModels, InProcessOptions } from '../executor/local-node-client';

/**
 * The baseline configuration `bench` uses unless told otherwise: the one that gave a single process its best
 * throughput, measured on the ImageNet ensemble on 2 cores (bench/baseline-configs.ts, docs/performance.md): one
 * intra-op thread per model with the two models computing at once, as the single-process Python pipeline does.
 */
export const BEST_BASELINE: { onnxThreads: number; models: BaselineModels } = { onnxThreads: 1, models: 'parallel' };

export function describeBaseline(o: { onnxThreads?: number; models?: BaselineModels }): string {
  const threads =
    o.onnxThreads === undefined ? "the manifest's onnx-model threads" : `onnx-model intraOpThreads ${o.onnxThreads}`;
  return `${threads}, models ${o.models === 'serial' ? 'one at a time' : 'in parallel'}`;
}

export class InProcessTarget implements BenchTarget {
  readonly label = 'in-process';
  private first: InferMessage | undefined;

  private constructor(
    private readonly graph: GraphSpec,
    private readonly client: LocalNodeClient,
    private readonly payload: Payload,
    private readonly timeoutMs: number,
  ) {}

  static async create(
    graph: GraphSpec,
    payload: Payload,
    timeoutMs: number,
    opts: InProcessOptions,
  ): Promise<InProcessTarget> {
    return new InProcessTarget(graph, await LocalNodeClient.create(graph, opts), payload, timeoutMs);
  }

  async send(): Promise<Sample> {
    // A recorder per request, as the executor does for a request that asks for its timeline.
    const rec = new TimelineRecorder(this.client);
    const t0 = performance.now();
    try {
      const reply = await new GraphExecutor(this.graph, rec).execute(
        { meta: emptyMeta(), payload: this.payload },
        { deadline: Date.now() + this.timeoutMs },
      );
      const ms = performance.now() - t0;
      this.first ??= reply;
      return { ok: true, ms, timeline: rec.finish() };
    } catch (err) {
      return { ok: false, ms: performance.now() - t0, error: (err as Error).message };
    }
  }

  firstReply(): InferMessage | undefined {
    return this.first;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
