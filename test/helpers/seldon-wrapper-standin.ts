/**
 * A stand-in for a model image built on Seldon Core v1's Python wrapper (seldon-core-microservice), for tests: the
 * real one cannot be installed here. It reads Seldon's environment contract the way the wrapper does
 * (PREDICTIVE_UNIT_HTTP_SERVICE_PORT, default 9000; PREDICTIVE_UNIT_GRPC_SERVICE_PORT, default 5000;
 * PREDICTIVE_UNIT_METRICS_SERVICE_PORT, default 6000, at PREDICTIVE_UNIT_METRICS_ENDPOINT; PREDICTIVE_UNIT_PARAMETERS,
 * the typed list [{name, value, type}]; PREDICTIVE_UNIT_ID, PREDICTOR_ID, SELDON_DEPLOYMENT_ID) and serves the
 * wrapper's node API on both:
 *   REST: POST /predict, /transform-input, /transform-output, /route, /aggregate, /send-feedback with a SeldonMessage
 *         as a JSON body or a `json` form field (the wrapper's get_request); GET /health/ping ("pong"),
 *         /health/status, /metadata;
 *   gRPC: seldon.protos Model, Transformer, OutputTransformer, Router, Combiner, Generic (prediction.proto).
 * Deliberately independent of infergraph's src/: it parses Seldon's JSON and protobuf messages itself (ndarray and
 * tensor; tftensor is refused as the wrapper refuses it without TensorFlow), so it cannot share a misreading with
 * the executor. Failures behave as the wrapper's: a predict input whose first value is -1 raises Seldon's
 * SeldonMicroserviceException (REST 400 with {"status": {"status": 1, "info", "code": -1, "reason":
 * "MICROSERVICE_BAD_DATA"}}); -2 raises any other exception (REST 500 with Flask's HTML page; gRPC UNKNOWN
 * "Exception calling application: …", as grpcio reports a servicer's exception).
 *
 * The model: predict multiplies by parameter `scale` (FLOAT, default 1) after sleeping `delay_ms` (INT, default 0);
 * transform-input / transform-output add `offset`; route answers `route` (INT, default 0); aggregate averages.
 * Every answer's meta.tags names the unit, predictor, deployment and transport, so tests see the env was read.
 * Prints one JSON line {"http": port, "grpc": port, "metrics": port} once listening (ports 0 pick free ones).
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import path from 'node:path';

type Obj = Record<string, unknown>;
const env = process.env;
const HOST = env.STANDIN_HOST ?? '0.0.0.0';
const port = (name: string, dflt: number): number => Number(env[name] ?? dflt);

/** The wrapper's parameter parsing: each value cast by its type; a bad one stops the process at start-up. */
function parameters(): Record<string, unknown> {
  const raw = env.PREDICTIVE_UNIT_PARAMETERS;
  if (!raw) return {};
  const list = JSON.parse(raw) as { name: string; value: string; type: string }[];
  const out: Record<string, unknown> = {};
  for (const p of list) {
    const v = p.value;
    if (p.type === 'INT') out[p.name] = parseInt(v, 10);
    else if (p.type === 'FLOAT' || p.type === 'DOUBLE') out[p.name] = parseFloat(v);
    else if (p.type === 'BOOL') out[p.name] = v === 'true' || v === 'True';
    else if (p.type === 'JSON') out[p.name] = JSON.parse(v);
    else out[p.name] = v;
  }
  return out;
}

const params = parameters();
const num = (k: string, d: number): number => (typeof params[k] === 'number' ? params[k] : d);
const SCALE = num('scale', 1);
const OFFSET = num('offset', 0);
const ROUTE = num('route', 0);
const DELAY = num('delay_ms', 0);
const UNIT = env.PREDICTIVE_UNIT_ID ?? '0';

class BadData extends Error {}

/** A numeric array with its shape, and the form it came in (the answer uses the same). */
interface Arr {
  form: 'ndarray' | 'tensor';
  shape: number[];
  values: number[];
  names: string[];
}

function flattenNd(x: unknown, shape: number[], out: number[], depth = 0): void {
  if (Array.isArray(x)) {
    if (shape.length === depth) shape.push(x.length);
    for (const y of x) flattenNd(y, shape, out, depth + 1);
  } else if (typeof x === 'number') out.push(x);
  else throw new BadData(`ndarray holds a ${typeof x}, not a number`);
}

function nest(values: number[], shape: number[]): unknown {
  if (shape.length <= 1) return values;
  const [n, ...rest] = shape as [number, ...number[]];
  const size = values.length / n;
  return Array.from({ length: n }, (_, i) => nest(values.slice(i * size, (i + 1) * size), rest));
}

