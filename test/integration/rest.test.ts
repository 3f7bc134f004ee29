import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO, SHARED, upGraph, type RunningGraph } from '../helpers/graph-process';
import { parseExposition, total } from '../helpers/prom-text';
import { lengthPrefixed } from '../helpers/v2-client';

/**
 * The executor's REST front doors (Seldon /api/v1.0 and V2 /v2) against real processes, with Node's own fetch as the
 * client: every route, every SeldonMessage data form, the binary tensor data extension, the error bodies and statuses,
 * the HTTP limits and the metrics of REST calls.
 */

const restUrl = (g: RunningGraph): string => {
  const line = g.stdout.find((l) => /^rest \S+ at http:\/\/\S+$/.test(l));
  assert.ok(line, `no 'rest … at' line in:\n${g.stdout.join('\n')}`);
  return line.split(' ').pop() as string;
};

const metricsUrl = (g: RunningGraph, name: string): string => {
  const line = g.stdout.find((l) => l.startsWith(`metrics ${name} at `));
  assert.ok(line, `no metrics line for ${name}`);
  return line.split(' ').pop() as string;
};

const json = { 'content-type': 'application/json' };
const post = (url: string, body: unknown, headers: Record<string, string> = json): Promise<Response> =>
  fetch(url, {
    method: 'POST',
    headers,
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });

interface SeldonReply {
  meta: { puid: string; tags: Record<string, unknown>; requestPath: Record<string, string> };
  data?: { names: string[]; ndarray?: unknown; tensor?: { shape: number[]; values: number[] }; tftensor?: Tf };
  status?: { code: number; info: string; reason: string; status: string };
  jsonData?: unknown;
}
interface Tf {
  dtype: string;
  tensorShape: { dim: { size: string }[] };
  tensorContent?: string;
}

async function seldonError(res: Response, status: number, re: RegExp): Promise<void> {
  const body = (await res.json()) as SeldonReply;
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.status?.status, 'FAILURE');
  assert.equal(body.status?.code, status);
  assert.match(body.status?.info ?? '', re);
}

async function v2Error(res: Response, status: number, re: RegExp): Promise<void> {
  const body = (await res.json()) as { error: string };
  assert.equal(res.status, status, JSON.stringify(body));
  assert.match(body.error, re);
}

