/**
 * What the client's own gRPC stack costs a request at concurrency 1: the same Seldon.Predict (a [1,4] float32
 * tftensor, encoded once) sent to a running executor by grpc-js and by a bare node:http2 gRPC client, in alternating
 * blocks. Both decode the reply the same way. The difference is grpc-js's client-side work (call stack, interceptors,
 * metadata, filters), which `infergraph bench` pays on every request and which is the same for every graph it
 * measures.
 *
 *   node dist/src/cli/main.js up graphs/test-ensemble.yaml -p 9123 &
 *   node dist/bench/client-cost.js 127.0.0.1:9123
 */
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { emptyMeta } from '../src/message/message';
import { executorPredictWire } from '../src/protocol/hop-codec';
import { passBytes } from '../src/rpc/bytes-method';
import { fromNumbers } from '../src/tensor/tensor';

const address = process.argv[2] ?? '127.0.0.1:9000';
const BLOCKS = 40;
const PER_BLOCK = 500;

const wire = executorPredictWire('tftensor');
const payload = { kind: 'tensor' as const, tensor: fromNumbers('float32', [1, 4], [1, 2, 3, 4]) };
const body = wire.serialize(wire.encode({ meta: emptyMeta(), payload }));

const client = new grpc.Client(address, grpc.credentials.createInsecure());
const viaGrpcJs = (): Promise<unknown> =>
  new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      wire.path,
      passBytes,
      wire.deserialize,
      body,
      new grpc.Metadata(),
      { deadline: Date.now() + 5000 },
      (err, reply) => (err ? reject(err) : resolve(wire.decode(reply))),
    ),
  );

// gRPC over HTTP/2 by hand: one length-prefixed message, status in the trailers (or trailers-only headers).
const framed = Buffer.alloc(5 + body.length);
framed.writeUInt32BE(body.length, 1);
body.copy(framed, 5);
let session: http2.ClientHttp2Session | undefined;
const live = (): http2.ClientHttp2Session => {
  if (!session || session.closed || session.destroyed) {
    session = http2.connect(`http://${address}`);
    session.on('error', () => undefined); // the next call reconnects
  }
  return session;
};
const viaHttp2 = (): Promise<unknown> =>
  new Promise((resolve, reject) => {
    const req = live().request({
      ':method': 'POST',
      ':path': wire.path,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': '5000m',
    });
    const chunks: Buffer[] = [];
    const done = (h: http2.IncomingHttpHeaders): void => {
      if (h['grpc-status'] === undefined) return;
      if (h['grpc-status'] !== '0') return reject(new Error(`grpc-status ${String(h['grpc-status'])}`));
      const all = Buffer.concat(chunks);
      resolve(wire.decode(wire.deserialize(all.subarray(5, 5 + all.readUInt32BE(1)))));
    };
    req.on('response', done);
    req.on('trailers', done);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.end(framed);
  });

async function main(): Promise<void> {
  const clients = { 'grpc-js': viaGrpcJs, 'node:http2': viaHttp2 };
  const ms: Record<string, number[]> = { 'grpc-js': [], 'node:http2': [] };
  for (let b = 0; b < BLOCKS; b++)
    for (const [name, call] of Object.entries(clients))
      for (let i = 0; i < PER_BLOCK; i++) {
        const t0 = performance.now();
        await call();
        if (b >= 4) ms[name]?.push(performance.now() - t0); // the first blocks warm up
      }
  console.log('| client | calls | mean ms | p50 ms |\n|---|---:|---:|---:|');
  for (const [name, xs] of Object.entries(ms)) {
    xs.sort((a, b) => a - b);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(`| ${name} | ${xs.length} | ${mean.toFixed(3)} | ${(xs[xs.length >> 1] ?? NaN).toFixed(3)} |`);
  }
  client.close();
  session?.close();
}

void main();
