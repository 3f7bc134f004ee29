import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { ParamSchema } from '../components/api';
import { isModulePath, loadComponentDefinition } from '../components/registry';
import { ConfigError } from '../errors';
import { endpointProblem, traceEndpointProblem } from './endpoint';
import { HOP_CODECS, NODE_TYPES, TRACE_EXPORTERS, type GraphSpec, type HopCodec, type NodeSpec, type NodeType, type ParamValue, type TraceExporterKind, type TracingSpec } from './spec';
import type { MetricsSpec, TlsSpec } from './spec';

/**
 * Graph manifest: YAML parsed to `unknown`, validated into a GraphSpec with every problem reported at once, each
 * naming the node path and what is wrong. Defaults are applied here and nowhere else.
 */

export const API_VERSION = 'infergraph.dev/v1alpha1';
export const KIND = 'InferenceGraph';

export const DEFAULTS = {
  deadlineMs: 10_000,
  codec: 'tftensor' as HopCodec,
  maxMessageBytes: 16 * 1024 * 1024,
  restart: { maxRestarts: 10, initialBackoffMs: 200, maxBackoffMs: 10_000 },
  tracing: { sampleRatio: 1 },
  /** Prometheus /metrics of a standalone process (a pod); `infergraph up` gives each process a free port instead. */
  metrics: { enabled: true, port: 9464 },
  // Issue 11 (admission, drain): see validateReliability below.
  maxInFlight: 16,
  drainTimeoutMs: 15_000,
  reflection: true,
  nodeMaxConcurrency: 16,
  nodeMaxQueue: 64,
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

class Problems {
  readonly list: string[] = [];
  add(where: string, what: string): void {
    this.list.push(`${where}: ${what}`);
  }
  keys(where: string, o: Obj, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.add(where, `unknown field '${k}' (allowed: ${allowed.join(', ')})`);
    }
  }
  posInt(where: string, v: unknown, fallback: number, min = 1): number {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      this.add(where, `must be an integer >= ${min}, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return v;
  }
}

/**
 * Whose user modules validation may load (require) to check types and parameters. Built-ins are always checked.
 * A node process loads only its own (issue 11: a manifest's other modules are not run there); the executor none.
 */
export interface ManifestOptions {
  loadModules?: (nodeName: string) => boolean;
}

export function loadManifestFile(file: string, opts: ManifestOptions = {}): GraphSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read manifest: ${(err as Error).message}`]);
  }
  return parseManifest(text, path.dirname(path.resolve(file)), file, opts);
}

export function parseManifest(text: string, baseDir: string, source = 'manifest', opts: ManifestOptions = {}): GraphSpec {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const msg = err instanceof YAMLParseError ? err.message : String(err);
    throw new ConfigError([`${source}: invalid YAML: ${msg}`]);
  }
  return validateManifest(doc, baseDir, source, opts);
}

