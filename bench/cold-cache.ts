/**
 * Why a tiny hop costs ~1.5-2 ms in a graph at concurrency 1 but ~0.3 ms back to back: an experiment in ONE process,
 * so no wake-ups, no scheduling, no second process. A grpc-js client calls a grpc-js echo server (16 bytes) after a
 * pause spent three ways:
 *   spin      the CPU stays busy in a tight loop (no sleep, caches untouched by us),
 *   evict     the pause streams through 64 MB (what other processes and VM neighbours do to the caches),
 *   keepwarm  the pause is filled with more echo calls (the code and data of a call stay cached).
 * On the 2-vCPU VM of the performance notes: keepwarm ~0.09 ms, spin/evict after 50 ms ~0.85 ms. The cost of a call
 * is mostly cache misses on grpc-js/HTTP/2's code and data once they have been pushed out; in a graph every node sits
 * idle while the others work, so every hop pays it on both sides.
 *
 *   node dist/bench/cold-cache.js
 */
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bytesUnaryMethod, passBytes as pass } from '../src/rpc/bytes-method';

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-cold-'));
  const address = `unix:${path.join(dir, 'echo.sock')}`;
  const server = new grpc.Server();
  const method = bytesUnaryMethod('/bench.Echo/Echo');
  server.addService(
    { Echo: method },
    { Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request) },
  );
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
  );
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const payload = Buffer.alloc(16);
  const call = (): Promise<void> =>
    new Promise((resolve, reject) =>
      client.makeUnaryRequest(method.path, pass, pass, payload, (e) => (e ? reject(e) : resolve())),
    );
  const big = new Float64Array(8 * 1024 * 1024);
  for (let i = 0; i < 10_000; i++) await call(); // JIT warm-up
  console.log('pause    ms   call p50 ms   p90 ms');
  for (const mode of ['keepwarm', 'spin', 'evict'] as const) {
    for (const gap of [0, 5, 50]) {
      const t: number[] = [];
      for (let i = 0; i < 100; i++) {
        const until = performance.now() + gap;
        if (mode === 'spin') while (performance.now() < until);
        else if (mode === 'evict')
          while (performance.now() < until) for (let j = 0; j < big.length; j += 8) big[j] = (big[j] as number) + 1;
        else while (performance.now() < until) await call();
        const s = performance.now();
        await call();
        t.push(performance.now() - s);
      }
      t.sort((a, b) => a - b);
      console.log(
        `${mode.padEnd(9)}${String(gap).padStart(3)}   ${(t[50] as number).toFixed(3).padStart(10)}   ${(t[90] as number).toFixed(3).padStart(6)}`,
      );
    }
  }
  client.close();
  server.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
