import type { ModelMetadata } from '../components/api';
import { Code, InferError, unimplemented, type HopFields } from '../errors';
import type { HopInput, HopOptions, HopReply, NodeClient, NodeMethod } from '../graph/node-client';
import type { GraphSpec, NodeSpec } from '../graph/spec';
import { codeOfHttpStatus } from '../http/status';
import type { InferMessage, TensorEncoding } from '../message/message';
import { containerCodec } from '../protocol/hop-codec';
import { seldonFromJson, seldonToJson } from '../protocol/seldon/json';
import { feedbackToJson } from '../protocol/seldon/feedback';
import type { FeedbackMessage } from '../message/feedback';
import { metadataRpc, modelMetadataFromWire } from '../protocol/seldon/metadata';

/**
 * NodeClient over Seldon Core v1's REST node API — what a model image built on Seldon's Python wrapper serves on
 * PREDICTIVE_UNIT_HTTP_SERVICE_PORT, and what Seldon's executor calls when a deployment says `transport: rest`:
 * POST /predict, /transform-input, /transform-output, /route, /aggregate with a SeldonMessage (a SeldonMessageList
 * for /aggregate) as a JSON body (`Content-Type: application/json`, as Seldon's executor sends it; the wrapper also
 * takes a `json` form field), GET /metadata. The walk's deadline and abort signal end the request; a failed call
 * becomes an InferError naming the node and the URL, with the gRPC code of its HTTP status (src/http/status.ts) and
 * the wrapper's own `status.info` / `reason` when its body has them.
 */

const PATHS: Record<NodeMethod, string> = {
  predict: '/predict',
  transformInput: '/transform-input',
  transformOutput: '/transform-output',
  route: '/route',
  aggregate: '/aggregate',
  sendFeedback: '/send-feedback',
};

/** The longest piece of a non-JSON error body (a Flask HTML page, a proxy's text) quoted in the message. */
const BODY_SNIPPET = 300;

/**
 * Base URLs from an address as the executor is given it: `http://host:port` (an `endpoint:`), plain `host:port`,
 * gRPC-style `dns:///host:port` (a Kubernetes Service) or the runner's `ipv4:a:p,b:p` list of replicas.
 */
