// Payload logging end to end (issue 21): real `infergraph up` graphs log to a real HTTP receiver (node:http) that
// parses each POST with the cloudevents SDK. Request and response join by puid; a JPEG sent as binData arrives
// intact after base64; the request path does not feel a sink that hangs, answers 503 or refuses connections
// (latency against the same graph without logging, alternating requests, a generous ratio bound), and the
// executor's metrics count what was dropped or failed; `up --log-requests FILE` writes JSON lines.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HTTP, type CloudEvent } from 'cloudevents';
import sharp from 'sharp';
import { SeldonClient } from '../../src/client/seldon-client';
import { message } from '../../src/message/message';
import { upGraph, type RunningGraph } from '../helpers/graph-process';
import { parseExposition, total } from '../helpers/prom-text';

type Mode = 'ok' | 'hang' | '503';

interface Receiver {
  url: string;
  events: CloudEvent<unknown>[];
  headers: Record<string, string>[];
  mode: Mode;
  /** Stops listening and cuts open connections: the next send is refused. */
  refuse(): Promise<void>;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const r = { events: [] as CloudEvent<unknown>[], headers: [] as Record<string, string>[], mode: 'ok' as Mode };
  const body = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    });
  const server: Server = createServer((req, res) => {
    void body(req).then((text) => {
      if (req.url?.startsWith('/otlp')) return void res.writeHead(200).end();
      if (r.mode === 'hang') return; // never answers
      if (r.mode === '503') return void res.writeHead(503).end('busy');
      const headers = req.headers as Record<string, string>;
      r.events.push(HTTP.toEvent({ headers, body: text }) as CloudEvent<unknown>);
      r.headers.push(headers);
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return Object.assign(r, {
    url: `http://127.0.0.1:${port}/`,
    refuse: stop,
    close: () => (server.listening ? stop() : Promise.resolve()),
  });
}

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
const post = (url: string, body: unknown): Promise<Response> =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function until<T>(
  what: string,
  f: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 20_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ensemble = (name: string, logger: (l: string) => string): string => `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: ${name}}
spec:
  deadlineMs: 10000
${logger('  logger: {mode: all$URL}\n')}  graph:
    name: ensemble
    type: COMBINER
    implementation: sum-combiner
    parameters: {mode: mean}
${logger('    logger: {mode: request$URL}\n')}    children:
      - name: model-a
        type: MODEL
        implementation: scale
        parameters: {factor: 3}
${logger('        logger: {mode: all$URL}\n')}      - name: model-b
        type: MODEL
        implementation: scale
        parameters: {factor: 5}
`;

const jpegGraph = (name: string, url: string): string => `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: ${name}}
spec:
  logger: {mode: all${url}}
  graph:
    name: jpeg-input
    type: TRANSFORMER
    implementation: jpeg-input
    logger: {mode: request${url}}
`;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

describe('payload logging to a real CloudEvents receiver', () => {
  let dir = '';
  let rx: Receiver;
  let logged: RunningGraph | undefined;
  let plain: RunningGraph | undefined;
  let jpegG: RunningGraph | undefined;
  let jpeg: Buffer;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'request-log-'));
    rx = await startReceiver();
    const urlOf = (l: string): string => l.replace('$URL', `, url: "${rx.url}"`);
    writeFileSync(path.join(dir, 'logged.yaml'), ensemble('logged', urlOf));
    writeFileSync(
      path.join(dir, 'plain.yaml'),
      ensemble('plain', () => ''),
    );
    writeFileSync(path.join(dir, 'jpeg.yaml'), jpegGraph('jpeg', `, url: "${rx.url}"`));
    jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#468' } })
      .jpeg()
      .toBuffer();
    // A small queue so that a sink that hangs fills it within the test; traces exported to the receiver's /otlp.
    [logged, plain, jpegG] = await Promise.all([
      upGraph(path.join(dir, 'logged.yaml'), ['--request-log-queue', '20']),
      upGraph(path.join(dir, 'plain.yaml')),
      upGraph(path.join(dir, 'jpeg.yaml'), ['--trace-exporter', 'otlp-http', '--trace-endpoint', `${rx.url}otlp`]),
    ]);
  });
  after(async () => {
    await Promise.all([logged?.stop(), plain?.stop(), jpegG?.stop()]);
    await rx?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('request and response join by puid; every hop of a logged node and the graph itself are events', async () => {
    const res = await post(`${restUrl(logged!)}/api/v1.0/predictions`, { data: { ndarray: [[1, 2]] } });
    assert.equal(res.status, 200);
    const reply = (await res.json()) as { meta: { puid: string }; data: { ndarray: number[][] } };
    assert.deepEqual(reply.data.ndarray, [[4, 8]]);
    const puid = reply.meta.puid;
    const mine = await until('5 events of the request', () => {
      const e = rx.events.filter((x) => x.requestid === puid);
      return e.length >= 5 && e;
    });
    const key = (e: CloudEvent<unknown>): string => `${String(e.modelid)} ${e.type.split('.').pop()}`;
    assert.deepEqual(mine.map(key).sort(), [
      'ensemble request',
      'logged request',
      'logged response',
      'model-a request',
      'model-a response',
    ]);
    for (const e of mine) {
      assert.equal(e.id, puid);
      assert.equal(e.inferenceservicename, 'logged');
      assert.equal(e.endpoint, 'default');
      assert.equal(e.source, 'urn:infergraph:default:logged');
      assert.equal(e.datacontenttype, 'application/json');
    }
    // Binary content mode: the attributes travelled as ce-* headers.
    const h = rx.headers[rx.events.findIndex((e) => e.requestid === puid)]!;
    for (const k of [
      'ce-id',
      'ce-type',
      'ce-source',
      'ce-requestid',
      'ce-modelid',
      'ce-inferenceservicename',
      'ce-endpoint',
    ])
      assert.ok(h[k], `header ${k} missing: ${JSON.stringify(h)}`);
    const graphReq = mine.find((e) => key(e) === 'logged request')!.data as { data: { ndarray: number[][] } };
    const graphRes = mine.find((e) => key(e) === 'logged response')!.data as { data: { ndarray: number[][] } };
    assert.deepEqual(graphReq.data.ndarray, [[1, 2]]);
    assert.deepEqual(graphRes.data.ndarray, [[4, 8]], 'the answer as the client got it (ndarray in, ndarray out)');
    const agg = mine.find((e) => key(e) === 'ensemble request')!;
    assert.equal(agg.method, 'aggregate');
    assert.equal((agg.data as { seldonMessages: unknown[] }).seldonMessages.length, 2, "the combiner's inputs");
    assert.equal(mine.find((e) => key(e) === 'model-a response')!.method, 'predict');
  });

  it('a V2 request is logged in the Open Inference Protocol JSON', async () => {
    const res = await post(`${restUrl(logged!)}/v2/models/logged/infer`, {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }],
    });
    assert.equal(res.status, 200);
    const out = (await res.json()) as { id: string; parameters?: Record<string, unknown> };
    const graphEvents = await until('the V2 pair', () => {
      const e = rx.events.filter((x) => x.modelid === 'logged' && x.protocol === 'v2');
      return e.length >= 2 && e;
    });
    const req = graphEvents.find((e) => e.type.endsWith('request'))!;
    const resp = graphEvents.find((e) => e.type.endsWith('response'))!;
    assert.equal(req.requestid, resp.requestid);
    assert.deepEqual((req.data as { inputs: { data: number[]; datatype: string }[] }).inputs[0], {
      name: 'x',
      datatype: 'FP32',
      shape: [1, 2],
      data: [1, 2],
    });
    assert.deepEqual((resp.data as { outputs: { data: number[] }[] }).outputs[0]!.data, [4, 8]);
    assert.ok(out.id !== undefined);
  });

  it('a JPEG sent as binData arrives intact after base64, with its media type', async () => {
    const res = await post(`${restUrl(jpegG!)}/api/v1.0/predictions`, { binData: jpeg.toString('base64') });
    assert.equal(res.status, 200, await res.clone().text());
    const puid = ((await res.json()) as { meta: { puid: string } }).meta.puid;
    const mine = await until('3 JPEG events', () => {
      const e = rx.events.filter((x) => x.requestid === puid);
      return e.length >= 3 && e;
    });
    const requests = mine.filter((e) => e.type === 'io.seldon.serving.inference.request');
    assert.equal(requests.length, 2, 'the graph and its jpeg-input node');
    for (const e of requests) {
      assert.deepEqual(Buffer.from((e.data as { binData: string }).binData, 'base64'), jpeg);
      assert.equal(e.bincontenttype, 'image/jpeg');
    }
    const response = mine.find((e) => e.type.endsWith('response'))!;
    const tf = (response.data as { data: { tftensor: { dtype: string; tensorContent: string } } }).data.tftensor;
    const width = { DT_UINT8: 1, DT_FLOAT: 4 }[tf.dtype];
    assert.ok(width, `jpeg-input answers uint8 or float32, got ${tf.dtype}`);
    assert.equal(
      Buffer.from(tf.tensorContent, 'base64').length,
      3 * 224 * 224 * width,
      'the whole tensor, under the 1 MiB cap',
    );
  });

  it('events of a traced request (gRPC Predict) carry its W3C traceparent, one trace for all of them', async () => {
    const client = new SeldonClient(jpegG!.address);
    try {
      const reply = await client.predict(message({ kind: 'bin', data: jpeg }), { timeoutMs: 30_000 });
      const puid = reply.meta.puid;
      const mine = await until('3 traced events', () => {
        const e = rx.events.filter((x) => x.requestid === puid);
        return e.length >= 3 && e;
      });
      for (const e of mine) assert.match(String(e.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
      const traces = new Set(mine.map((e) => String(e.traceparent).split('-')[1]));
      assert.equal(traces.size, 1, `one trace for the request's events: ${[...traces].join(', ')}`);
    } finally {
      client.close();
    }
  });

  /** Alternating requests to the logged graph and the plain one: medians of each, ms. */
  async function latencies(n: number): Promise<{ logged: number; plain: number }> {
    const l: number[] = [];
    const p: number[] = [];
    const one = async (g: RunningGraph, into: number[]): Promise<void> => {
      const t0 = performance.now();
      const res = await post(`${restUrl(g)}/api/v1.0/predictions`, { data: { ndarray: [[1, 2]] } });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      into.push(performance.now() - t0);
    };
    for (let i = 0; i < n; i++) {
      await one(logged!, l);
      await one(plain!, p);
    }
    return { logged: median(l), plain: median(p) };
  }

  const metric = async (name: string): Promise<number> =>
    total(parseExposition(await (await fetch(metricsUrl(logged!, 'logged-executor'))).text()), name, {
      deployment_name: 'logged',
    });

  for (const mode of ['hang', '503', 'refused'] as const) {
    it(`a sink that ${mode === 'hang' ? 'hangs' : mode === '503' ? 'answers 503' : 'refuses connections'} costs the caller nothing measurable, and is counted`, async () => {
      const dropped0 = await metric('infergraph_request_log_dropped_total');
      const failed0 = await metric('infergraph_request_log_failed_total');
      const retries0 = await metric('infergraph_request_log_retries_total');
      if (mode === 'refused') await rx.refuse();
      else rx.mode = mode;
      await latencies(5); // warm
      const m = await latencies(40);
      // Generous: the logged graph's median within 2x the plain one's plus 5 ms (both are a few ms on loopback).
      assert.ok(m.logged <= 2 * m.plain + 5, `logged ${m.logged.toFixed(2)} ms vs plain ${m.plain.toFixed(2)} ms`);
      // 45 requests x 4 events; the queue holds 20 per sink: a hanging sink (2 s per try) must drop.
      if (mode === 'hang')
        assert.ok((await metric('infergraph_request_log_dropped_total')) > dropped0, 'drops counted');
      else
        await until(
          'failures or retries counted',
          async () =>
            (await metric('infergraph_request_log_retries_total')) > retries0 ||
            (await metric('infergraph_request_log_failed_total')) > failed0,
        );
      const depth = await metric('infergraph_request_log_queue_depth');
      assert.ok(depth >= 0 && depth <= 20, `queue depth ${depth} within its bound`);
    });
  }
});

describe('payload logging to a JSON-lines file (up --log-requests)', () => {
  it('writes one CloudEvent per line, request and response joined by puid', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'request-log-file-'));
    const file = path.join(dir, 'events.jsonl');
    let g: RunningGraph | undefined;
    try {
      writeFileSync(path.join(dir, 'g.yaml'), jpegGraph('filed', ''));
      g = await upGraph(path.join(dir, 'g.yaml'), ['--log-requests', file]);
      const jpeg = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#abc' } })
        .jpeg()
        .toBuffer();
      const res = await post(`${restUrl(g)}/api/v1.0/predictions`, { binData: jpeg.toString('base64') });
      assert.equal(res.status, 200);
      const puid = ((await res.json()) as { meta: { puid: string } }).meta.puid;
      const lines = await until('3 lines', () => {
        if (!existsSync(file)) return false;
        const l = readFileSync(file, 'utf8').split('\n').filter(Boolean);
        return l.length >= 3 && l;
      });
      const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.ok(events.every((e) => e.specversion === '1.0' && e.requestid === puid && e.id === puid));
      assert.deepEqual(events.map((e) => `${String(e.modelid)} ${String(e.type)}`).sort(), [
        'filed io.seldon.serving.inference.request',
        'filed io.seldon.serving.inference.response',
        'jpeg-input io.seldon.serving.inference.request',
      ]);
      const req = events.find((e) => e.modelid === 'filed' && String(e.type).endsWith('request'))!;
      assert.deepEqual(Buffer.from((req.data as { binData: string }).binData, 'base64'), jpeg);
    } finally {
      await g?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a logger without url and no default sink is refused before anything starts, with the fix in the message', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'request-log-nosink-'));
    try {
      writeFileSync(path.join(dir, 'g.yaml'), jpegGraph('nosink', ''));
      await assert.rejects(
        upGraph(path.join(dir, 'g.yaml'), [], { REQUEST_LOGGER_DEFAULT_ENDPOINT: '' }, 20_000),
        (err: Error) => {
          assert.match(err.message, /spec\.logger: no url, and no default sink/);
          assert.match(err.message, /--log-requests/);
          return true;
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
