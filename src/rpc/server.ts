import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import * as protoLoader from '@grpc/proto-loader';
import type { PackageDefinition } from '@grpc/proto-loader';
import { lstatSync, unlinkSync } from 'node:fs';

/**
 * gRPC server bootstrap shared by the executor and every node: message limits, grpc.health.v1 (NOT_SERVING until
 * the process is ready), and server reflection so grpcurl-style clients can list the services.
 */

export function channelLimits(maxMessageBytes: number): grpc.ChannelOptions {
  return {
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
  };
}

const HEALTH_SERVICE = 'grpc.health.v1.Health';
let healthDef: protoLoader.PackageDefinition | undefined;
const healthDefinition = (): protoLoader.PackageDefinition => (healthDef ??= protoLoader.loadSync(healthProtoPath, { keepCase: true }));

export interface ServerBundle {
  server: grpc.Server;
  health: HealthImplementation;
  /** Marks '' and every registered service SERVING (or NOT_SERVING). */
  setServing(serving: boolean): void;
}

export function createServer(opts: {
  maxMessageBytes: number;
  services: string[];
  reflect: PackageDefinition;
  /** Server interceptors (tracing); grpc-js takes them only at construction. */
  interceptors?: grpc.ServerInterceptor[];
}): ServerBundle {
  const server = new grpc.Server({
    ...channelLimits(opts.maxMessageBytes),
    // Keep idle local connections open: hops reuse one channel per node.
    'grpc.keepalive_permit_without_calls': 1,
    ...(opts.interceptors?.length ? { interceptors: opts.interceptors } : {}),
  });
  const names = ['', ...opts.services];
  const health = new HealthImplementation(Object.fromEntries(names.map((n) => [n, 'NOT_SERVING'])));
  health.addToServer(server);
  // Reflection lists exactly what this server hosts: its own services and health, not the whole Seldon package.
  new ReflectionService({ ...opts.reflect, ...healthDefinition() }, { services: [...opts.services, HEALTH_SERVICE] }).addToServer(server);
  return {
    server,
    health,
    setServing: (serving) => names.forEach((n) => health.setStatus(n, serving ? 'SERVING' : 'NOT_SERVING')),
  };
}

/** Binds `address` (host:port with port 0 allowed, or unix:/path) and returns the address clients should dial. */
export function bind(server: grpc.Server, address: string): Promise<string> {
  if (address.startsWith('unix:')) removeStaleSocket(address.slice(5).replace(/^\/\/(?=\/)/, ''));
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err) return reject(new Error(`cannot listen on ${address}: ${err.message}`));
      if (address.startsWith('unix:')) return resolve(address);
      const host = address.slice(0, address.lastIndexOf(':'));
      resolve(`${host}:${port}`);
    });
  });
}

export function shutdown(server: grpc.Server, graceMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A process killed with SIGKILL leaves its socket file behind; a restart on the same path must remove it. */
function removeStaleSocket(file: string): void {
  try {
    if (lstatSync(file).isSocket()) unlinkSync(file);
  } catch {
    // absent: nothing to remove
  }
}
