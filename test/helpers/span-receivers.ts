import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createSocket } from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { field, ThriftReader, type ThriftStruct, type ThriftValue } from './thrift-binary';
import { REPO } from './graph-process';

/**
 * Test receivers that stand where Jaeger or an OpenTelemetry collector would, decoding the real wire formats:
 *  - OTLP/gRPC: opentelemetry.proto.collector.trace.v1.TraceService/Export, from protos/opentelemetry;
 *  - OTLP/HTTP: POST /v1/traces with a protobuf ExportTraceServiceRequest body (same decoder);
 *  - Jaeger collector: POST /api/traces with a thrift binary jaeger.Batch;
 *  - Jaeger agent: UDP datagrams holding a thrift binary Agent.emitBatch(Batch) call.
 * Every receiver turns what it got into the same ReceivedSpan shape, so one set of assertions checks them all.
 */

export type AttrValue = string | number | boolean | (string | number | boolean)[];

export interface ReceivedSpan {
  service: string;
  /** Resource attributes (OTLP) or process tags (Jaeger). */
  resource: Record<string, AttrValue>;
  traceId: string;
  spanId: string;
  /** undefined for a root span */
  parentSpanId: string | undefined;
  name: string;
  kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer' | 'unspecified';
  /** µs since the epoch */
  startUs: number;
  endUs: number;
  attributes: Record<string, AttrValue>;
  status: { code: 'UNSET' | 'OK' | 'ERROR'; message?: string };
}

export interface SpanReceiver {
  readonly kind: string;
  /** What to give an exporter: a URL, or host:port for the Jaeger agent. */
  readonly endpoint: string;
  readonly spans: ReceivedSpan[];
  /** Export requests (batches) received. */
  readonly batches: number;
  /** Resolves once `done(spans)` holds, re-checked on every batch. */
  waitFor(done: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number, what?: string): Promise<void>;
  close(): Promise<void>;
}

class Collected {
  readonly spans: ReceivedSpan[] = [];
  batches = 0;
  private readonly waiters = new Set<() => void>();

  add(spans: ReceivedSpan[]): void {
    this.batches++;
    this.spans.push(...spans);
    for (const w of [...this.waiters]) w();
  }

