import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import path from 'node:path';
import { REPO } from './graph-process';

/**
 * An Open Inference Protocol client built from the .proto files alone (as a Triton or KServe user would build one),
 * with proto-loader's ordinary options: nothing from src/ is involved in encoding or decoding.
 */
const PROTOS = path.join(REPO, 'protos/kserve');

export interface V2Client {
  call<T = Record<string, unknown>>(
    rpc: string,
    request: object,
    timeoutMs?: number,
    metadata?: grpc.Metadata,
  ): Promise<T>;
  close(): void;
}

export function v2Client(address: string): V2Client {
  const def = protoLoader.loadSync(
    [path.join(PROTOS, 'grpc_predict_v2.proto'), path.join(PROTOS, 'triton_model_config.proto')],
    {
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
    },
  );
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    inference: Record<string, grpc.ServiceClientConstructor>;
  };
  const Ctor = pkg.inference.GRPCInferenceService as grpc.ServiceClientConstructor;
  const client = new Ctor(address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 << 20 });
  // Triton's ModelConfig lives in GRPCInferenceService; the second file carries its types on a stand-in service.
  const mc = (pkg.inference.TritonModelConfig as grpc.ServiceClientConstructor).service
    .ModelConfig as grpc.MethodDefinition<object, object>;
  return {
    call<T>(rpc: string, request: object, timeoutMs = 30_000, metadata = new grpc.Metadata()): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      return new Promise<T>((resolve, reject) => {
        const cb = (err: grpc.ServiceError | null, res?: unknown): void => (err ? reject(err) : resolve(res as T));
        if (rpc === 'ModelConfig') {
          client.makeUnaryRequest(
            '/inference.GRPCInferenceService/ModelConfig',
            mc.requestSerialize,
            mc.responseDeserialize,
            request,
            metadata,
            { deadline },
            cb,
          );
          return;
        }
        type Unary = (
          r: object,
          md: grpc.Metadata,
          o: grpc.CallOptions,
          cb: (e: grpc.ServiceError | null, r?: unknown) => void,
        ) => void;
        (client as unknown as Record<string, Unary>)[rpc]?.call(client, request, metadata, { deadline }, cb);
      });
    },
    close: () => client.close(),
  };
}

/** BYTES elements in raw form: a 4-byte little-endian length before each. */
export const lengthPrefixed = (...items: Buffer[]): Buffer =>
  Buffer.concat(items.flatMap((b) => [Buffer.from(new Uint32Array([b.length]).buffer), b]));

/** Splits a raw BYTES output into its elements. */
export function splitPrefixed(raw: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < raw.length;) {
    const n = raw.readUInt32LE(at);
    out.push(raw.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}
