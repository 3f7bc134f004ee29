import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import path from 'node:path';

/** A grpcurl-style reflection client: lists the services a server exposes (grpc.reflection.v1). */
export function listServices(address: string): Promise<string[]> {
  const protoFile = path.join(
    path.dirname(require.resolve('@grpc/reflection/package.json')),
    'build/proto/grpc/reflection/v1/reflection.proto',
  );
  const def = protoLoader.loadSync(protoFile, { keepCase: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
  };
  const client = new pkg.grpc.reflection.v1.ServerReflection(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const call = (
      client as unknown as {
        ServerReflectionInfo: () => grpc.ClientDuplexStream<
          object,
          { list_services_response?: { service: { name: string }[] } }
        >;
      }
    ).ServerReflectionInfo();
    call.on('data', (res: { list_services_response?: { service: { name: string }[] } }) => {
      resolve((res.list_services_response?.service ?? []).map((s: { name: string }) => s.name).sort());
      call.end();
    });
    call.on('error', (err) => reject(err));
    call.on('end', () => client.close());
    call.write({ list_services: '' });
  });
}
