import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { checkHealth } from '../../src/runner/health';
import { REPO, SHARED, alive, upGraph, type RunningGraph } from '../helpers/graph-process';
import { lengthPrefixed, splitPrefixed, v2Client, type V2Client } from '../helpers/v2-client';

interface InferResponse {
  model_name: string;
  id: string;
  parameters: Record<string, { string_param?: string }>;
  outputs: { name: string; datatype: string; shape: string[] }[];
  raw_output_contents: Buffer[];
}

async function expectStatus(p: Promise<unknown>, code: grpc.status, re: RegExp): Promise<void> {
  const err = await p.then(
    () => assert.fail(`expected ${grpc.status[code]}`),
    (e: unknown) => e as grpc.ServiceError,
  );
  assert.equal(err.code, code, `${grpc.status[err.code]}: ${err.details}`);
  assert.match(err.details, re);
}

const f32 = (b: Buffer): number[] => Array.from(new Float32Array(new Uint8Array(b).buffer));

describe('Open Inference Protocol (V2) on the executor: test-ensemble graph as real processes', () => {
  let g: RunningGraph;
  let c: V2Client;
  before(async () => {
    g = await upGraph(path.join(REPO, 'graphs/test-ensemble.yaml'));
    c = v2Client(g.address);
  });
  after(async () => {
    c?.close();
    await g?.stop();
  });

  it('answers ServerLive, ServerReady, ServerMetadata, ModelReady', async () => {
    assert.deepEqual(await c.call('ServerLive', {}), { live: true });
    assert.deepEqual(await c.call('ServerReady', {}), { ready: true });
    const md = await c.call<{ name: string; extensions: string[] }>('ServerMetadata', {});
    assert.equal(md.name, 'infergraph');
    assert.deepEqual(md.extensions, ['model_configuration', 'parameters', 'binary_tensor_data']);
    assert.deepEqual(await c.call('ModelReady', { name: 'test-ensemble' }), { ready: true });
  });

  it('FP32 in raw_input_contents and in fp32_contents: 8x + 1 through five nodes, id and puid echoed', async () => {
    const x = [1, 2, 3, 4];
    const raw = await c.call<InferResponse>('ModelInfer', {
      model_name: 'test-ensemble',
      id: 'r-1',
      parameters: { puid: { string_param: 'my-puid' } },
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4] }],
      raw_input_contents: [Buffer.from(new Float32Array(x).buffer)],
    });
    assert.equal(raw.id, 'r-1');
    assert.equal(raw.model_name, 'test-ensemble');
    assert.equal(raw.parameters.puid?.string_param, 'my-puid');
    assert.equal(raw.outputs.length, 1);
    assert.equal(raw.outputs[0]?.datatype, 'FP32');
    assert.deepEqual(raw.outputs[0]?.shape, ['1', '4']);
    assert.deepEqual(f32(raw.raw_output_contents[0] as Buffer), [9, 17, 25, 33]);
    const typed = await c.call<InferResponse>('ModelInfer', {
      model_name: 'test-ensemble',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2], contents: { fp32_contents: x } }],
    });
    assert.deepEqual(typed.outputs[0]?.shape, ['2', '2']);
    assert.deepEqual(f32(typed.raw_output_contents[0] as Buffer), [9, 17, 25, 33]);
    assert.match(typed.parameters.puid?.string_param ?? '', /^[0-9a-f-]{36}$/);
  });

  it('errors: wrong model NOT_FOUND (every per-model call), bad tensors INVALID_ARGUMENT, still serving', async () => {
    const input = { name: 'x', datatype: 'FP32', shape: [1, 4] };
    await expectStatus(
      c.call('ModelInfer', { model_name: 'resnet', inputs: [input], raw_input_contents: [Buffer.alloc(16)] }),
      grpc.status.NOT_FOUND,
      /model 'resnet' not found.*'test-ensemble'/,
    );
    await expectStatus(c.call('ModelReady', { name: 'resnet' }), grpc.status.NOT_FOUND, /model 'resnet' not found/);
    await expectStatus(c.call('ModelMetadata', { name: 'resnet' }), grpc.status.NOT_FOUND, /model 'resnet' not found/);
    await expectStatus(c.call('ModelConfig', { name: 'resnet' }), grpc.status.NOT_FOUND, /model 'resnet' not found/);
    await expectStatus(
      c.call('ModelInfer', { model_name: 'test-ensemble', inputs: [input], raw_input_contents: [Buffer.alloc(12)] }),
      grpc.status.INVALID_ARGUMENT,
      /raw_input_contents has 12 bytes, but FP32 \[1,4\] needs 16/,
    );
    await expectStatus(
      c.call('ModelInfer', {
        model_name: 'test-ensemble',
        inputs: [{ ...input, contents: { fp32_contents: [1, 2] } }],
      }),
      grpc.status.INVALID_ARGUMENT,
      /shape \[1,4\] needs 4 FP32 values, fp32_contents has 2/,
    );
    await expectStatus(
      c.call('ModelInfer', {
        model_name: 'test-ensemble',
        inputs: [{ ...input, datatype: 'FP16' }],
        raw_input_contents: [Buffer.alloc(8)],
      }),
      grpc.status.INVALID_ARGUMENT,
      /datatype FP16 is not supported/,
    );
    // A JPEG where the graph wants numbers: the node's own INVALID_ARGUMENT, as through Seldon's API.
    await expectStatus(
      c.call('ModelInfer', {
        model_name: 'test-ensemble',
        inputs: [
          { name: 'image', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [Buffer.from('not a tensor')] } },
        ],
      }),
      grpc.status.INVALID_ARGUMENT,
      /node 'preprocess'/,
    );
    const ok = await c.call<InferResponse>('ModelInfer', {
      model_name: 'test-ensemble',
      inputs: [input],
      raw_input_contents: [Buffer.from(new Float32Array([0, 0, 0, 1]).buffer)],
    });
    assert.deepEqual(f32(ok.raw_output_contents[0] as Buffer), [1, 1, 1, 9]);
  });

  it('readiness: a killed node makes the executor NOT_SERVING (health, ServerReady) until restarted', async () => {
    const node = g.procs.get('model-b');
    assert.ok(node && alive(node.pid));
    assert.equal(await checkHealth(g.address), 'SERVING');
    process.kill(node.pid, 'SIGKILL');
    const seen = new Set<string>();
    const until = Date.now() + 15_000;
    let ready: boolean | undefined;
    while (Date.now() < until) {
      const s = await checkHealth(g.address).catch((e: Error) => e.message);
      if (s === 'NOT_SERVING' && !seen.has(s)) ready = (await c.call<{ ready: boolean }>('ServerReady', {})).ready;
      seen.add(s);
      if (seen.has('NOT_SERVING') && s === 'SERVING') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(seen.has('NOT_SERVING'), `executor never said NOT_SERVING (saw ${[...seen].join(', ')})`);
    assert.equal(ready, false, 'ServerReady while a node was down');
    assert.equal(await checkHealth(g.address), 'SERVING', 'executor SERVING again after the restart');
    assert.deepEqual(await c.call('ServerReady', {}), { ready: true });
    await g.waitFor(/node model-b pid \d+ at/);
    const ok = await c.call<InferResponse>('ModelInfer', {
      model_name: 'test-ensemble',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1], contents: { fp32_contents: [1] } }],
    });
    assert.deepEqual(f32(ok.raw_output_contents[0] as Buffer), [9]);
  });
});

