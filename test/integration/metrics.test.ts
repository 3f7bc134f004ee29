import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SeldonClient } from '../../src/client/seldon-client';
import { Code, InferError } from '../../src/errors';
import { fromNumbers } from '../../src/tensor/tensor';
import { REPO, upGraph, type RunningGraph } from '../helpers/graph-process';
import { parseExposition, total, type Family } from '../helpers/prom-text';
import { v2Client, type V2Client } from '../helpers/v2-client';

const NODES = ['top1', 'preprocess', 'ensemble', 'model-a', 'model-b'];
const EXECUTOR = 'test-ensemble-executor';

async function scrape(url: string): Promise<{ text: string; families: Map<string, Family> }> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, families: parseExposition(text) };
}

describe('Prometheus /metrics on every process of test-ensemble while it serves', () => {
  let g: RunningGraph;
  let seldon: SeldonClient;
  let v2: V2Client;
  const urls = new Map<string, string>();
  const OK = 7;
  const BAD = 3;
  const V2_OK = 2;

  before(async () => {
    g = await upGraph(path.join(REPO, 'graphs/test-ensemble.yaml'));
    for (const line of g.stdout) {
      const m = /^metrics (\S+) at (http:\/\/\S+\/metrics)$/.exec(line);
      if (m) urls.set(m[1] as string, m[2] as string);
    }
    seldon = new SeldonClient(g.address);
    v2 = v2Client(g.address);
    for (let i = 0; i < OK; i++)
      await seldon.predict({ kind: 'tensor', tensor: fromNumbers('float32', [1, 2], [i, 1]) });
    for (let i = 0; i < BAD; i++) {
      const err = await seldon.predict({ kind: 'bin', data: Buffer.from('not a tensor') }).catch((e: unknown) => e);
      assert.ok(err instanceof InferError && err.code === Code.INVALID_ARGUMENT);
    }
    for (let i = 0; i < V2_OK; i++) {
      await v2.call('ModelInfer', {
        model_name: 'test-ensemble',
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1], contents: { fp32_contents: [i] } }],
      });
    }
    await v2.call('ModelInfer', { model_name: 'nope', inputs: [] }).catch(() => undefined);
  });
  after(async () => {
    seldon?.close();
    v2?.close();
    await g?.stop();
  });

  it('every process prints its metrics address at start-up', () => {
    assert.deepEqual([...urls.keys()].sort(), [...NODES, EXECUTOR].sort());
    for (const u of urls.values()) assert.match(u, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  });

  it("executor: Seldon's server histogram counts every request by service and code; in-flight back to 0", async () => {
    const { families } = await scrape(urls.get(EXECUTOR) as string);
    const count = (service: string, code: string): number =>
      total(families, 'seldon_api_executor_server_requests_seconds_count', {
        service,
        code,
        deployment_name: 'test-ensemble',
        predictor_name: 'default',
        method: 'unary',
      });
    assert.equal(count('/seldon.protos.Seldon/Predict', 'OK'), OK);
    assert.equal(count('/seldon.protos.Seldon/Predict', 'InvalidArgument'), BAD);
    assert.equal(count('/inference.GRPCInferenceService/ModelInfer', 'OK'), V2_OK);
    assert.equal(count('/inference.GRPCInferenceService/ModelInfer', 'NotFound'), 1);
    // Health checks (the runner's, the executor's watches) are not requests.
    assert.equal(
      total(families, 'seldon_api_executor_server_requests_seconds_count', { service: '/grpc.health.v1.Health/Check' }),
      0,
    );
    assert.equal(total(families, 'infergraph_executor_in_flight_requests'), 0);
    assert.equal(families.get('seldon_api_executor_server_requests_seconds')?.type, 'histogram');
    assert.ok(total(families, 'process_cpu_user_seconds_total') > 0, 'process metrics');
    assert.ok(families.has('nodejs_eventloop_lag_seconds'));
  });

  it('executor: hop histograms (Seldon client, transport, compute) count every call per node and status', async () => {
    const { families } = await scrape(urls.get(EXECUTOR) as string);
    const served = OK + V2_OK;
    for (const node of NODES) {
      const hop = (code: string): number =>
        total(families, 'seldon_api_executor_client_requests_seconds_count', { model_name: node, code });
      const expectedBad = node === 'preprocess' ? BAD : 0;
      assert.equal(hop('OK'), served, `${node} OK`);
      assert.equal(hop('InvalidArgument'), expectedBad, `${node} InvalidArgument`);
      assert.equal(
        total(families, 'seldon_api_executor_client_requests_seconds_count', { model_name: node }),
        served + expectedBad,
        node,
      );
      // Compute comes from the node's trailer, which only answered calls carry.
      assert.equal(
        total(families, 'infergraph_hop_compute_seconds_count', { model_name: node }),
        served,
        `${node} compute`,
      );
      assert.equal(
        total(families, 'infergraph_hop_transport_seconds_count', { model_name: node }),
        served,
        `${node} transport`,
      );
      const hopSum = total(families, 'seldon_api_executor_client_requests_seconds_sum', {
        model_name: node,
        code: 'OK',
      });
      const computeSum = total(families, 'infergraph_hop_compute_seconds_sum', { model_name: node });
      const transportSum = total(families, 'infergraph_hop_transport_seconds_sum', { model_name: node });
      assert.ok(
        computeSum > 0 && transportSum > 0 && computeSum + transportSum <= hopSum * 1.01,
        `${node}: ${computeSum} + ${transportSum} vs ${hopSum}`,
      );
      assert.equal(total(families, 'infergraph_hop_in_flight_requests', { model_name: node }), 0);
    }
    const labels = families.get('seldon_api_executor_client_requests_seconds')?.samples[0]?.labels ?? {};
    assert.deepEqual(Object.keys(labels).sort(), [
      'code',
      'deployment_name',
      'le',
      'method',
      'model_image',
      'model_name',
      'model_version',
      'predictor_name',
      'predictor_version',
      'service',
    ]);
  });

  it('nodes: request and compute histograms by method and code, in-flight 0, process metrics', async () => {
    for (const node of NODES) {
      const { families } = await scrape(urls.get(node) as string);
      const bad = node === 'preprocess' ? BAD : 0;
      assert.equal(total(families, 'infergraph_node_requests_seconds_count', { node, code: 'OK' }), OK + V2_OK, node);
      assert.equal(
        total(families, 'infergraph_node_requests_seconds_count', { node, code: 'InvalidArgument' }),
        bad,
        node,
      );
      assert.equal(total(families, 'infergraph_node_compute_seconds_count', { node, code: 'OK' }), OK + V2_OK, node);
      assert.equal(total(families, 'infergraph_node_in_flight_requests', { node }), 0);
      assert.ok(total(families, 'process_resident_memory_bytes') > 0);
      const methods = new Set(families.get('infergraph_node_requests_seconds')?.samples.map((s) => s.labels.method));
      assert.equal(methods.size, 1, `${node}: one method (${[...methods].join(', ')})`);
      assert.match([...methods][0] as string, /^\/seldon\.protos\.\w+\/\w+$/);
    }
  });

  it('answers 404 elsewhere than /metrics', async () => {
    const res = await fetch((urls.get(EXECUTOR) as string).replace(/\/metrics$/, '/'));
    assert.equal(res.status, 404);
  });
});