export function validateManifest(doc: unknown, baseDir: string, source = 'manifest', opts: ManifestOptions = {}): GraphSpec {
  loadModules = opts.loadModules ?? (() => true);
  const p = new Problems();
  if (!isObj(doc)) throw new ConfigError([`${source}: a manifest must be a YAML mapping with apiVersion, kind, metadata, spec`]);
  p.keys('(root)', doc, ['apiVersion', 'kind', 'metadata', 'spec']);
  if (doc.apiVersion !== API_VERSION) p.add('apiVersion', `must be '${API_VERSION}', got ${JSON.stringify(doc.apiVersion)}`);
  if (doc.kind !== KIND) p.add('kind', `must be '${KIND}', got ${JSON.stringify(doc.kind)}`);

  const meta = isObj(doc.metadata) ? doc.metadata : {};
  if (!isObj(doc.metadata)) p.add('metadata', 'required mapping with a name');
  const name = typeof meta.name === 'string' ? meta.name : '';
  if (!DNS_LABEL.test(name) || name.length > 63) {
    p.add('metadata.name', `must be a DNS-1123 label (lowercase letters, digits, '-', at most 63), got ${JSON.stringify(meta.name)}`);
  }
  const namespace = typeof meta.namespace === 'string' ? meta.namespace : undefined;

  const spec = isObj(doc.spec) ? doc.spec : {};
  if (!isObj(doc.spec)) p.add('spec', 'required mapping with a graph');
  p.keys('spec', spec, ['graph', 'deadlineMs', 'codec', 'maxMessageBytes', 'tracing', 'metrics', ...RELIABILITY_FIELDS]);
  const deadlineMs = p.posInt('spec.deadlineMs', spec.deadlineMs, DEFAULTS.deadlineMs);
  const maxMessageBytes = p.posInt('spec.maxMessageBytes', spec.maxMessageBytes, DEFAULTS.maxMessageBytes, 1024);
  let codec = DEFAULTS.codec;
  if (spec.codec !== undefined) {
    if (HOP_CODECS.includes(spec.codec as HopCodec)) codec = spec.codec as HopCodec;
    else p.add('spec.codec', `must be one of ${HOP_CODECS.join(', ')}, got ${JSON.stringify(spec.codec)}`);
  }

  const seen = new Map<string, string>();
  const graph = isObj(spec.graph) ? validateNode(spec.graph, 'spec.graph', p, seen, baseDir, maxMessageBytes) : undefined;
  if (!isObj(spec.graph)) p.add('spec.graph', 'required: the root node of the graph');
  const tracing = spec.tracing === undefined ? undefined : validateTracing(spec.tracing, p);
  const metrics = validateMetrics(spec.metrics, p);
  const reliability = validateReliability(spec, p, baseDir);
  if (p.list.length || !graph) throw new ConfigError(p.list.map((x) => `${source}: ${x}`));
  const out: GraphSpec = { apiVersion: API_VERSION, kind: KIND, name, baseDir, deadlineMs, codec, maxMessageBytes, ...reliability, graph };
  out.metrics = metrics;
  if (namespace) out.namespace = namespace;
  if (tracing) out.tracing = tracing;
  return out;
}

function validateMetrics(raw: unknown, p: Problems): MetricsSpec {
  const at = 'spec.metrics';
  const out: MetricsSpec = { ...DEFAULTS.metrics };
  if (raw === undefined) return out;
  if (!isObj(raw)) {
    p.add(at, 'must be a mapping with enabled, port');
    return out;
  }
  p.keys(at, raw, ['enabled', 'port']);
  if (raw.enabled !== undefined) {
    if (typeof raw.enabled === 'boolean') out.enabled = raw.enabled;
    else p.add(`${at}.enabled`, `must be true or false, got ${JSON.stringify(raw.enabled)}`);
  }
  if (raw.port !== undefined) {
    const port = raw.port;
    if (typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535) out.port = port;
    else p.add(`${at}.port`, `must be an integer from 1 to 65535, got ${JSON.stringify(raw.port)}`);
  }
  return out;
}

function validateTracing(raw: unknown, p: Problems): TracingSpec | undefined {
  const at = 'spec.tracing';
  if (!isObj(raw)) {
    p.add(at, 'must be a mapping with exporter, endpoint, sampleRatio');
    return undefined;
  }
  p.keys(at, raw, ['exporter', 'endpoint', 'sampleRatio']);
  let exporter: TraceExporterKind = 'none';
  if (TRACE_EXPORTERS.includes(raw.exporter as TraceExporterKind)) exporter = raw.exporter as TraceExporterKind;
  else p.add(`${at}.exporter`, `must be one of ${TRACE_EXPORTERS.join(', ')}, got ${JSON.stringify(raw.exporter)}`);
  const out: TracingSpec = { exporter, sampleRatio: DEFAULTS.tracing.sampleRatio };
  if (raw.endpoint !== undefined) {
    const bad = typeof raw.endpoint === 'string' ? traceEndpointProblem(exporter, raw.endpoint) : 'must be a string';
    if (bad) p.add(`${at}.endpoint`, `${JSON.stringify(raw.endpoint)}: ${bad}`);
    else out.endpoint = raw.endpoint as string;
  }
  if (raw.sampleRatio !== undefined) {
    const r = raw.sampleRatio;
    if (typeof r !== 'number' || !(r >= 0 && r <= 1)) p.add(`${at}.sampleRatio`, `must be a number from 0 to 1, got ${JSON.stringify(r)}`);
    else out.sampleRatio = r;
  }
  return out;
}

