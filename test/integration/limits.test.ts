import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { SeldonClient } from '../../src/client/seldon-client';
import { Code, InferError } from '../../src/errors';
import { emptyMeta, type InferMessage, type Payload } from '../../src/message/message';
import { seldonMethod } from '../../src/protocol/seldon/proto-loader';
import { toWire } from '../../src/protocol/seldon/seldon-message';
import { HOP_TRANSPORTS } from '../../src/graph/spec';
import { upGraph, type RunningGraph } from '../helpers/graph-process';

/**
 * Issue 22: a request the executor accepts fits every hop it makes. The boundary, byte by byte, over real processes
 * and both hop transports, at the default limit (16 MiB): the largest request the executor takes goes through
 * jpeg-input (binData) or two identity nodes (a tftensor), and one byte more is refused by the executor itself.
 */

const LIMIT = 16 * 1024 * 1024;
const serialize = seldonMethod('seldon.protos.Seldon', 'Predict').requestSerialize as (m: object) => Buffer;

/** Largest n with size(n) <= LIMIT (size grows by at least one byte per step). */
function largest(size: (n: number) => number, from: number): number {
  let n = from;
  while (size(n + 1) <= LIMIT) n++;
  while (size(n) > LIMIT) n--;
  return n;
}

async function rejects(p: Promise<unknown>): Promise<InferError> {
  const err = await p.then(
    () => assert.fail('expected an error'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof InferError, String(err));
  return err;
}

for (const hop of HOP_TRANSPORTS) {
  describe(`message limits agree on every hop (${hop} hops, real processes)`, () => {
    let dir: string;
    let g: RunningGraph;
    let client: SeldonClient;
    let jpeg: Buffer;

    before(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-limits-'));
      writeFileSync(
        path.join(dir, 'limits.yaml'),
        `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: limits}
spec:
  graph:
    name: router
    type: ROUTER
    implementation: fixed-router
    parameters: {route: 0}
    children:
      - name: jpeg-input
        type: TRANSFORMER
        implementation: jpeg-input
        parameters: {outputDtype: uint8}
        children:
          - {name: after-jpeg, type: MODEL, implementation: identity, parameters: {tag: seen}}
      - name: first
        type: TRANSFORMER
        implementation: identity
        parameters: {tag: seen}
        children:
          - {name: second, type: MODEL, implementation: identity, parameters: {tag: seen2}}
      - name: widen
        type: TRANSFORMER
        implementation: scale
        parameters: {factor: 1}
`,
      );
      g = await upGraph(path.join(dir, 'limits.yaml'), ['--hop-transport', hop]);
      // Answers may exceed the request limit by the meta merged on the way; the client sends whatever it is given.
      client = new SeldonClient(g.address, { maxMessageBytes: 4 * LIMIT });
      jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#468' } })
        .jpeg()
        .toBuffer();
    });
    after(async () => {
      client?.close();
      await g?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const routed = (route: number, payload: Payload): InferMessage => ({
      meta: { ...emptyMeta(), tags: { route } },
      payload,
    });
    const routedBytes = (route: number, payload: Payload): number =>
      serialize(toWire(routed(route, payload), 'tftensor')).length;
    /** A valid JPEG padded after its end-of-image marker to n bytes: decodable at any size. */
    const padded = (n: number): Buffer => Buffer.concat([jpeg, Buffer.alloc(n - jpeg.length)]);

    it('binData: the largest accepted is answered through jpeg-input; one byte more is refused at the executor', async () => {
      const n = largest((k) => routedBytes(0, { kind: 'bin', data: Buffer.alloc(k) }), LIMIT - 64);
      assert.equal(routedBytes(0, { kind: 'bin', data: Buffer.alloc(n) }), LIMIT, 'the request is exactly the limit');
      const ok = await client.predict(routed(0, { kind: 'bin', data: padded(n) }), { timeoutMs: 60_000 });
      assert.equal(ok.payload.kind, 'tensor');
      if (ok.payload.kind === 'tensor') assert.deepEqual(ok.payload.tensor.shape, [1, 3, 224, 224]);
      assert.equal(ok.meta.tags.seen, 'after-jpeg');
      const err = await rejects(client.predict(routed(0, { kind: 'bin', data: padded(n + 1) }), { timeoutMs: 60_000 }));
      assert.equal(err.code, Code.RESOURCE_EXHAUSTED);
      assert.match(err.message, new RegExp(`larger than max \\(${LIMIT + 1} vs\\.? ${LIMIT}\\)`), err.message);
      assert.doesNotMatch(err.message, /node '/, 'refused at the executor, not at a hop');
      console.log(`# ${hop}: binData of ${n} bytes answered (request ${LIMIT} bytes), ${n + 1} refused`);
    });

    it('a tftensor at the limit passes two hops after the first (with their tags added); one byte more is refused', async () => {
      const u8 = (k: number): Payload => ({
        kind: 'tensor',
        tensor: { dtype: 'uint8', shape: [k], data: new Uint8Array(k) },
      });
      const n = largest((k) => routedBytes(1, u8(k)), LIMIT - 128);
      const ok = await client.predict(routed(1, u8(n)), { timeoutMs: 60_000 });
      assert.equal(ok.payload.kind, 'tensor');
      if (ok.payload.kind === 'tensor') assert.equal((ok.payload.tensor.data as Uint8Array).byteLength, n);
      assert.deepEqual([ok.meta.tags.seen, ok.meta.tags.seen2], ['first', 'second']);
      const err = await rejects(client.predict(routed(1, u8(n + 1)), { timeoutMs: 60_000 }));
      assert.equal(err.code, Code.RESOURCE_EXHAUSTED);
      assert.doesNotMatch(err.message, /node '/);
    });

    it('a node whose answer is bigger than its input is held to its own limit: RESOURCE_EXHAUSTED naming it', async () => {
      // scale answers float32: a uint8 tensor of 5 MB becomes 20 MB, over widen's 16 MiB.
      const u8 = (k: number): Payload => ({
        kind: 'tensor',
        tensor: { dtype: 'uint8', shape: [k], data: new Uint8Array(k) },
      });
      const err = await rejects(client.predict(routed(2, u8(5_000_000)), { timeoutMs: 60_000 }));
      assert.equal(err.code, Code.RESOURCE_EXHAUSTED);
      assert.match(err.message, /node 'widen'/);
      assert.match(err.message, /(over the message limit of|larger than max \(\d+ vs\.?) \d+/, 'names the limit');
      // Within its limit the same node answers.
      const ok = await client.predict(routed(2, u8(4_000_000)), { timeoutMs: 60_000 });
      assert.equal(ok.payload.kind, 'tensor');
      if (ok.payload.kind === 'tensor') assert.equal((ok.payload.tensor.data as Uint8Array).byteLength, 16_000_000);
    });
  });
}