describe('REST front doors on the executor: test-ensemble as real processes', () => {
  let g: RunningGraph;
  let url: string;
  before(async () => {
    g = await upGraph(path.join(REPO, 'graphs/test-ensemble.yaml'));
    url = restUrl(g);
  });
  after(async () => {
    await g?.stop();
  });

  it('`up` prints the REST URL on its own port', async () => {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(url.split(':').pop(), g.address.split(':').pop());
    // printed right after the ready line, which may arrive in an earlier chunk of the runner's stdout
    const line = await g.waitFor(/^infergraph: REST at /, 5000);
    assert.ok(line.startsWith(`infergraph: REST at ${url}`), line);
  });

  it('Seldon predictions: every tensor form answers in the form it came in (8x + 1), meta puid and tags kept', async () => {
    const nd = (await (
      await post(`${url}/api/v1.0/predictions`, {
        meta: { puid: 'p-1', tags: { team: 'a' } },
        data: { ndarray: [[1, 2, 3, 4]] },
      })
    ).json()) as SeldonReply;
    assert.deepEqual(nd.data?.ndarray, [[9, 17, 25, 33]]);
    assert.equal(nd.meta.puid, 'p-1');
    assert.equal(nd.meta.tags.team, 'a');
    assert.deepEqual(Object.keys(nd.meta.requestPath).sort(), ['ensemble', 'model-a', 'model-b', 'preprocess', 'top1']);

    const t = (await (
      await post(`${url}/api/v0.1/predictions`, {
        data: { names: ['x'], tensor: { shape: [2, 2], values: [1, 2, 3, 4] } },
      })
    ).json()) as SeldonReply;
    assert.deepEqual(t.data?.tensor, { shape: [2, 2], values: [9, 17, 25, 33] });
    assert.match(t.meta.puid, /^[0-9a-f-]{36}$/);

    // TensorProto JSON as Seldon's Python wrapper writes it: raw tensorContent (base64), and typed floatVal.
    const content = Buffer.from(new Float32Array([1, 2]).buffer).toString('base64');
    const tfRaw = (await (
      await post(`${url}/api/v1.0/predictions`, {
        data: {
          tftensor: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '1' }, { size: '2' }] }, tensorContent: content },
        },
      })
    ).json()) as SeldonReply;
    const tf = tfRaw.data?.tftensor as Tf;
    assert.equal(tf.dtype, 'DT_FLOAT');
    assert.deepEqual(tf.tensorShape.dim, [{ size: '1' }, { size: '2' }]);
    assert.deepEqual(
      [...new Float32Array(new Uint8Array(Buffer.from(tf.tensorContent ?? '', 'base64')).buffer)],
      [9, 17],
    );
    const tfVals = (await (
      await post(`${url}/api/v1.0/predictions`, {
        data: { tftensor: { dtype: 'DT_DOUBLE', tensorShape: { dim: [{ size: '2' }] }, doubleVal: [0, 1] } },
      })
    ).json()) as SeldonReply;
    const tf2 = tfVals.data?.tftensor as Tf;
    // The scale component answers float32 whatever came in; the doubles were read (0 -> 1, 1 -> 9).
    assert.equal(tf2.dtype, 'DT_FLOAT');
    assert.deepEqual(
      [...new Float32Array(new Uint8Array(Buffer.from(tf2.tensorContent ?? '', 'base64')).buffer)],
      [1, 9],
    );
  });

  it('Seldon errors: bad JSON 400, wrong shape 400, a payload the graph rejects 400, wrong content type 415', async () => {
    await seldonError(await post(`${url}/api/v1.0/predictions`, '{"data":'), 400, /not valid JSON/);
    await seldonError(
      await post(`${url}/api/v1.0/predictions`, { data: { tensor: { shape: [2, 2], values: [1, 2, 3] } } }),
      400,
      /shape \[2,2\] needs 4 values, got 3/,
    );
    await seldonError(await post(`${url}/api/v1.0/predictions`, { binData: 'bm90IGEgdGVuc29y' }), 400, /preprocess/);
    await seldonError(
      await post(`${url}/api/v1.0/predictions`, { data: {} }),
      400,
      /neither ndarray, tensor nor tftensor/,
    );
    await seldonError(await post(`${url}/api/v1.0/predictions`, { strData: 5 }), 400, /strData: expected a string/);
    const text = await post(`${url}/api/v1.0/predictions`, '{}', { 'content-type': 'text/plain' });
    await seldonError(text, 415, /Content-Type: application\/json/);
  });

  it('Seldon feedback: 400 naming the problem without a response; 200 with one (no node of this graph learns)', async () => {
    await seldonError(
      await post(`${url}/api/v1.0/feedback`, { request: {}, reward: 1 }),
      400,
      /feedback has no response/,
    );
    const answer = (await (
      await post(`${url}/api/v1.0/predictions`, { meta: { puid: 'fb-1' }, data: { ndarray: [[1]] } })
    ).json()) as SeldonReply;
    const fb = await post(`${url}/api/v1.0/feedback`, {
      request: { data: { ndarray: [[1]] } },
      response: answer,
      reward: 1,
    });
    assert.equal(fb.status, 200);
    assert.equal(((await fb.json()) as SeldonReply).meta.puid, 'fb-1');
    const graph = (await (await fetch(`${url}/api/v1.0/metadata`)).json()) as {
      name: string;
      models: Record<string, unknown>;
    };
    assert.equal(graph.name, 'test-ensemble');
    assert.deepEqual(Object.keys(graph.models).sort(), ['model-a', 'model-b', 'preprocess']);
    const model = (await (await fetch(`${url}/api/v1.0/metadata/model-a`)).json()) as { name: string };
    assert.equal(model.name, 'model-a');
    await seldonError(await fetch(`${url}/api/v1.0/metadata/nope`), 404, /no model named 'nope'/);
  });

  it('V2: health, server and model metadata, readiness (versioned too)', async () => {
    assert.deepEqual(await (await fetch(`${url}/v2/health/live`)).json(), { live: true });
    assert.deepEqual(await (await fetch(`${url}/v2/health/ready`)).json(), { ready: true });
    const server = (await (await fetch(`${url}/v2`)).json()) as { name: string; extensions: string[] };
    assert.equal(server.name, 'infergraph');
    assert.ok(server.extensions.includes('binary_tensor_data'));
    for (const m of ['/v2/models/test-ensemble', '/v2/models/test-ensemble/versions/1']) {
      const md = (await (await fetch(`${url}${m}`)).json()) as {
        name: string;
        versions: string[];
        inputs: { shape: unknown[] }[];
      };
      assert.equal(md.name, 'test-ensemble');
      assert.deepEqual(md.versions, ['1']);
      assert.ok(
        md.inputs[0]?.shape.every((d) => typeof d === 'number'),
        'REST shapes are numbers',
      );
      assert.deepEqual(await (await fetch(`${url}${m}/ready`)).json(), { name: 'test-ensemble', ready: true });
    }
    await v2Error(await fetch(`${url}/v2/models/nope`), 404, /model 'nope' not found/);
    await v2Error(await fetch(`${url}/v2/models/test-ensemble/versions/7/ready`), 404, /no version '7'/);
    await v2Error(await fetch(`${url}/v3/anything`), 404, /no route GET \/v3\/anything/);
  });

  it('V2 infer: JSON tensors in and out, id and puid echoed', async () => {
    const res = await post(`${url}/v2/models/test-ensemble/infer`, {
      id: 'r-1',
      parameters: { puid: 'my-puid' },
      inputs: [
        {
          name: 'x',
          datatype: 'FP32',
          shape: [2, 2],
          data: [
            [1, 2],
            [3, 4],
          ],
        },
      ],
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await res.json()) as {
      id: string;
      parameters: { puid: string };
      outputs: { shape: number[]; data: number[] }[];
    };
    assert.equal(body.id, 'r-1');
    assert.equal(body.parameters.puid, 'my-puid');
    assert.deepEqual(body.outputs[0]?.shape, [2, 2]);
    assert.deepEqual(body.outputs[0]?.data, [9, 17, 25, 33]);
  });

  it('V2 infer with the binary tensor data extension: raw FP32 in, raw FP32 out', async () => {
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 16 } }],
        outputs: [{ name: 'output', parameters: { binary_data: true } }],
      }),
    );
    const res = await post(
      `${url}/v2/models/test-ensemble/infer`,
      Buffer.concat([header, Buffer.from(new Float32Array([1, 2, 3, 4]).buffer)]),
      {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(header.length),
      },
    );
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    const n = Number(res.headers.get('inference-header-content-length'));
    const all = Buffer.from(await res.arrayBuffer());
    const head = JSON.parse(all.subarray(0, n).toString()) as {
      outputs: { name: string; parameters: { binary_data_size: number } }[];
    };
    assert.equal(head.outputs[0]?.parameters.binary_data_size, 16);
    assert.deepEqual([...new Float32Array(new Uint8Array(all.subarray(n)).buffer)], [9, 17, 25, 33]);
  });

  it('V2 infer errors: wrong model 404, bad JSON 400, wrong shape 400, bad binary sizes 400', async () => {
    const input = { name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] };
    await v2Error(await post(`${url}/v2/models/resnet/infer`, { inputs: [input] }), 404, /model 'resnet' not found/);
    await v2Error(await post(`${url}/v2/models/test-ensemble/infer`, '{"inputs": ['), 400, /not valid JSON/);
    await v2Error(
      await post(`${url}/v2/models/test-ensemble/infer`, { inputs: [{ ...input, data: [1, 2, 3] }] }),
      400,
      /shape \[1,4\] needs 4 FP32 values/,
    );
    await v2Error(
      await post(`${url}/v2/models/test-ensemble/infer`, { inputs: [{ ...input, datatype: 'FP16' }] }),
      400,
      /FP16 is not supported/,
    );
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 64 } }],
      }),
    );
    await v2Error(
      await post(`${url}/v2/models/test-ensemble/infer`, Buffer.concat([header, Buffer.alloc(16)]), {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(header.length),
      }),
      400,
      /binary_data_size: 64 bytes are not in the body/,
    );
    // Still serving after every error.
    assert.equal((await post(`${url}/v2/models/test-ensemble/infer`, { inputs: [input] })).status, 200);
  });

  it("metrics: REST calls in Seldon's server histogram, labelled as Seldon's REST server labels them", async () => {
    const before = parseExposition(await (await fetch(metricsUrl(g, 'test-ensemble-executor'))).text());
    const count = (f: typeof before, service: string, method: string, code: string): number =>
      total(f, 'seldon_api_executor_server_requests_seconds_count', {
        service,
        method,
        code,
        deployment_name: 'test-ensemble',
      });
    const ok0 = count(before, 'predictions', 'post', '200');
    const bad0 = count(before, 'predictions', 'post', '400');
    const v2ok0 = count(before, 'v2-infer', 'post', '200');
    for (let i = 0; i < 3; i++)
      assert.equal((await post(`${url}/api/v1.0/predictions`, { data: { ndarray: [i] } })).status, 200);
    assert.equal((await post(`${url}/api/v1.0/predictions`, '{')).status, 400);
    const v2 = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }] };
    assert.equal((await post(`${url}/v2/models/test-ensemble/infer`, v2)).status, 200);
    await new Promise((r) => setTimeout(r, 50)); // observations land one loop turn late (deferred)
    const after = parseExposition(await (await fetch(metricsUrl(g, 'test-ensemble-executor'))).text());
    assert.equal(count(after, 'predictions', 'post', '200') - ok0, 3);
    assert.equal(count(after, 'predictions', 'post', '400') - bad0, 1);
    assert.equal(count(after, 'v2-infer', 'post', '200') - v2ok0, 1);
    assert.equal(total(after, 'infergraph_executor_in_flight_requests', { service: 'predictions' }), 0);
    // Probes are not requests.
    assert.equal(total(after, 'seldon_api_executor_server_requests_seconds_count', { service: 'v2-ready' }), 0);
  });
});