/** validateManifest's current ManifestOptions.loadModules (validation is synchronous: no interleaving). */
let loadModules: (nodeName: string) => boolean = () => true;

const NODE_FIELDS = ['name', 'type', 'implementation', 'parameters', 'children', 'endpoint', 'runtime'] as const;

function validateNode(o: Obj, where: string, p: Problems, seen: Map<string, string>, baseDir: string, graphMax: number): NodeSpec {
  const name = typeof o.name === 'string' ? o.name : '';
  const at = name ? `${where} (${name})` : where;
  p.keys(at, o, NODE_FIELDS);
  if (!DNS_LABEL.test(name) || name.length > 63) {
    p.add(at, `name must be a DNS-1123 label (lowercase letters, digits, '-', at most 63), got ${JSON.stringify(o.name)}`);
  } else if (seen.has(name)) {
    p.add(at, `duplicate node name '${name}' (also at ${seen.get(name)})`);
  } else {
    seen.set(name, where);
  }

  let type: NodeType = 'MODEL';
  if (NODE_TYPES.includes(o.type as NodeType)) type = o.type as NodeType;
  else p.add(at, `type must be one of ${NODE_TYPES.join(', ')}, got ${JSON.stringify(o.type)}`);

  const childrenRaw = o.children === undefined ? [] : o.children;
  const children: NodeSpec[] = [];
  if (!Array.isArray(childrenRaw)) p.add(at, 'children must be a list of nodes');
  else
    childrenRaw.forEach((c, i) => {
      if (isObj(c)) children.push(validateNode(c, `${where}.children[${i}]`, p, seen, baseDir, graphMax));
      else p.add(`${where}.children[${i}]`, 'must be a node mapping');
    });
  if ((type === 'COMBINER' || type === 'ROUTER') && children.length === 0) p.add(at, `${type} needs at least one child`);

  let endpoint: string | undefined;
  if (o.endpoint !== undefined) {
    endpoint = typeof o.endpoint === 'string' ? o.endpoint : '';
    const bad = endpointProblem(endpoint);
    if (bad) p.add(at, `bad endpoint ${JSON.stringify(o.endpoint)}: ${bad}`);
  }

  const runtime = validateRuntime(o.runtime, `${at}.runtime`, p, graphMax);
  const rawParams = parseParams(o.parameters, at, p);
  let implementation = typeof o.implementation === 'string' ? o.implementation : '';
  let parameters: Record<string, ParamValue> = rawParams;
  if (!implementation) {
    if (!endpoint) p.add(at, 'implementation is required (a built-in name or a module path) unless endpoint is set');
  } else {
    if (isModulePath(implementation)) implementation = path.resolve(baseDir, implementation);
    if (isModulePath(implementation) && !loadModules(name)) {
      // Not this process's node: the module must exist, but its code is not run here; its parameters are checked
      // by the process that serves it.
      try {
        require.resolve(implementation);
      } catch {
        p.add(at, `cannot find component module ${implementation}`);
      }
    } else {
      try {
        const def = loadComponentDefinition(implementation);
        if (!def.types.includes(type)) {
          p.add(at, `implementation '${String(o.implementation)}' cannot serve a ${type} node (it serves ${def.types.join(', ')})`);
        }
        parameters = applyParamSchema(def.parameters, rawParams, at, p, baseDir);
      } catch (err) {
        p.add(at, (err as Error).message);
      }
    }
  }
  const node: NodeSpec = { name, type, implementation, parameters, children, runtime, path: where };
  if (endpoint) node.endpoint = endpoint;
  return node;
}