export function restBaseUrls(address: string): string[] {
  const a = address.replace(/\/+$/, '');
  if (/^https?:\/\//.test(a)) return [a];
  const bare = a.replace(/^dns:\/\/\/?/, '').replace(/^ipv[46]:/, '');
  return bare
    .split(',')
    .filter(Boolean)
    .map((hp) => `http://${hp}`);
}

/** True for an address that names Seldon's REST node API (an `endpoint: http://host:port`). */
export const isRestAddress = (address: string | undefined): boolean => !!address && /^https?:\/\//.test(address);

export class RestNodeClient implements NodeClient {
  private readonly next = new Map<string, number>();

  constructor(
    private readonly graph: GraphSpec,
    private readonly addresses: Record<string, string>,
  ) {}

  /** Tensors go as the client sent them (ndarray, tensor), else as `tensor`: a wrapper decodes tftensor only with TensorFlow. */
  private encodingOf(m: InferMessage): TensorEncoding {
    const sent = m.payload.kind === 'tensor' ? m.payload.encoding : undefined;
    return sent === 'ndarray' || sent === 'tensor' ? sent : containerCodec(this.graph.codec);
  }

  async call<M extends NodeMethod>(node: NodeSpec, method: M, input: HopInput<M>, opts: HopOptions): Promise<HopReply> {
    const hop: HopFields = { node: node.name, method };
    const url = `${this.base(node)}${PATHS[method]}`;
    const context = `node '${node.name}' (REST POST ${url})`;
    let body: string;
    try {
      const one = input;
      body = JSON.stringify(
        method === 'sendFeedback'
          ? feedbackToJson(one as FeedbackMessage, containerCodec(this.graph.codec))
          : Array.isArray(one)
            ? { seldonMessages: one.map((m) => seldonToJson(m, this.encodingOf(m))) }
            : seldonToJson(one as InferMessage, this.encodingOf(one as InferMessage)),
      );
    } catch (e) {
      throw new InferError(
        Code.INTERNAL,
        `${context}: cannot encode the request as JSON: ${(e as Error).message}`,
        hop,
      );
    }
    const json = await this.fetchJson(url, context, hop, opts, { method: 'POST', body });
    try {
      return { message: seldonFromJson(json) };
    } catch (e) {
      throw new InferError(Code.INTERNAL, `${context}: bad reply: ${(e as Error).message}`, { ...hop, cause: e });
    }
  }

  /** GET /metadata: the wrapper's init_metadata, which has the ModelMetadata fields. */
  async metadata(node: NodeSpec, opts: HopOptions): Promise<ModelMetadata> {
    const hop = { node: node.name };
    if (!metadataRpc(node.type))
      throw unimplemented(`node '${node.name}' (Metadata): a ${node.type} node serves no Metadata`);
    const url = `${this.base(node)}/metadata`;
    const json = await this.fetchJson(url, `node '${node.name}' (REST GET ${url})`, hop, opts, { method: 'GET' });
    return modelMetadataFromWire(json ?? {}, node.name);
  }

  close(): void {
    this.next.clear();
  }

  private base(node: NodeSpec): string {
    const address = this.addresses[node.name] ?? node.endpoint;
    if (!address) throw new InferError(Code.FAILED_PRECONDITION, `no address known for node '${node.name}'`);
    const urls = restBaseUrls(address);
    // Round-robin over replicas the address lists (a Service name balances by itself through DNS and keep-alive).
    const i = this.next.get(node.name) ?? 0;
    this.next.set(node.name, (i + 1) % Math.max(1, urls.length));
    return urls[i % urls.length] ?? `http://${address}`;
  }

  private async fetchJson(
    url: string,
    context: string,
    hop: HopFields,
    opts: HopOptions,
    init: { method: 'GET' | 'POST'; body?: string },
  ): Promise<unknown> {
    if (opts.signal.aborted) throw new InferError(Code.CANCELLED, `${context}: cancelled before the call`, hop);
    const left = opts.deadline - Date.now();
    if (left <= 0) throw new InferError(Code.DEADLINE_EXCEEDED, `${context}: deadline passed before the call`, hop);
    const timeout = AbortSignal.timeout(left);
    const signal = AbortSignal.any([opts.signal, timeout]);
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method: init.method,
        signal,
        ...(init.body === undefined
          ? {}
          : { body: init.body, headers: { 'content-type': 'application/json', accept: 'application/json' } }),
      });
      text = await res.text();
    } catch (e) {
      if (opts.signal.aborted) throw new InferError(Code.CANCELLED, `${context}: cancelled`, { ...hop, cause: e });
      if (timeout.aborted)
        throw new InferError(Code.DEADLINE_EXCEEDED, `${context}: no answer within the deadline (${left} ms)`, {
          ...hop,
          cause: e,
        });
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e as Error).message;
      throw new InferError(Code.UNAVAILABLE, `${context}: node unreachable: ${why}`, { ...hop, cause: e });
    }
    let json: unknown;
    let parsed = false;
    try {
      json = JSON.parse(text);
      parsed = true;
    } catch {
      // judged below
    }
    const status = parsed ? failureStatus(json) : undefined;
    if (!res.ok || status) {
      const code = res.ok
        ? codeOfHttpStatus(typeof status?.code === 'number' && status.code > 0 ? status.code : 500)
        : codeOfHttpStatus(res.status);
      const said = status
        ? `${typeof status.info === 'string' ? status.info : JSON.stringify(status.info ?? 'no info')}${typeof status.reason === 'string' && status.reason ? ` (${status.reason})` : ''}`
        : snippet(text);
      const retry = res.headers.get('retry-after');
      const retryAfterMs = retry && /^\d+$/.test(retry) ? Number(retry) * 1000 : undefined;
      throw new InferError(code, `${context}: HTTP ${res.status}: ${said}`, {
        ...hop,
        ...(code === Code.RESOURCE_EXHAUSTED && retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });
    }
    if (!parsed) throw new InferError(Code.INTERNAL, `${context}: bad reply: not JSON: ${snippet(text)}`, hop);
    return json;
  }
}

/** A SeldonMessage whose status says FAILURE (Seldon's wrapper writes `status: 1`, its executor `"FAILURE"`). */
function failureStatus(j: unknown): { code?: unknown; info?: unknown; reason?: unknown } | undefined {
  if (typeof j !== 'object' || j === null) return undefined;
  const s = (j as { status?: unknown }).status;
  if (typeof s !== 'object' || s === null) return undefined;
  const st = (s as { status?: unknown }).status;
  return st === 'FAILURE' || st === 1 ? s : undefined;
}

function snippet(text: string): string {
  const plain = text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (!plain) return 'empty body';
  return plain.length > BODY_SNIPPET ? `${plain.slice(0, BODY_SNIPPET)}…` : plain;
}
