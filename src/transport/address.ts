import { lstatSync, unlinkSync } from 'node:fs';
import type net from 'node:net';

/**
 * Frame addresses are written like gRPC's: `unix:/path` or `host:port` (port 0 at listen time picks one). The node
 * derives its frame address from its gRPC one (framesAddressFor), so a graph's sockets stay side by side.
 */

export type ListenTarget = { path: string } | { host: string; port: number };

export function parseFrameAddress(address: string): ListenTarget {
  if (address.startsWith('unix:')) {
    const path = address.slice(5).replace(/^\/\/(?=\/)/, '');
    if (!path) throw new Error(`frame address '${address}' names no socket path`);
    return { path };
  }
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i < 1 || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`frame address '${address}' is not unix:/path or host:port`);
  return { host: address.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port };
}

/** The address clients dial after a listen on `t` (the port the OS picked). */
export function boundAddress(t: ListenTarget, server: net.Server): string {
  if ('path' in t) return `unix:${t.path}`;
  const a = server.address();
  const port = a && typeof a === 'object' ? a.port : t.port;
  return `${t.host.includes(':') ? `[${t.host}]` : t.host}:${port}`;
}

/** unix:/x/node.sock → unix:/x/node.sock.frames; host:port → host:0 (a port of its own). */
export function framesAddressFor(grpcAddress: string): string {
  const t = parseFrameAddress(grpcAddress);
  return 'path' in t ? `unix:${t.path}.frames` : `${t.host.includes(':') ? `[${t.host}]` : t.host}:0`;
}

/** A process killed with SIGKILL leaves its socket file behind; a restart on the same path must remove it. */
export function removeStaleSocket(file: string): void {
  try {
    if (lstatSync(file).isSocket()) unlinkSync(file);
  } catch {
    // absent: nothing to remove
  }
}