function validateRuntime(raw: unknown, at: string, p: Problems, graphMax: number): NodeSpec['runtime'] {
  const r = raw === undefined ? {} : raw;
  const out: NodeSpec['runtime'] = {
    maxMessageBytes: graphMax,
    env: {},
    restart: { ...DEFAULTS.restart },
    maxConcurrency: DEFAULTS.nodeMaxConcurrency,
    maxQueue: DEFAULTS.nodeMaxQueue,
  };
  if (!isObj(r)) {
    p.add(at, 'must be a mapping');
    return out;
  }
  p.keys(at, r, ['maxMessageBytes', 'env', 'restart', 'maxConcurrency', 'maxQueue']);
  out.maxMessageBytes = p.posInt(`${at}.maxMessageBytes`, r.maxMessageBytes, graphMax, 1024);
  out.maxConcurrency = p.posInt(`${at}.maxConcurrency`, r.maxConcurrency, DEFAULTS.nodeMaxConcurrency);
  out.maxQueue = p.posInt(`${at}.maxQueue`, r.maxQueue, DEFAULTS.nodeMaxQueue, 0);
  if (r.env !== undefined) {
    if (!isObj(r.env)) p.add(`${at}.env`, 'must be a mapping of NAME: value');
    else
      for (const [k, v] of Object.entries(r.env)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) p.add(`${at}.env`, `bad variable name '${k}'`);
        else if (typeof v === 'object' && v !== null) p.add(`${at}.env.${k}`, 'must be a scalar');
        else out.env[k] = String(v);
      }
  }
  if (r.restart !== undefined) {
    if (!isObj(r.restart)) p.add(`${at}.restart`, 'must be a mapping');
    else {
      p.keys(`${at}.restart`, r.restart, ['maxRestarts', 'initialBackoffMs', 'maxBackoffMs']);
      const d = DEFAULTS.restart;
      out.restart = {
        maxRestarts: p.posInt(`${at}.restart.maxRestarts`, r.restart.maxRestarts, d.maxRestarts, 0),
        initialBackoffMs: p.posInt(`${at}.restart.initialBackoffMs`, r.restart.initialBackoffMs, d.initialBackoffMs),
        maxBackoffMs: p.posInt(`${at}.restart.maxBackoffMs`, r.restart.maxBackoffMs, d.maxBackoffMs),
      };
    }
  }
  return out;
}

/** Accepts a plain mapping, or Seldon's list form [{name, value, type: INT|FLOAT|DOUBLE|STRING|BOOL}]. */
function parseParams(raw: unknown, at: string, p: Problems): Record<string, ParamValue> {
  if (raw === undefined || raw === null) return {};
  const out: Record<string, ParamValue> = {};
  if (Array.isArray(raw)) {
    raw.forEach((e, i) => {
      if (!isObj(e) || typeof e.name !== 'string' || e.value === undefined) {
        p.add(`${at}.parameters[${i}]`, 'Seldon-style parameters need name and value');
        return;
      }
      out[e.name] = typeof e.value === 'object' ? JSON.stringify(e.value) : (e.value as ParamValue);
    });
    return out;
  }
  if (!isObj(raw)) {
    p.add(`${at}.parameters`, 'must be a mapping (or a Seldon-style list of {name, value, type})');
    return out;
  }
  for (const [k, v] of Object.entries(raw)) {
    if (Array.isArray(v)) out[k] = v.join(',');
    else if (typeof v === 'object' && v !== null) p.add(`${at}.parameters.${k}`, 'must be a scalar or a list of scalars');
    else if (v !== null) out[k] = v as ParamValue;
  }
  return out;
}

