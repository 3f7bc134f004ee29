import * as grpc from '@grpc/grpc-js';
import { DEFAULTS } from '../graph/manifest';
import type { FeedbackMessage } from '../message/feedback';
import type { InferMessage, TensorEncoding } from '../message/message';
import { feedbackToWire } from '../protocol/seldon/feedback';
import { emptyMeta } from '../message/message';
import { serviceClientCtor } from '../protocol/seldon/proto-loader';
import { fromWire, toWire } from '../protocol/seldon/seldon-message';
import type { WireGraphMetadata, WireSeldonMessage } from '../protocol/seldon/wire-types';
import { channelLimits } from '../rpc/channel-options';
import { fromServiceError } from '../rpc/status';

/** A client of the executor's Seldon service, used by `predict`, `eval`, `bench` and the tests. */
export class SeldonClient {
  private readonly client: grpc.Client;

  constructor(
    readonly address: string,
    opts: { maxMessageBytes?: number; encoding?: TensorEncoding; credentials?: grpc.ChannelCredentials } = {},
  ) {
    const Ctor = serviceClientCtor('Seldon');
    // The manifest's default limit unless told the graph's: a client allowing more than the executor only fails later.
    const limits = channelLimits(opts.maxMessageBytes ?? DEFAULTS.maxMessageBytes);
    this.client = new Ctor(address, opts.credentials ?? grpc.credentials.createInsecure(), limits);
    this.encoding = opts.encoding ?? 'tftensor';
  }

  private readonly encoding: TensorEncoding;

  predict(
    msg: InferMessage | InferMessage['payload'],
    opts: { timeoutMs?: number; metadata?: grpc.Metadata } = {},
  ): Promise<InferMessage> {
    const m: InferMessage = 'payload' in msg ? msg : { meta: emptyMeta(), payload: msg };
    return this.raw('predict', toWire(m, this.encoding), opts).then((w) => fromWire(w as WireSeldonMessage));
  }

  /** Seldon's SendFeedback: a reward (and truth) for an earlier request, with the answer it got (its routing). */
  sendFeedback(fb: FeedbackMessage, opts: { timeoutMs?: number } = {}): Promise<InferMessage> {
    return this.raw('sendFeedback', feedbackToWire(fb, this.encoding), opts).then((w) =>
      fromWire(w as WireSeldonMessage),
    );
  }

  graphMetadata(timeoutMs = 5000): Promise<WireGraphMetadata> {
    return this.raw('graphMetadata', {}, { timeoutMs }) as Promise<WireGraphMetadata>;
  }

  /** Sends an already-built wire object (tests use it for malformed requests). */
  raw(
    method: 'predict' | 'graphMetadata' | 'sendFeedback',
    request: object,
    opts: { timeoutMs?: number; metadata?: grpc.Metadata } = {},
  ): Promise<unknown> {
    const fn = (
      this.client as unknown as Record<
        string,
        (
          req: object,
          md: grpc.Metadata,
          o: grpc.CallOptions,
          cb: (e: grpc.ServiceError | null, r?: unknown) => void,
        ) => void
      >
    )[method];
    if (!fn) throw new Error(`no method ${method}`);
    return new Promise((resolve, reject) => {
      fn.call(
        this.client,
        request,
        opts.metadata ?? new grpc.Metadata(),
        { deadline: Date.now() + (opts.timeoutMs ?? 30_000) },
        (err, res) => (err ? reject(fromServiceError(err, `executor ${this.address}`)) : resolve(res)),
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
