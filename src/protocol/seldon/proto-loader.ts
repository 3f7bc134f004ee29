import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import path from 'node:path';
import { protosDir } from '../../util/paths';
import { joinParts, rawAwareDeserializer, seldonMessageParts } from './raw-payload';
import type { WireSeldonMessage } from './wire-types';

/**
 * Loads protos/seldon/prediction.proto once per process. The package definition feeds grpc-js (servers, clients)
 * and server reflection; decoded objects follow src/protocol/seldon/wire-types.ts.
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
};

let cached: { def: protoLoader.PackageDefinition; grpcObject: grpc.GrpcObject } | undefined;

export function seldonProto(): { def: protoLoader.PackageDefinition; grpcObject: grpc.GrpcObject } {
  if (!cached) {
    const dir = protosDir();
    const def = protoLoader.loadSync(path.join(dir, 'seldon/prediction.proto'), {
      ...LOADER_OPTIONS,
      includeDirs: [dir],
    });
    cached = { def, grpcObject: grpc.loadPackageDefinition(def) };
  }
  return cached;
}

/** One method of prediction.proto as proto-loader made it, e.g. ('seldon.protos.Model', 'Predict'). */
export function seldonMethod(service: string, rpc: string): protoLoader.MethodDefinition<object, object> {
  const methods = seldonProto().def[service] as
    Record<string, protoLoader.MethodDefinition<object, object>> | undefined;
  const def = methods?.[rpc];
  if (!def) throw new Error(`prediction.proto has no ${service}/${rpc}`);
  return def;
}

export const SELDON_SERVICES = [
  'Generic',
  'Model',
  'Router',
  'Transformer',
  'OutputTransformer',
  'Combiner',
  'Seldon',
] as const;
export type SeldonServiceName = (typeof SELDON_SERVICES)[number];

/**
 * The executor's Seldon service: Predict takes a client's plain tftensor raw (the first hop forwards its bytes, as
 * hop replies are forwarded: raw-payload.ts) and writes a raw answer's bytes back without re-encoding the tensor.
 * A copy: the shared definition stays as it is for clients in the same process.
 */
export function executorSeldonDefinition(): grpc.ServiceDefinition {
  const def = serviceDefinition('Seldon');
  const predict = def.Predict as grpc.MethodDefinition<unknown, unknown>;
  const serialize = predict.responseSerialize as (reply: object) => Buffer;
  return {
    ...def,
    Predict: {
      ...predict,
      requestDeserialize: rawAwareDeserializer(predict.requestDeserialize),
      responseSerialize: (reply: unknown) => joinParts(seldonMessageParts(reply as WireSeldonMessage, serialize)),
    },
  };
}

export function serviceDefinition(name: SeldonServiceName): grpc.ServiceDefinition {
  const pkg = (seldonProto().grpcObject.seldon as grpc.GrpcObject).protos as grpc.GrpcObject;
  const ctor = pkg[name] as grpc.ServiceClientConstructor;
  return ctor.service;
}

export function serviceClientCtor(name: SeldonServiceName): grpc.ServiceClientConstructor {
  const pkg = (seldonProto().grpcObject.seldon as grpc.GrpcObject).protos as grpc.GrpcObject;
  return pkg[name] as grpc.ServiceClientConstructor;
}