function applyParamSchema(
  schema: Record<string, ParamSchema>,
  raw: Record<string, ParamValue>,
  at: string,
  p: Problems,
  baseDir: string,
): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const k of Object.keys(raw)) {
    if (!Object.hasOwn(schema, k)) {
      const known = Object.keys(schema);
      p.add(at, `unknown parameter '${k}' (known: ${known.length ? known.join(', ') : 'none'})`);
    }
  }
  for (const [k, s] of Object.entries(schema)) {
    const v = raw[k] ?? s.default;
    if (v === undefined) {
      if (s.required) p.add(at, `missing required parameter '${k}' (${s.type}: ${s.description})`);
      continue;
    }
    const where = `${at}.parameters.${k}`;
    switch (s.type) {
      case 'number':
      case 'integer': {
        const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
        if (!Number.isFinite(n) || (s.type === 'integer' && !Number.isInteger(n))) p.add(where, `must be ${s.type === 'integer' ? 'an integer' : 'a number'}, got ${JSON.stringify(v)}`);
        else out[k] = n;
        break;
      }
      case 'boolean': {
        if (typeof v === 'boolean') out[k] = v;
        else if (v === 'true' || v === 'false') out[k] = v === 'true';
        else p.add(where, `must be true or false, got ${JSON.stringify(v)}`);
        break;
      }
      case 'path':
        out[k] = path.resolve(baseDir, expandEnv(String(v)));
        break;
      default:
        out[k] = String(v);
    }
  }
  return out;
}

/** `${VAR}` and `${VAR:-default}` in path parameters, so one manifest works with data in different places. */
function expandEnv(s: string): string {
  return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, dflt: string | undefined) => process.env[name] ?? dflt ?? '');
}

// ---- Issue 11: admission, drain, reflection and TLS (spec-level fields; the runtime's are in validateRuntime) ----

const RELIABILITY_FIELDS = ['maxInFlight', 'drainTimeoutMs', 'reflection', 'tls'] as const;

function validateReliability(spec: Obj, p: Problems, baseDir: string): Pick<GraphSpec, 'maxInFlight' | 'drainTimeoutMs' | 'reflection' | 'tls'> {
  const out: Pick<GraphSpec, 'maxInFlight' | 'drainTimeoutMs' | 'reflection' | 'tls'> = {
    maxInFlight: p.posInt('spec.maxInFlight', spec.maxInFlight, DEFAULTS.maxInFlight),
    drainTimeoutMs: p.posInt('spec.drainTimeoutMs', spec.drainTimeoutMs, DEFAULTS.drainTimeoutMs, 0),
    reflection: DEFAULTS.reflection,
  };
  if (spec.reflection !== undefined) {
    if (typeof spec.reflection === 'boolean') out.reflection = spec.reflection;
    else p.add('spec.reflection', `must be true or false, got ${JSON.stringify(spec.reflection)}`);
  }
  if (spec.tls !== undefined) {
    const tls = validateTls(spec.tls, p, baseDir);
    if (tls) out.tls = tls;
  }
  return out;
}

function validateTls(raw: unknown, p: Problems, baseDir: string): TlsSpec | undefined {
  const at = 'spec.tls';
  if (!isObj(raw)) {
    p.add(at, 'must be a mapping with server {cert, key, clientCa} and/or hops {ca, cert, key}');
    return undefined;
  }
  p.keys(at, raw, ['server', 'hops']);
  const file = (where: string, v: unknown): string => {
    if (typeof v !== 'string' || v === '') {
      p.add(where, `required: path of a PEM file, got ${JSON.stringify(v)}`);
      return '';
    }
    const abs = path.resolve(baseDir, v);
    if (!existsSync(abs)) p.add(where, `file ${abs} does not exist`);
    return abs;
  };
  const out: TlsSpec = {};
  if (raw.server !== undefined) {
    const s = raw.server;
    if (!isObj(s)) p.add(`${at}.server`, 'must be a mapping with cert, key and optionally clientCa');
    else {
      p.keys(`${at}.server`, s, ['cert', 'key', 'clientCa']);
      out.server = { cert: file(`${at}.server.cert`, s.cert), key: file(`${at}.server.key`, s.key) };
      if (s.clientCa !== undefined) out.server.clientCa = file(`${at}.server.clientCa`, s.clientCa);
    }
  }
  if (raw.hops !== undefined) {
    const h = raw.hops;
    if (!isObj(h)) p.add(`${at}.hops`, 'must be a mapping with ca, cert, key');
    else {
      p.keys(`${at}.hops`, h, ['ca', 'cert', 'key']);
      out.hops = { ca: file(`${at}.hops.ca`, h.ca), cert: file(`${at}.hops.cert`, h.cert), key: file(`${at}.hops.key`, h.key) };
    }
  }
  return out;
}