const LIMITS = `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: rest-limits}
spec:
  deadlineMs: 4000
  maxInFlight: 1
  maxMessageBytes: 65536
  graph:
    name: slow
    type: MODEL
    implementation: sleep
    parameters: {ms: 700}
`;

describe('REST limits: body size and admission refusal with Retry-After (real processes)', () => {
  let dir: string;
  let g: RunningGraph;
  let url: string;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-rest-'));
    writeFileSync(path.join(dir, 'limits.yaml'), LIMITS);
    g = await upGraph(path.join(dir, 'limits.yaml'));
    url = restUrl(g);
  });
  after(async () => {
    await g?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an oversized body is refused with 413 in the door error body, and the server keeps serving', async () => {
    const big = { data: { ndarray: Array.from({ length: 40_000 }, (_, i) => i) } };
    await seldonError(await post(`${url}/api/v1.0/predictions`, big), 413, /too large/);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'x', datatype: 'UINT8', shape: [1, 300_000], parameters: { binary_data_size: 300_000 } }],
      }),
    );
    await v2Error(
      await post(`${url}/v2/models/rest-limits/infer`, Buffer.concat([header, Buffer.alloc(300_000)]), {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(header.length),
      }),
      413,
      /too large/,
    );
    assert.equal((await post(`${url}/api/v1.0/predictions`, { data: { ndarray: [1] } })).status, 200);
  });

  it('beyond spec.maxInFlight: 429 with Retry-After (whole seconds) on both doors, then served again', async () => {
    const slow = post(`${url}/api/v1.0/predictions`, { data: { ndarray: [1] } });
    await new Promise((r) => setTimeout(r, 150));
    const refused = await post(`${url}/api/v1.0/predictions`, { data: { ndarray: [2] } });
    assert.match(refused.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    await seldonError(refused, 429, /executor: 1 requests in flight \(spec\.maxInFlight 1\)/);
    const v2 = await post(`${url}/v2/models/rest-limits/infer`, {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }],
    });
    assert.match(v2.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    await v2Error(v2, 429, /spec\.maxInFlight 1/);
    assert.equal((await slow).status, 200);
    assert.equal((await post(`${url}/api/v1.0/predictions`, { data: { ndarray: [3] } })).status, 200);
  });
});

