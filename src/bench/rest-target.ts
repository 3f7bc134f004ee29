import http from 'node:http';
import { emptyMeta, type InferMessage, type Payload } from '../message/message';
import { seldonFromJson, seldonToJson } from '../protocol/seldon/json';
import { rawBytes } from '../protocol/v2/infer';
import { v2TypeOf } from '../protocol/v2/datatype';
import { HEADER_LENGTH } from '../protocol/v2/json';
import type { BenchTarget, Sample } from './target';

/**
 * The executor's REST front doors as a bench target, over node:http with keep-alive (the leanest client Node ships,
 * so what is measured is the server's REST path, not a heavy client):
 *  - rest-binary: V2 infer with the binary tensor data extension (a JPEG as one raw BYTES element);
 *  - rest-json: Seldon's /api/v1.0/predictions with the payload in JSON (a JPEG as base64 binData, a tensor as
 *    tftensor with base64 tensorContent): what base64 costs against binary.
 * The body is encoded once.
 */

export const BENCH_APIS = ['grpc', 'rest-binary', 'rest-json'] as const;
export type BenchApi = (typeof BENCH_APIS)[number];

export class RestTarget implements BenchTarget {
  readonly label: string;
  private readonly agent: http.Agent;
  private readonly body: Buffer;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  private first: InferMessage | undefined;

  constructor(
    readonly url: string,
    graphName: string,
    payload: Payload,
    private readonly api: 'rest-binary' | 'rest-json',
    private readonly timeoutMs: number,
  ) {
    this.label = `${api} ${url}`;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    if (api === 'rest-json') {
      this.path = '/api/v1.0/predictions';
      this.body = Buffer.from(JSON.stringify(seldonToJson({ meta: emptyMeta(), payload }, 'tftensor')));
      this.headers = { 'content-type': 'application/json' };
    } else {
      this.path = `/v2/models/${graphName}/infer`;
      const { header, data } = v2Binary(payload);
      this.body = Buffer.concat([header, data]);
      this.headers = { 'content-type': 'application/octet-stream', [HEADER_LENGTH]: String(header.length) };
    }
  }

  send(): Promise<Sample> {
    const t0 = performance.now();
    const u = new URL(this.url);
    return new Promise((resolve) => {
      const req = http.request(
        {
          host: u.hostname,
          port: u.port,
          path: this.path,
          method: 'POST',
          agent: this.agent,
          timeout: this.timeoutMs,
          headers: { ...this.headers, 'content-length': String(this.body.length) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const ms = performance.now() - t0;
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) {
              const retry = Number(res.headers['retry-after']);
              const s: Sample = { ok: false, ms, error: `HTTP ${res.statusCode}: ${text.slice(0, 200)}` };
              if (Number.isFinite(retry)) s.retryAfterMs = retry * 1000;
              return resolve(s);
            }
            if (!this.first) this.first = this.answer(text);
            resolve({ ok: true, ms });
          });
        },
      );
      req.on('error', (err) => resolve({ ok: false, ms: performance.now() - t0, error: err.message }));
      req.end(this.body);
    });
  }

  /** The first answer as a message (for the report): Seldon's as it is, V2's outputs as JSON. */
  private answer(text: string): InferMessage | undefined {
    try {
      const j = JSON.parse(text) as unknown;
      if (this.api === 'rest-json') return seldonFromJson(j);
      return { meta: emptyMeta(), payload: { kind: 'json', data: j as never } };
    } catch {
      return undefined;
    }
  }

  firstReply(): InferMessage | undefined {
    return this.first;
  }

  close(): Promise<void> {
    this.agent.destroy();
    return Promise.resolve();
  }
}

/** The payload as one binary V2 input: a file as one BYTES element, a tensor in its own datatype. */
function v2Binary(p: Payload): { header: Buffer; data: Buffer } {
  let input: { name: string; datatype: string; shape: number[] };
  let data: Uint8Array;
  if (p.kind === 'bin') {
    data = rawBytes({ dtype: 'string', shape: [1], data: [p.data] });
    input = { name: 'image', datatype: 'BYTES', shape: [1] };
  } else if (p.kind === 'tensor') {
    data = rawBytes(p.tensor);
    input = { name: p.names?.[0] ?? 'input', datatype: v2TypeOf(p.tensor.dtype).name, shape: p.tensor.shape };
  } else {
    throw new Error(`rest-binary sends a file or a tensor, not a ${p.kind} payload`);
  }
  const header = Buffer.from(
    JSON.stringify({ inputs: [{ ...input, parameters: { binary_data_size: data.byteLength } }] }),
  );
  return { header, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
}