const MOBILENET = path.join(SHARED, 'models/mobilenetv2-12-int8.onnx');
const TENCH = path.join(SHARED, 'imagenet/dev/n01440764_tench.JPEG');
const missing = [MOBILENET, TENCH, path.join(SHARED, 'imagenet/labels.tsv')].filter((f) => !existsSync(f));

describe(
  'V2 client -> real MobileNetV2 graph',
  { skip: missing.length ? `missing ${missing.join(', ')} (the shared data folder beside the project)` : false },
  () => {
    let g: RunningGraph;
    let c: V2Client;
    before(async () => {
      g = await upGraph(path.join(REPO, 'graphs/imagenet-mobilenet.yaml'), [], { INFERGRAPH_SHARED: SHARED });
      c = v2Client(g.address);
    });
    after(async () => {
      c?.close();
      await g?.stop();
    });

    it('a JPEG as a BYTES tensor (raw with length prefix, and bytes_contents) comes back as tench', async () => {
      const jpeg = readFileSync(TENCH);
      const requests = [
        {
          model_name: 'imagenet-mobilenet',
          id: 'tench-raw',
          inputs: [{ name: 'image', datatype: 'BYTES', shape: [1] }],
          raw_input_contents: [lengthPrefixed(jpeg)],
        },
        {
          model_name: 'imagenet-mobilenet',
          id: 'tench-typed',
          inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [jpeg] } }],
        },
      ];
      for (const req of requests) {
        const res = await c.call<InferResponse>('ModelInfer', req);
        assert.equal(res.id, req.id);
        assert.deepEqual(
          res.outputs.map((o) => [o.name, o.datatype, o.shape]),
          [
            ['index', 'INT64', ['1']],
            ['score', 'FP32', ['1']],
            ['label', 'BYTES', ['1']],
          ],
        );
        const [index, score, label] = res.raw_output_contents as [Buffer, Buffer, Buffer];
        assert.equal(index.readBigInt64LE(0), 0n);
        assert.ok(score.readFloatLE(0) > 0.3 && score.readFloatLE(0) <= 1);
        assert.deepEqual(splitPrefixed(label).map(String), ['tench']);
      }
    });

    it('ModelMetadata and ModelConfig describe the graph: a BYTES input, index/score/label outputs', async () => {
      const md = await c.call<{ name: string; inputs: unknown[]; outputs: unknown[] }>('ModelMetadata', {
        name: 'imagenet-mobilenet',
      });
      assert.equal(md.name, 'imagenet-mobilenet');
      assert.deepEqual(md.inputs, [{ name: 'input', datatype: 'BYTES', shape: ['1'] }]);
      assert.deepEqual(md.outputs, [
        { name: 'index', datatype: 'INT64', shape: ['-1'] },
        { name: 'score', datatype: 'FP32', shape: ['-1'] },
        { name: 'label', datatype: 'BYTES', shape: ['-1'] },
      ]);
      const cfg = await c.call<{
        config: {
          name: string;
          max_batch_size: number;
          input: { data_type: string }[];
          output: { name: string; data_type: string }[];
        };
      }>('ModelConfig', { name: 'imagenet-mobilenet' });
      assert.equal(cfg.config.name, 'imagenet-mobilenet');
      assert.equal(cfg.config.max_batch_size, 0);
      assert.equal(cfg.config.input[0]?.data_type, 'TYPE_STRING');
      assert.deepEqual(
        cfg.config.output.map((o) => [o.name, o.data_type]),
        [
          ['index', 'TYPE_INT64'],
          ['score', 'TYPE_FP32'],
          ['label', 'TYPE_STRING'],
        ],
      );
    });
  },
);
