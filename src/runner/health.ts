import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

/** grpc.health.v1 Check client: the runner's (and tests') way to know a process is SERVING. */

let ctor: grpc.ServiceClientConstructor | undefined;
function healthClientCtor(): grpc.ServiceClientConstructor {
  if (!ctor) {
    const def = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String, longs: Number, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
    };
    ctor = pkg.grpc.health.v1.Health;
  }
  return ctor;
}

export function checkHealth(
  address: string,
  service = '',
  timeoutMs = 1000,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): Promise<string> {
  const Ctor = healthClientCtor();
  const client = new Ctor(address, credentials);
  return new Promise<string>((resolve, reject) => {
    (
      client as unknown as {
        check: (
          req: object,
          opts: grpc.CallOptions,
          cb: (err: grpc.ServiceError | null, res?: { status: string }) => void,
        ) => void;
      }
    ).check({ service }, { deadline: Date.now() + timeoutMs }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res?.status ?? 'UNKNOWN');
    });
  });
}

/** Polls until SERVING, or rejects with the last error after `timeoutMs`. */
export async function waitServing(
  address: string,
  timeoutMs: number,
  isAlive: () => boolean = () => true,
  credentials?: grpc.ChannelCredentials,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < until) {
    if (!isAlive()) throw new Error(`process for ${address} exited before it was SERVING`);
    try {
      const status = await checkHealth(address, '', 500, credentials);
      if (status === 'SERVING') return;
      last = `status ${status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${address} not SERVING after ${timeoutMs} ms (${last})`);
}

/**
 * Whether a gRPC server answers at `address` at all: SERVING, or UNIMPLEMENTED from a server without
 * grpc.health.v1 (Seldon's Python wrapper has none). A TCP connect would not do: docker's port proxy accepts
 * connections before the container listens.
 */
export async function grpcAnswers(address: string, timeoutMs = 1000): Promise<string | undefined> {
  try {
    const status = await checkHealth(address, '', timeoutMs);
    return status === 'SERVING' ? undefined : `status ${status}`;
  } catch (err) {
    return (err as grpc.ServiceError).code === grpc.status.UNIMPLEMENTED ? undefined : (err as Error).message;
  }
}