function arrFromJson(m: Obj): Arr {
  const d = m.data as Obj | undefined;
  if (!d) throw new BadData('Unknown data in SeldonMessage');
  const names = Array.isArray(d.names) ? (d.names as string[]) : [];
  if (d.tftensor !== undefined) throw new BadData('Tensorflow is not installed: tftensor is not supported');
  if (d.tensor) {
    const t = d.tensor as { shape?: number[]; values?: number[] };
    return { form: 'tensor', shape: t.shape ?? [], values: (t.values ?? []).map(Number), names };
  }
  if (d.ndarray !== undefined) {
    const shape: number[] = [];
    const values: number[] = [];
    flattenNd(d.ndarray, shape, values);
    return { form: 'ndarray', shape, values, names };
  }
  throw new BadData('data has neither ndarray nor tensor');
}

function arrToJson(a: Arr, meta: Obj): Obj {
  const data: Obj = { names: a.names };
  if (a.form === 'tensor') data.tensor = { shape: a.shape, values: a.values };
  else data.ndarray = nest(a.values, a.shape);
  return { data, meta };
}

/** protobuf ListValue (keepCase) <-> nested arrays */
function fromListValue(lv: { values?: Obj[] } | undefined): unknown[] {
  return (lv?.values ?? []).map((v) =>
    v.listValue ? fromListValue(v.listValue as { values?: Obj[] }) : (v.numberValue as number),
  );
}
function toListValue(x: unknown): Obj {
  return {
    values: (x as unknown[]).map((v) => (Array.isArray(v) ? { listValue: toListValue(v) } : { numberValue: v })),
  };
}

function arrFromProto(m: Obj): Arr {
  const d = m.data as Obj | undefined;
  if (!d) throw new BadData('Unknown data in SeldonMessage');
  return arrFromJson({
    data: {
      names: d.names ?? [],
      ...(d.tensor ? { tensor: d.tensor } : {}),
      ...(d.ndarray ? { ndarray: fromListValue(d.ndarray) } : {}),
      ...(d.tftensor ? { tftensor: d.tftensor } : {}),
    },
  });
}

function arrToProto(a: Arr, meta: Obj): Obj {
  const data: Obj = { names: a.names };
  if (a.form === 'tensor') data.tensor = { shape: a.shape, values: a.values };
  else data.ndarray = toListValue(nest(a.values, a.shape));
  return {
    data,
    meta: { tags: Object.fromEntries(Object.entries(meta.tags as Obj).map(([k, v]) => [k, { stringValue: v }])) },
  };
}

function tags(transport: string): Obj {
  return {
    tags: {
      unit: UNIT,
      predictor: env.PREDICTOR_ID ?? '',
      deployment: env.SELDON_DEPLOYMENT_ID ?? '',
      transport,
    },
  };
}

/** The user model. */
function check(a: Arr): void {
  if (a.values[0] === -1) throw new BadData('bad input: the model refuses -1');
  if (a.values[0] === -2) throw new Error('boom: the model crashed on -2');
}
const map = (a: Arr, f: (v: number) => number): Arr => ({ ...a, values: a.values.map(f) });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Method = 'predict' | 'transformInput' | 'transformOutput' | 'route' | 'aggregate';
async function run(method: Method, inputs: Arr[]): Promise<Arr> {
  const a = inputs[0];
  if (!a) throw new BadData('no input messages');
  switch (method) {
    case 'predict':
      check(a);
      if (DELAY) await sleep(DELAY);
      return map(a, (v) => v * SCALE);
    case 'transformInput':
    case 'transformOutput':
      return map(a, (v) => v + OFFSET);
    case 'route':
      return { form: a.form, shape: [1, 1], values: [ROUTE], names: [] };
    case 'aggregate':
      return {
        ...a,
        values: a.values.map((_, i) => inputs.reduce((s, x) => s + (x.values[i] ?? 0), 0) / inputs.length),
      };
  }
}

// ---------------- REST (Flask in the wrapper) ----------------

const REST_PATHS: Record<string, Method> = {
  '/predict': 'predict',
  '/api/v1.0/predictions': 'predict',
  '/transform-input': 'transformInput',
  '/transform-output': 'transformOutput',
  '/route': 'route',
  '/aggregate': 'aggregate',
};

/** The wrapper's get_request: a `json` form field, a `json` query parameter, or the JSON body. */
function requestJson(req: IncomingMessage, body: string): Obj {
  const type = req.headers['content-type'] ?? '';
  const q = new URL(req.url ?? '/', 'http://x').searchParams.get('json');
  const form = type.includes('application/x-www-form-urlencoded') ? new URLSearchParams(body).get('json') : null;
  const text = form ?? q ?? body;
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    throw new BadData("Can't find JSON in data");
  }
  if (m === null || typeof m !== 'object') throw new BadData('Invalid Data Format - empty JSON');
  return m as Obj;
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

