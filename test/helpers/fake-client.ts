import type { ModelMetadata } from '../../src/components/api';
import { Code, InferError } from '../../src/errors';
import type { HopInput, HopOptions, HopReply, NodeClient, NodeMethod } from '../../src/graph/node-client';
import type { NodeSpec } from '../../src/graph/spec';
import type { FeedbackMessage } from '../../src/message/feedback';
import { emptyMeta, type InferMessage, type Payload } from '../../src/message/message';
import { fromNumbers, toNumbers } from '../../src/tensor/tensor';

/** A programmable NodeClient: per-node handlers, a log of every call, and the options each call received. */
export interface CallRecord {
  node: string;
  method: NodeMethod;
  input: InferMessage | InferMessage[] | FeedbackMessage;
  opts: HopOptions;
  started: number;
  aborted?: boolean;
}

export type Handler = (
  input: InferMessage | InferMessage[] | FeedbackMessage,
  opts: HopOptions,
) => Promise<Payload | InferMessage> | Payload | InferMessage;

/** A node's metadata answer: the metadata, or what the node does instead (fails, never answers...). */
export type MetadataHandler = (opts: HopOptions) => Promise<ModelMetadata> | ModelMetadata;

export class FakeClient implements NodeClient {
  readonly calls: CallRecord[] = [];
  /** Every metadata request: node name and the options it carried. */
  readonly metadataCalls: { node: string; opts: HopOptions }[] = [];
  constructor(
    private readonly handlers: Record<string, Handler>,
    private readonly metadataHandlers: Record<string, MetadataHandler> = {},
  ) {}

  async metadata(node: NodeSpec, opts: HopOptions): Promise<ModelMetadata> {
    this.metadataCalls.push({ node: node.name, opts });
    const h = this.metadataHandlers[node.name];
    if (!h) throw new InferError(Code.UNIMPLEMENTED, `no fake metadata for ${node.name}`);
    return h(opts);
  }

  async call<M extends NodeMethod>(node: NodeSpec, method: M, input: HopInput<M>, opts: HopOptions): Promise<HopReply> {
    const rec: CallRecord = { node: node.name, method, input, opts, started: performance.now() };
    this.calls.push(rec);
    opts.signal.addEventListener('abort', () => (rec.aborted = true), { once: true });
    const h = this.handlers[node.name];
    if (!h) throw new InferError(Code.UNIMPLEMENTED, `no fake handler for ${node.name}`);
    const out = await h(input, opts);
    return { message: 'payload' in out ? out : { meta: emptyMeta(), payload: out } };
  }

  names(): string[] {
    return this.calls.map((c) => `${c.node}.${c.method}`);
  }
}

export const vec = (...xs: number[]): Payload => ({ kind: 'tensor', tensor: fromNumbers('float32', [xs.length], xs) });

export function values(m: InferMessage | Payload): number[] {
  const p = 'payload' in m ? m.payload : m;
  if (p.kind !== 'tensor') throw new Error(`expected a tensor, got ${p.kind}`);
  return toNumbers(p.tensor);
}

/** Handler: y = f(x) elementwise on a single-message call. */
export const map =
  (f: (x: number) => number): Handler =>
  (input) =>
    vec(...values(input as InferMessage).map(f));

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new InferError(Code.CANCELLED, 'cancelled'));
    });
  });
