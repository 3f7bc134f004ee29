import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SeldonClient } from '../../src/client/seldon-client';
import { FramedNodeClient } from '../../src/executor/framed-node-client';
import { GrpcNodeClient } from '../../src/executor/grpc-node-client';
import { Code, InferError } from '../../src/errors';
import { loadManifestFile } from '../../src/graph/manifest';
import { findNode, HOP_TRANSPORTS, type GraphSpec, type HopTransport } from '../../src/graph/spec';
import { FrameChannel } from '../../src/transport/client';
import { emptyMeta, type InferMessage, type Payload } from '../../src/message/message';
import { decodeFlatMessage } from '../../src/protocol/flatbuffers/codec';
import { flatMethodPath } from '../../src/protocol/flatbuffers/service';
import { hopWire } from '../../src/protocol/hop-codec';
import { fromNumbers, toNumbers } from '../../src/tensor/tensor';
import { REPO, upGraph, type RunningGraph } from '../helpers/graph-process';

/** The hop codec is the executor's choice: the same graph answers the same with FlatBuffers as with tftensor. */

const vec = (xs: number[]): Payload => ({ kind: 'tensor', tensor: fromNumbers('float32', [1, xs.length], xs) });
const vals = (m: InferMessage): number[] =>
  m.payload.kind === 'tensor' ? toNumbers(m.payload.tensor) : assert.fail(`expected a tensor, got ${m.payload.kind}`);

/** Every test runs once per hop transport: codecs and transports are independent choices. */
for (const hop of HOP_TRANSPORTS) codecSuite(hop);

function codecSuite(hop: HopTransport): void {
  describe(`hop codec flatbuffers versus tftensor (test ensemble, real processes, hops over ${hop})`, () => {
    let dir: string;
    let tf: RunningGraph;
    let fb: RunningGraph;
    let fbGraph: GraphSpec;
    const clients: SeldonClient[] = [];
    before(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-codec-'));
      const text = readFileSync(path.join(REPO, 'graphs/test-ensemble.yaml'), 'utf8').replace(
        'spec:\n',
        'spec:\n  codec: flatbuffers\n',
      );
      const fbFile = path.join(dir, 'test-ensemble-fb.yaml');
      writeFileSync(fbFile, text);
      fbGraph = loadManifestFile(fbFile);
      assert.equal(fbGraph.codec, 'flatbuffers');
      // FlatBuffers over TCP, tftensor over unix sockets: both transports carry both codecs.
      [tf, fb] = await Promise.all([
        upGraph(path.join(REPO, 'graphs/test-ensemble.yaml'), ['--hop-transport', hop]),
        upGraph(fbFile, ['--transport', 'tcp', '--hop-transport', hop]),
      ]);
    });
    after(async () => {
      clients.forEach((c) => c.close());
      await Promise.all([tf?.stop(), fb?.stop()]);
      rmSync(dir, { recursive: true, force: true });
    });

    it('gives the same answer, meta included, for a range of inputs', async () => {
      const a = new SeldonClient(tf.address);
      const b = new SeldonClient(fb.address);
      clients.push(a, b);
      for (const xs of [[1, 2, 3, 4], [0], [-1.5, 1e6, 3.25], Array.from({ length: 1000 }, (_, i) => i / 7)]) {
        const [ra, rb] = await Promise.all([a.predict(vec(xs)), b.predict(vec(xs))]);
        assert.deepEqual(vals(rb), vals(ra));
        // top1(mean(3·2x, 5·2x)) = 8x + 1, in float32.
        vals(rb).forEach((y, i) =>
          assert.ok(
            Math.abs(y - (8 * (xs[i] as number) + 1)) <= 1e-6 * Math.max(1, Math.abs(y)),
            `${y} for x=${xs[i]}`,
          ),
        );
        assert.deepEqual(Object.keys(rb.meta.requestPath).sort(), Object.keys(ra.meta.requestPath).sort());
        assert.deepEqual(rb.meta.metrics.map((m) => m.key).sort(), ra.meta.metrics.map((m) => m.key).sort());
      }
    });

    it('a node answers both codecs on one port; a malformed FlatBuffer is INVALID_ARGUMENT', async () => {
      const node = findNode(fbGraph, 'model-a');
      const address = fb.procs.get('model-a')?.address;
      const framesAddress = fb.procs.get('model-a')?.framesAddress;
      assert.ok(node && address);
      assert.ok(hop === 'grpc' || framesAddress, 'model-a reported no frame address');
      const msg: InferMessage = { meta: emptyMeta('codec-test'), payload: vec([1, 2]) };
      const opts = () => ({ deadline: Date.now() + 5000, signal: new AbortController().signal });
      for (const codec of ['tftensor', 'flatbuffers', 'tensor', 'ndarray'] as const) {
        const g = { ...fbGraph, codec };
        const c: GrpcNodeClient | FramedNodeClient =
          hop === 'frames'
            ? new FramedNodeClient(g, { 'model-a': framesAddress as string })
            : new GrpcNodeClient(g, { 'model-a': address });
        try {
          assert.deepEqual(vals((await c.call(node, 'predict', msg, opts())).message), [3, 6], codec);
        } finally {
          c.close();
        }
      }
      const junk = Buffer.from([3, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      if (hop === 'frames') {
        const ch = new FrameChannel(framesAddress as string, { maxMessageBytes: 1 << 20 });
        try {
          for (const codec of ['flatbuffers', 'seldon'] as const) {
            const err = await ch.call('predict', codec, junk, opts()).then(
              () => assert.fail('expected INVALID_ARGUMENT'),
              (e: unknown) => e as InferError,
            );
            assert.equal(err.code, Code.INVALID_ARGUMENT, `${codec}: ${err.message}`);
            const why =
              codec === 'flatbuffers'
                ? /flatbuffers: malformed Message/
                : /model-a: malformed \/seldon.protos.Model\/Predict request/;
            assert.match(err.message, why);
          }
          // The connection that carried the junk still serves.
          const flat = hopWire('flatbuffers', 'predict');
          const after = await ch.call('predict', 'flatbuffers', flat.serialize(flat.encode(msg)), opts());
          assert.deepEqual(vals({ ...msg, ...decodeFlatMessage(after.body) }), [3, 6]);
        } finally {
          ch.close();
        }
        return;
      }
      const raw = new grpc.Client(address, grpc.credentials.createInsecure());
      try {
        const err = await new Promise<grpc.ServiceError | null>((resolve) =>
          raw.makeUnaryRequest(
            flatMethodPath('Predict'),
            (b: Buffer) => b,
            (b: Buffer) => b,
            junk,
            (e) => resolve(e),
          ),
        );
        assert.equal(err?.code, Code.INVALID_ARGUMENT);
        assert.match(err?.details ?? '', /flatbuffers: malformed Message/);
      } finally {
        raw.close();
      }
    });

    it('errors keep their status and name the hop with either codec', async () => {
      const b = new SeldonClient(fb.address);
      clients.push(b);
      const err = await b.predict({ kind: 'str', data: 'hello' }).then(
        () => assert.fail('expected INVALID_ARGUMENT'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof InferError);
      assert.equal(err.code, Code.INVALID_ARGUMENT);
      assert.match(err.message, /node 'preprocess' \(FlatBuffersNode\/TransformInput\).*scale needs a numeric tensor/);
    });
  });
}