const rest = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://x').pathname;
    if (url === '/health/ping') return send(res, 200, 'pong', 'text/html; charset=utf-8');
    if (url === '/health/status')
      return send(res, 200, arrToJson({ form: 'ndarray', shape: [0], values: [], names: [] }, {}));
    if (url === '/metadata')
      return send(res, 200, {
        name: UNIT,
        versions: [env.PREDICTIVE_UNIT_IMAGE ?? ''],
        platform: 'seldon-standin',
        inputs: [],
        outputs: [],
      });
    if (url === '/send-feedback') return send(res, 200, { data: { names: [], ndarray: [] }, meta: {} });
    const method = REST_PATHS[url];
    if (!method) return send(res, 404, '<!doctype html><title>404 Not Found</title><h1>Not Found</h1>', 'text/html');
    const body = Buffer.concat(chunks).toString('utf8');
    (async () => {
      const m = requestJson(req, body);
      const inputs =
        method === 'aggregate' ? ((m.seldonMessages as Obj[] | undefined) ?? []).map(arrFromJson) : [arrFromJson(m)];
      const out = await run(method, inputs);
      send(res, 200, arrToJson(out, tags('rest')));
    })().catch((e: unknown) => {
      if (e instanceof BadData)
        send(res, 400, { status: { status: 1, info: e.message, code: -1, reason: 'MICROSERVICE_BAD_DATA' } });
      else
        send(
          res,
          500,
          '<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to complete your request.</p>\n',
          'text/html; charset=utf-8',
        );
    });
  });
});

// ---------------- gRPC ----------------

const protoDir = env.SELDON_PROTO_DIR ?? path.resolve(__dirname, '../../../protos');
const def = protoLoader.loadSync(path.join(protoDir, 'seldon/prediction.proto'), {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [protoDir],
});
const pkg = grpc.loadPackageDefinition(def) as unknown as {
  seldon: { protos: Record<string, { service: grpc.ServiceDefinition }> };
};

function unary(method: Method): grpc.handleUnaryCall<Obj, Obj> {
  return (call, cb) => {
    (async () => {
      const req = call.request;
      const inputs =
        method === 'aggregate'
          ? ((req.seldonMessages as Obj[] | undefined) ?? []).map(arrFromProto)
          : [arrFromProto(req)];
      const out = await run(method, inputs);
      cb(null, arrToProto(out, tags('grpc')));
    })().catch((e: unknown) =>
      // grpcio turns any exception of a servicer into UNKNOWN "Exception calling application: <message>".
      cb({ code: grpc.status.UNKNOWN, details: `Exception calling application: ${(e as Error).message}` }),
    );
  };
}

const metadata: grpc.handleUnaryCall<Obj, Obj> = (_c, cb) =>
  cb(null, { name: UNIT, versions: [env.PREDICTIVE_UNIT_IMAGE ?? ''], platform: 'seldon-standin' });

const server = new grpc.Server();
const s = pkg.seldon.protos;
const add = (name: string, impl: grpc.UntypedServiceImplementation): void => server.addService(s[name]!.service, impl);
add('Model', { Predict: unary('predict'), Metadata: metadata, SendFeedback: metadata });
add('Transformer', { TransformInput: unary('transformInput') });
add('OutputTransformer', { TransformOutput: unary('transformOutput') });
add('Router', { Route: unary('route'), SendFeedback: metadata });
add('Combiner', { Aggregate: unary('aggregate') });
add('Generic', {
  TransformInput: unary('transformInput'),
  TransformOutput: unary('transformOutput'),
  Route: unary('route'),
  Aggregate: unary('aggregate'),
  SendFeedback: metadata,
});

const metrics = createServer((req, res) => {
  if (req.url === (env.PREDICTIVE_UNIT_METRICS_ENDPOINT ?? '/metrics'))
    return send(res, 200, `# TYPE standin_up gauge\nstandin_up{unit="${UNIT}"} 1\n`, 'text/plain; version=0.0.4');
  send(res, 404, 'not found', 'text/plain');
});

async function main(): Promise<void> {
  const listen = (srv: ReturnType<typeof createServer>, p: number): Promise<number> =>
    new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(p, HOST, () => resolve((srv.address() as { port: number }).port));
    });
  const http = await listen(rest, port('PREDICTIVE_UNIT_HTTP_SERVICE_PORT', 9000));
  const grpcPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `${HOST}:${port('PREDICTIVE_UNIT_GRPC_SERVICE_PORT', 5000)}`,
      grpc.ServerCredentials.createInsecure(),
      (e, p) => (e ? reject(e) : resolve(p)),
    ),
  );
  const m = await listen(metrics, port('PREDICTIVE_UNIT_METRICS_SERVICE_PORT', 6000));
  console.log(JSON.stringify({ http, grpc: grpcPort, metrics: m, unit: UNIT, parameters: params }));
  const stop = (): void => {
    server.forceShutdown();
    rest.close();
    metrics.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  console.error(`seldon-wrapper stand-in: ${(e as Error).message}`);
  process.exit(1);
});