const TENCH = path.join(SHARED, 'imagenet/dev/n01440764_tench.JPEG');
const MOBILENET = path.join(SHARED, 'models/mobilenetv2-12-int8.onnx');

describe('REST with the MobileNetV2 graph: a JPEG as Seldon binData and as a V2 binary BYTES tensor', () => {
  const skip = !existsSync(TENCH) || !existsSync(MOBILENET);
  let g: RunningGraph | undefined;
  let url = '';
  before(async () => {
    if (skip) return;
    g = await upGraph(path.join(REPO, 'graphs/imagenet-mobilenet.yaml'));
    url = restUrl(g);
  });
  after(async () => {
    await g?.stop();
  });

  it('Seldon binData (base64) answers tench', { skip: skip && `needs ${TENCH} and ${MOBILENET}` }, async () => {
    const res = await post(`${url}/api/v1.0/predictions`, { binData: readFileSync(TENCH).toString('base64') });
    const body = (await res.json()) as { jsonData: { predictions: { label: string; wnid: string }[] } };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.jsonData.predictions[0]?.wnid, 'n01440764');
    assert.match(body.jsonData.predictions[0]?.label ?? '', /tench/);
  });

  it(
    'V2 binary BYTES input (the raw JPEG) answers tench in the declared outputs',
    { skip: skip && `needs ${TENCH}` },
    async () => {
      const jpeg = lengthPrefixed(readFileSync(TENCH));
      const header = Buffer.from(
        JSON.stringify({
          inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: jpeg.length } }],
        }),
      );
      const res = await post(`${url}/v2/models/imagenet-mobilenet/infer`, Buffer.concat([header, jpeg]), {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(header.length),
      });
      const body = (await res.json()) as { outputs: { name: string; datatype: string; data: unknown[] }[] };
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.deepEqual(
        body.outputs.map((o) => [o.name, o.datatype]),
        [
          ['index', 'INT64'],
          ['score', 'FP32'],
          ['label', 'BYTES'],
        ],
      );
      assert.deepEqual(body.outputs[0]?.data, [0]);
      assert.match(String(body.outputs[2]?.data[0]), /tench/);
      const md = (await (await fetch(`${url}/v2/models/imagenet-mobilenet`)).json()) as { outputs: { name: string }[] };
      assert.deepEqual(
        md.outputs.map((o) => o.name),
        ['index', 'score', 'label'],
      );
    },
  );
});
