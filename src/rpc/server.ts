import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import * as protoLoader from '@grpc/proto-loader';
import type { PackageDefinition } from '@grpc/proto-loader';
import type { EventEmitter } from 'node:events';
import { lstatSync, unlinkSync } from 'node:fs';
import { channelLimits } from './channel-options';

/**
 * gRPC server bootstrap shared by the executor and every node: message limits, grpc.health.v1 (NOT_SERVING until
 * the process is ready), and server reflection so grpcurl-style clients can list the services.
 */

/**
 * HTTP/2 receive window of our servers. Node's default, 64 KB per stream and per connection, makes a 602 KB request
 * wait for about nine WINDOW_UPDATE round trips between the two processes. grpc-js reads
 * 'grpc-node.flow_control_window' on clients only; until servers do (grpc/grpc-node#3058), set it the way that change
 * does: advertised in SETTINGS for every stream, and the connection window raised per session. Measured with
 * `infergraph bench hop` (602 KB to the node, tiny answer): p50 1.9 → 0.8 ms. Clients keep grpc-js's default window:
 * raising it too (the client option) stalled calls carrying 602 KB both ways in our stress runs.
 */
const SERVER_RECEIVE_WINDOW = 8 * 1024 * 1024;

function raiseReceiveWindow(server: grpc.Server, bytes: number): void {
  const internals = server as unknown as {
    commonServerOptions?: { settings?: Record<string, number> };
    http2Servers?: Map<EventEmitter, unknown>;
  };
  const servers = internals.http2Servers;
  // Another grpc-js version without these internals keeps its defaults: slower for big messages, nothing worse.
  if (!internals.commonServerOptions || !(servers instanceof Map)) return;
  internals.commonServerOptions.settings = { ...internals.commonServerOptions.settings, initialWindowSize: bytes };
  const hooked = new WeakSet<EventEmitter>();
  const bindAsync = server.bindAsync.bind(server);
  server.bindAsync = (port, creds, callback) =>
    bindAsync(port, creds, (err, boundPort) => {
      for (const h of servers.keys()) {
        if (hooked.has(h)) continue;
        hooked.add(h);
        h.on('session', (session: { setLocalWindowSize?(n: number): void }) => session.setLocalWindowSize?.(bytes));
      }
      callback(err, boundPort);
    });
}

/**
 * Connections to our servers are closed (GOAWAY, in-flight calls finish) after about this long. grpc-js clients
 * re-resolve a `dns:///` target only when one of its connections drops, so without this an executor keeps using the
 * pods it first found and never calls the ones a scale-up adds (measured with docker: a third replica behind the
 * same name got no call in 25 s). A dropped connection makes the channel re-resolve (at most every 30 s) and
 * reconnect; the calls meanwhile go to the other replicas, or wait the few ms a reconnect takes.
 */
export const MAX_CONNECTION_AGE_MS = 30_000;

const HEALTH_SERVICE = 'grpc.health.v1.Health';
let healthDef: protoLoader.PackageDefinition | undefined;
const healthDefinition = (): protoLoader.PackageDefinition =>
  (healthDef ??= protoLoader.loadSync(healthProtoPath, { keepCase: true }));

export interface ServerBundle {
  server: grpc.Server;
  health: HealthImplementation;
  /** Marks '' and every registered service SERVING (or NOT_SERVING). */
  setServing(serving: boolean): void;
}

export function createServer(opts: {
  /** largest message received */
  maxMessageBytes: number;
  /** largest message sent; default maxMessageBytes */
  maxSendBytes?: number;
  services: string[];
  /** Services for server reflection; undefined switches reflection off (spec.reflection: false). */
  reflect: PackageDefinition | undefined;
  /** Server interceptors (tracing); grpc-js takes them only at construction. */
  interceptors?: grpc.ServerInterceptor[];
}): ServerBundle {
  const server = new grpc.Server({
    ...channelLimits(opts.maxMessageBytes, opts.maxSendBytes),
    // Keep idle local connections open: hops reuse one channel per node.
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_connection_age_ms': MAX_CONNECTION_AGE_MS,
    ...(opts.interceptors?.length ? { interceptors: opts.interceptors } : {}),
  });
  raiseReceiveWindow(server, SERVER_RECEIVE_WINDOW);
  const names = ['', ...opts.services];
  const health = new HealthImplementation(Object.fromEntries(names.map((n) => [n, 'NOT_SERVING'])));
  health.addToServer(server);
  // Reflection lists exactly what this server hosts: its own services and health, not the whole Seldon package.
  if (opts.reflect) {
    const def = { ...opts.reflect, ...healthDefinition() };
    new ReflectionService(def, { services: [...opts.services, HEALTH_SERVICE] }).addToServer(server);
  }
  return {
    server,
    health,
    setServing: (serving) => names.forEach((n) => health.setStatus(n, serving ? 'SERVING' : 'NOT_SERVING')),
  };
}

/** Binds `address` (host:port with port 0 allowed, or unix:/path) and returns the address clients should dial. */
export function bind(
  server: grpc.Server,
  address: string,
  credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure(),
): Promise<string> {
  if (address.startsWith('unix:')) removeStaleSocket(address.slice(5).replace(/^\/\/(?=\/)/, ''));
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (err, port) => {
      if (err) return reject(new Error(`cannot listen on ${address}: ${err.message}`));
      if (address.startsWith('unix:')) return resolve(address);
      const host = address.slice(0, address.lastIndexOf(':'));
      resolve(`${host}:${port}`);
    });
  });
}

/** grpc-js internals read for the first step of a drain; another grpc-js version without them gets no-ops. */
type Http2Internals = { http2Servers?: Map<{ close(): void }, { sessions?: Set<unknown> }> };

/**
 * The first step of a node's drain: no new connection, while the ones open go on taking calls (Node's http2 server
 * close(): "does not prevent new request streams"). grpc-js's unbind() would also GOAWAY the open connections, and
 * the executor still needs them for the requests it admitted before it was told to stop.
 */
export function stopAccepting(server: grpc.Server): void {
  const servers = (server as unknown as Http2Internals).http2Servers;
  if (servers instanceof Map) for (const h of servers.keys()) h.close();
}

/** HTTP/2 connections open on the server now: a draining node serves until its callers have gone. */
export function openSessions(server: grpc.Server): number {
  const servers = (server as unknown as Http2Internals).http2Servers;
  let n = 0;
  if (servers instanceof Map) for (const entry of servers.values()) n += entry.sessions?.size ?? 0;
  return n;
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
