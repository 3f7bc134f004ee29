import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import type { TlsSpec } from '../graph/spec';

/**
 * Credentials from spec.tls (PEM files read at start-up): TLS on the executor's public port, optionally requiring
 * client certificates; mutual TLS on every executor-node hop. Without spec.tls everything stays plaintext, as a
 * graph on one machine or behind a mesh wants. Hop certificates must name the addresses the executor dials (SANs:
 * 127.0.0.1/localhost for `infergraph up`, the Service names on a cluster).
 */

const read = (file: string): Buffer => readFileSync(file);

/** The executor's public port. */
export function executorServerCredentials(tls: TlsSpec | undefined): grpc.ServerCredentials {
  const s = tls?.server;
  if (!s) return grpc.ServerCredentials.createInsecure();
  const ca = s.clientCa ? read(s.clientCa) : null;
  return grpc.ServerCredentials.createSsl(ca, [{ cert_chain: read(s.cert), private_key: read(s.key) }], ca !== null);
}

/** A node's port: mutual TLS when spec.tls.hops is set (only holders of a certificate from hops.ca get in). */
export function nodeServerCredentials(tls: TlsSpec | undefined): grpc.ServerCredentials {
  const h = tls?.hops;
  if (!h) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(read(h.ca), [{ cert_chain: read(h.cert), private_key: read(h.key) }], true);
}

/** The executor's (and the runner's health probe's) channel to a node. */
export function hopChannelCredentials(tls: TlsSpec | undefined): grpc.ChannelCredentials {
  const h = tls?.hops;
  if (!h) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(read(h.ca), read(h.key), read(h.cert));
}