  waitFor(done: (spans: ReceivedSpan[]) => boolean, timeoutMs = 15_000, what = 'spans'): Promise<void> {
    if (done(this.spans)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!done(this.spans)) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; have ${this.spans.length} spans: ${this.spans.map((s) => `${s.service}:${s.name}`).join(', ')}`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(check);
    });
  }
}

// ---------------------------------------------------------------- OTLP

const hex = (b: Buffer | Uint8Array | undefined): string => Buffer.from(b ?? []).toString('hex');

interface OtlpAnyValue {
  string_value?: string;
  bool_value?: boolean;
  int_value?: string | number;
  double_value?: number;
  array_value?: { values?: OtlpAnyValue[] };
  bytes_value?: Buffer;
  value?: string;
}
interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}
interface OtlpSpan {
  trace_id: Buffer;
  span_id: Buffer;
  parent_span_id: Buffer;
  name: string;
  kind: string;
  start_time_unix_nano: string;
  end_time_unix_nano: string;
  attributes?: OtlpKeyValue[];
  status?: { code?: string; message?: string };
}
interface OtlpRequest {
  resource_spans?: { resource?: { attributes?: OtlpKeyValue[] }; scope_spans?: { spans?: OtlpSpan[] }[] }[];
}

function anyValue(v: OtlpAnyValue | undefined): AttrValue {
  if (!v) return '';
  switch (v.value) {
    case 'string_value':
      return v.string_value ?? '';
    case 'bool_value':
      return v.bool_value ?? false;
    case 'int_value':
      return Number(v.int_value ?? 0);
    case 'double_value':
      return v.double_value ?? 0;
    case 'array_value':
      return (v.array_value?.values ?? []).map((x) => anyValue(x) as string | number | boolean);
    case 'bytes_value':
      return hex(v.bytes_value);
    default:
      return '';
  }
}

const attrs = (kvs: OtlpKeyValue[] | undefined): Record<string, AttrValue> =>
  Object.fromEntries((kvs ?? []).map((kv) => [kv.key, anyValue(kv.value)]));

const KINDS: Record<string, ReceivedSpan['kind']> = {
  SPAN_KIND_INTERNAL: 'internal',
  SPAN_KIND_SERVER: 'server',
  SPAN_KIND_CLIENT: 'client',
  SPAN_KIND_PRODUCER: 'producer',
  SPAN_KIND_CONSUMER: 'consumer',
};
const STATUS: Record<string, ReceivedSpan['status']['code']> = { STATUS_CODE_OK: 'OK', STATUS_CODE_ERROR: 'ERROR' };

function fromOtlp(req: OtlpRequest): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of req.resource_spans ?? []) {
    const resource = attrs(rs.resource?.attributes);
    for (const ss of rs.scope_spans ?? []) {
      for (const s of ss.spans ?? []) {
        const parent = hex(s.parent_span_id);
        const status: ReceivedSpan['status'] = { code: STATUS[s.status?.code ?? ''] ?? 'UNSET' };
        if (s.status?.message) status.message = s.status.message;
        out.push({
          service: String(resource['service.name'] ?? ''),
          resource,
          traceId: hex(s.trace_id),
          spanId: hex(s.span_id),
          parentSpanId: parent || undefined,
          name: s.name,
          kind: KINDS[s.kind] ?? 'unspecified',
          startUs: Number(BigInt(s.start_time_unix_nano) / 1000n),
          endUs: Number(BigInt(s.end_time_unix_nano) / 1000n),
          attributes: attrs(s.attributes),
          status,
        });
      }
    }
  }
  return out;
}

let otlpDef: protoLoader.PackageDefinition | undefined;
function traceService(): grpc.ServiceDefinition {
  if (!otlpDef) {
    const dir = path.join(REPO, 'protos');
    otlpDef = protoLoader.loadSync(path.join(dir, 'opentelemetry/proto/collector/trace/v1/trace_service.proto'), {
      includeDirs: [dir],
      keepCase: true,
      // fixed64 nanoseconds do not fit a double: keep them exact as strings.
      longs: String,
      enums: String,
      defaults: false,
      oneofs: true,
    });
  }
  return otlpDef['opentelemetry.proto.collector.trace.v1.TraceService'] as grpc.ServiceDefinition;
}

export async function startOtlpGrpcReceiver(): Promise<SpanReceiver> {
  const got = new Collected();
  // Collectors take large batches (the OTLP exporter sends up to 512 spans per request, more at shutdown).
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  server.addService(traceService(), {
    Export: (call: grpc.ServerUnaryCall<OtlpRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      got.add(fromOtlp(call.request));
      callback(null, {});
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    kind: 'otlp-grpc',
    endpoint: `http://127.0.0.1:${port}`,
    spans: got.spans,
    get batches() {
      return got.batches;
    },
    waitFor: (d, t, w) => got.waitFor(d, t, w),
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

async function startHttp(
  kind: string,
  route: string,
  handle: (body: Buffer, req: http.IncomingMessage) => { spans: ReceivedSpan[]; reply: Buffer; contentType: string },
  got: Collected,
): Promise<SpanReceiver & { errors: string[] }> {
  const errors: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        if (req.method !== 'POST' || req.url?.split('?')[0] !== route)
          throw new Error(`unexpected ${req.method} ${req.url}`);
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        const { spans, reply, contentType } = handle(body, req);
        got.add(spans);
        res.writeHead(200, { 'content-type': contentType }).end(reply);
      } catch (err) {
        errors.push((err as Error).message);
        res.writeHead(400).end((err as Error).message);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    kind,
    endpoint: `http://127.0.0.1:${port}${route}`,
    spans: got.spans,
    errors,
    get batches() {
      return got.batches;
    },
    waitFor: (d, t, w) => got.waitFor(d, t, w),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function startOtlpHttpReceiver(): Promise<SpanReceiver & { errors: string[] }> {
  const exportDef = (traceService() as unknown as Record<string, protoLoader.MethodDefinition<OtlpRequest, object>>)
    .Export!;
  return startHttp(
    'otlp-http',
    '/v1/traces',
    (body, req) => {
      const type = req.headers['content-type'] ?? '';
      if (!type.startsWith('application/x-protobuf')) throw new Error(`expected application/x-protobuf, got '${type}'`);
      return {
        spans: fromOtlp(exportDef.requestDeserialize(body)),
        reply: exportDef.responseSerialize({}),
        contentType: 'application/x-protobuf',
      };
    },
    new Collected(),
  );
}

// ---------------------------------------------------------------- Jaeger thrift (jaeger-idl thrift/jaeger.thrift)

const u64hex = (v: bigint | undefined): string =>
  BigInt.asUintN(64, v ?? 0n)
    .toString(16)
    .padStart(16, '0');

/** Tag{1 key, 2 vType (STRING 0, DOUBLE 1, BOOL 2, LONG 3, BINARY 4), 3 vStr, 4 vDouble, 5 vBool, 6 vLong, 7 vBinary} */
function jaegerTags(list: ThriftValue[]): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const t of list as ThriftStruct[]) {
    const key = field.string(t, 1) ?? '';
    switch (field.num(t, 2)) {
      case 0:
        out[key] = field.string(t, 3) ?? '';
        break;
      case 1:
        out[key] = field.num(t, 4) ?? 0;
        break;
      case 2:
        out[key] = t.get(5) === true;
        break;
      case 3:
        out[key] = Number(field.i64(t, 6) ?? 0n);
        break;
      default:
        out[key] = Buffer.from((t.get(7) as Buffer | undefined) ?? []).toString('hex');
    }
  }
  return out;
}

/** Batch{1 process: Process{1 serviceName, 2 tags}, 2 spans: list<Span>} */
function fromJaegerBatch(batch: ThriftStruct): ReceivedSpan[] {
  const process = field.struct(batch, 1);
  const service = field.string(process, 1) ?? '';
  const resource = jaegerTags(field.list(process, 2));
  return (field.list(batch, 2) as ThriftStruct[]).map((s) => {
    // Span{1 traceIdLow, 2 traceIdHigh, 3 spanId, 4 parentSpanId, 5 operationName, 6 references, 7 flags,
    //      8 startTime µs, 9 duration µs, 10 tags, 11 logs}
    const tags = jaegerTags(field.list(s, 10));
    const parent = field.i64(s, 4) ?? 0n;
    const startUs = Number(field.i64(s, 8) ?? 0n);
    const code = tags['otel.status_code'];
    const status: ReceivedSpan['status'] = { code: code === 'ERROR' ? 'ERROR' : code === 'OK' ? 'OK' : 'UNSET' };
    if (typeof tags['otel.status_description'] === 'string') status.message = tags['otel.status_description'];
    const kind = tags['span.kind'];
    return {
      service,
      resource,
      traceId: u64hex(field.i64(s, 2)) + u64hex(field.i64(s, 1)),
      spanId: u64hex(field.i64(s, 3)),
      parentSpanId: parent === 0n ? undefined : u64hex(parent),
      name: field.string(s, 5) ?? '',
      kind: kind === 'server' || kind === 'client' || kind === 'producer' || kind === 'consumer' ? kind : 'internal',
      startUs,
      endUs: startUs + Number(field.i64(s, 9) ?? 0n),
      attributes: tags,
      status,
    };
  });
}

/** The collector's HTTP endpoint: POST /api/traces, Content-Type application/x-thrift, body a binary Batch. */
export function startJaegerCollector(): Promise<SpanReceiver & { errors: string[] }> {
  return startHttp(
    'jaeger-collector',
    '/api/traces',
    (body, req) => {
      const type = req.headers['content-type'] ?? '';
      if (type !== 'application/x-thrift') throw new Error(`expected application/x-thrift, got '${type}'`);
      const r = new ThriftReader(body);
      const spans = fromJaegerBatch(r.readStruct());
      if (r.remaining !== 0) throw new Error(`${r.remaining} bytes after the Batch`);
      return { spans, reply: Buffer.alloc(0), contentType: 'text/plain' };
    },
    new Collected(),
  );
}

/** The agent: UDP datagrams, each a binary-protocol call Agent.emitBatch(1: Batch) (oneway, so no reply). */
export async function startJaegerAgent(): Promise<SpanReceiver & { errors: string[] }> {
  const got = new Collected();
  const errors: string[] = [];
  const socket = createSocket('udp4');
  socket.on('message', (msg) => {
    try {
      const r = new ThriftReader(msg);
      const head = r.readMessageBegin();
      if (head.name !== 'emitBatch') throw new Error(`unexpected call ${head.name}`);
      got.add(fromJaegerBatch(field.struct(r.readStruct(), 1)));
    } catch (err) {
      errors.push((err as Error).message);
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  return {
    kind: 'jaeger-agent',
    endpoint: `127.0.0.1:${port}`,
    spans: got.spans,
    errors,
    get batches() {
      return got.batches;
    },
    waitFor: (d, t, w) => got.waitFor(d, t, w),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
