import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import path from 'node:path';
import { protosDir } from '../../util/paths';

/**
 * Loads the Open Inference Protocol (protos/kserve/grpc_predict_v2.proto) and Triton's ModelConfig messages
 * (protos/kserve/triton_model_config.proto) once per process. int64 fields decode as strings, so INT64 tensors keep
 * every digit; the converters in v2-infer.ts turn them into numbers or bigints.
 */
export const V2_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
};

export const V2_SERVICE = 'inference.GRPCInferenceService';
export const V2_PROTO_FILES = ['kserve/grpc_predict_v2.proto', 'kserve/triton_model_config.proto'];

type MethodDef = protoLoader.MethodDefinition<object, object>;
let cached: { def: protoLoader.PackageDefinition; service: grpc.ServiceDefinition } | undefined;

/** The V2 service with Triton's ModelConfig added; `def` (for reflection) lists it that way too. */
export function v2Proto(): { def: protoLoader.PackageDefinition; service: grpc.ServiceDefinition } {
  if (!cached) {
    const dir = protosDir();
    const def = protoLoader.loadSync(
      V2_PROTO_FILES.map((f) => path.join(dir, f)),
      { ...V2_LOADER_OPTIONS, includeDirs: [dir] },
    );
    const base = def[V2_SERVICE] as protoLoader.ServiceDefinition;
    const carrier = (def['inference.TritonModelConfig'] as protoLoader.ServiceDefinition).ModelConfig as MethodDef;
    const service = { ...base, ModelConfig: { ...carrier, path: `/${V2_SERVICE}/ModelConfig` } };
    const { ['inference.TritonModelConfig']: _carrier, ...rest } = def;
    cached = { def: { ...rest, [V2_SERVICE]: service }, service: service as unknown as grpc.ServiceDefinition };
  }
  return cached;
}

/** Method definitions by rpc name (tests and clients encode and decode with these). */
export function v2Method(rpc: string): MethodDef {
  const m = (v2Proto().def[V2_SERVICE] as protoLoader.ServiceDefinition)[rpc];
  if (!m) throw new Error(`no rpc ${rpc} in ${V2_SERVICE}`);
  return m;
}
