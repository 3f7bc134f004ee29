import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { builtinInfo, isModulePath } from '../components/catalog';
import type { ParamSchema } from '../components/api';
import { ConfigError } from '../errors';
import { checkField, checkObject, defaultsOf, isObj, Problems, type Obj } from './check';
import { endpointProblem, nodeEndpointProblem, traceEndpointProblem } from './endpoint';
import { applyParamSchema, parseParams } from './params';
import { MANIFEST_SCHEMA, NODE_SCHEMA, PREDICTOR_SCHEMA, RUNTIME_SCHEMA, type Typed } from './schema';
import type {
  ExecutorRuntime,
  LoggerSpec,
  GraphSpec,
  TlsSpec,
  ModelSource,
  NodeRuntime,
  NodeSpec,
  NodeType,
  ParamValue,
  PredictorSpec,
  TracingSpec,
} from './spec';

export { endpointProblem, traceEndpointProblem };

/**
 * Graph manifest: YAML parsed to `unknown`, validated into a GraphSpec with every problem reported at once, each
 * naming the node path and what is wrong. Field checks, messages and defaults come from the schema in schema.ts (the
 * CRD is generated from the same data); what a schema cannot say (unique names, endpoints, component parameters) is
 * checked here. A user component module is only checked to exist, unless loadModules is set: its node process checks
 * its parameters when it starts (src/node/component-loader.ts).
 */

export const API_VERSION = 'infergraph.dev/v1alpha1';
export const KIND = 'InferenceGraph';

const SPEC = MANIFEST_SCHEMA.properties.spec;
const TRACING = SPEC.properties.tracing;
const EXECUTOR = SPEC.properties.executor;
const NAME = NODE_SCHEMA.properties.name;

/** The fields of `spec` that are plain schema (the graph, tracing and executor have checks of their own below). */
const OWN_CHECKS = ['graph', 'predictors', 'tracing', 'executor'] as const;
type PlainSpec = Omit<Typed<typeof SPEC>, (typeof OWN_CHECKS)[number]>;
type RuntimeFields = Typed<typeof RUNTIME_SCHEMA>;

const specDefaults = defaultsOf(SPEC) as PlainSpec;
const runtimeDefaults = defaultsOf(RUNTIME_SCHEMA) as RuntimeFields;

/** The schema's defaults (schema.ts), under the names the rest of the code reads them by. */
export const DEFAULTS = {
  ...specDefaults,
  restart: runtimeDefaults.restart,
  replicas: runtimeDefaults.replicas,
  tracing: { sampleRatio: TRACING.properties.sampleRatio.default },
  nodeMaxConcurrency: runtimeDefaults.maxConcurrency,
  nodeMaxQueue: runtimeDefaults.maxQueue,
};

export interface ValidateOptions {
  /** Load user component modules to check their node types and parameters (runs their code). */
  loadModules?: boolean;
  /** Do not even check that user module files exist: they live in another image (the operator validates this way). */
  skipModuleFiles?: boolean;
  /**
   * Check that `path` parameters (a model, a labels file: whatever the component declares as a path) name existing
   * files: true for every node, a node name for that node only (a node process in a pod, where only its own files
   * are mounted). Off by default: the operator and the executor validate where the model files are not.
   */
  checkFiles?: boolean | string;
  /** Loads a user module's definition; given by the caller so that src/graph itself never loads one. */
  loadModule?: (file: string) => {
    types: readonly NodeType[];
    parameters: Record<string, ParamSchema>;
  };
}

/** A manifest file's text; an unreadable file is a configuration problem naming it. */
export function readManifestText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read manifest: ${(err as Error).message}`]);
  }
}

/** A manifest's YAML as an unchecked document; a syntax error is a configuration problem naming `source`. */
export function parseManifestYaml(text: string, source: string): unknown {
  try {
    return parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const msg = err instanceof YAMLParseError ? err.message : String(err);
    throw new ConfigError([`${source}: invalid YAML: ${msg}`]);
  }
}

export function loadManifestFile(file: string, opts: ValidateOptions = {}): GraphSpec {
  return parseManifest(readManifestText(file), path.dirname(path.resolve(file)), file, opts);
}

export function parseManifest(
  text: string,
  baseDir: string,
  source = 'manifest',
  opts: ValidateOptions = {},
): GraphSpec {
  return validateManifest(parseManifestYaml(text, source), baseDir, source, opts);
}

export function validateManifest(
  doc: unknown,
  baseDir: string,
  source = 'manifest',
  opts: ValidateOptions = {},
): GraphSpec {
  const p = new Problems();
  if (!isObj(doc))
    throw new ConfigError([`${source}: a manifest must be a YAML mapping with apiVersion, kind, metadata, spec`]);
  p.keys('(root)', doc, Object.keys(MANIFEST_SCHEMA.properties));
  if (doc.apiVersion !== API_VERSION)
    p.add('apiVersion', `must be '${API_VERSION}', got ${JSON.stringify(doc.apiVersion)}`);
  if (doc.kind !== KIND) p.add('kind', `must be '${KIND}', got ${JSON.stringify(doc.kind)}`);

  const meta = isObj(doc.metadata) ? doc.metadata : {};
  if (!isObj(doc.metadata)) p.add('metadata', 'required mapping with a name');
  const name = typeof meta.name === 'string' ? meta.name : '';
  checkField(NAME, meta.name, { where: 'metadata.name' }, p, true);
  const namespace = typeof meta.namespace === 'string' ? meta.namespace : undefined;

  const spec = isObj(doc.spec) ? doc.spec : {};
  if (!isObj(doc.spec)) p.add('spec', 'required mapping with a graph');
  // A field that fails its check is reported and left out; the defaults stand in until the problems are thrown.
  const checked = checkObject(SPEC, spec, { where: 'spec' }, p, OWN_CHECKS) as Partial<PlainSpec> | undefined;
  const { tls: tlsRaw, ...top }: PlainSpec = { ...structuredClone(specDefaults), ...checked };
  const tls = tlsRaw === undefined ? undefined : tlsFiles(tlsRaw, baseDir, p);

  const seen = new Map<string, string>();
  const ctx: NodeContext = { p, seen, baseDir, graphMax: top.maxMessageBytes, opts };
  let graph: NodeSpec | undefined;
  let predictors: PredictorSpec[] | undefined;
  if (spec.predictors !== undefined) {
    if (spec.graph !== undefined)
      p.add('spec', 'give either graph (one graph) or predictors (several behind one executor), not both');
    predictors = validatePredictors(spec.predictors, ctx);
    graph = predictors?.find((x) => !x.shadow)?.graph;
  } else {
    graph = isObj(spec.graph) ? validateNode(spec.graph, 'spec.graph', ctx) : undefined;
    if (!isObj(spec.graph)) p.add('spec.graph', 'required: the root node of the graph (or spec.predictors)');
  }
  const tracing = spec.tracing === undefined ? undefined : validateTracing(spec.tracing, p);
  const executor = spec.executor === undefined ? undefined : validateExecutor(spec.executor, p);
  if (p.list.length || !graph) throw new ConfigError(p.list.map((x) => `${source}: ${x}`));
  const out: GraphSpec = { apiVersion: API_VERSION, kind: KIND, name, baseDir, ...top, graph };
  if (predictors) out.predictors = predictors;
  if (tls) out.tls = tls;
  if (namespace) out.namespace = namespace;
  if (tracing) out.tracing = tracing;
  if (executor) out.executor = executor;
  return out;
}

/**
 * spec.predictors: Seldon's rules for predictors (seldondeployment_webhook.go), with several shadows allowed: names
 * unique, at least one live predictor, live shares summing to 100 when there are several (a lone one takes all).
 * Node names are unique across predictors: each node is its own process, addressed by name.
 */
function validatePredictors(raw: unknown, ctx: NodeContext): PredictorSpec[] | undefined {
  const { p } = ctx;
  const at = 'spec.predictors';
  if (!Array.isArray(raw) || raw.length === 0) {
    p.add(at, 'must be a non-empty list of predictors ({name, traffic, shadow, graph})');
    return undefined;
  }
  const out: PredictorSpec[] = [];
  const names = new Map<string, number>();
  raw.forEach((r, i) => {
    const where = `${at}[${i}]`;
    const f = checkObject(PREDICTOR_SCHEMA, r, { where }, p, ['graph']) as
      { name?: string; traffic?: number; shadow: boolean; labels?: Record<string, string> } | undefined;
    if (!f || !isObj(r)) return;
    const name = f.name ?? '';
    const label = name ? `${where} (${name})` : where;
    if (name && names.has(name)) p.add(label, `duplicate predictor name '${name}' (also at ${at}[${names.get(name)}])`);
    else if (name) names.set(name, i);
    if (!isObj(r.graph)) {
      p.add(`${label}.graph`, 'required: the root node of the predictor');
      return;
    }
    const graph = validateNode(r.graph, `${where}.graph`, ctx);
    // A shadow's traffic is the percent copied to it, all when 0 or absent (Seldon sets Istio's mirrorPercentage
    // only when the shadow's traffic is above 0); a live predictor's is checked across predictors below.
    const traffic = f.shadow ? f.traffic || 100 : (f.traffic ?? 0);
    out.push({ name, traffic, shadow: f.shadow, ...(f.labels ? { labels: f.labels } : {}), graph });
  });
  if (out.length !== raw.length) return undefined;
  const live = out.filter((x) => !x.shadow);
  if (live.length === 0) p.add(at, 'needs a live predictor: shadows only get copies of what a live predictor answers');
  if (live.length === 1) {
    const only = live[0] as PredictorSpec;
    if (only.traffic !== 0 && only.traffic !== 100)
      p.add(
        `${at}[${out.indexOf(only)}].traffic`,
        `a lone live predictor takes all requests: give 100 or nothing, got ${only.traffic}`,
      );
    only.traffic = 100;
  } else if (live.length > 1) {
    const sum = live.reduce((a, x) => a + x.traffic, 0);
    if (sum !== 100)
      p.add(
        at,
        `traffic of the live predictors must sum to 100 (shadows excluded): got ${sum} (${live.map((x) => `${x.name} ${x.traffic}`).join(', ')})`,
      );
  }
  return out;
}

function validateTracing(raw: unknown, p: Problems): TracingSpec | undefined {
  const at = 'spec.tracing';
  const t = checkObject(TRACING, raw, { where: at }, p, ['endpoint']) as Partial<TracingSpec> | undefined;
  if (!t || !isObj(raw)) return undefined;
  const exporter = t.exporter ?? 'none';
  const out: TracingSpec = { exporter, sampleRatio: t.sampleRatio ?? DEFAULTS.tracing.sampleRatio };
  if (raw.endpoint !== undefined) {
    const bad = typeof raw.endpoint === 'string' ? traceEndpointProblem(exporter, raw.endpoint) : 'must be a string';
    if (bad) p.add(`${at}.endpoint`, `${JSON.stringify(raw.endpoint)}: ${bad}`);
    else out.endpoint = raw.endpoint as string;
  }
  return out;
}

function validateExecutor(raw: unknown, p: Problems): ExecutorRuntime | undefined {
  return checkObject(EXECUTOR, raw, { where: 'spec.executor' }, p) as ExecutorRuntime | undefined;
}

interface NodeContext {
  p: Problems;
  seen: Map<string, string>;
  baseDir: string;
  graphMax: number;
  opts: ValidateOptions;
}

const NODE_FIELDS = Object.keys(NODE_SCHEMA.properties);

function validateNode(o: Obj, where: string, ctx: NodeContext): NodeSpec {
  const { p, seen } = ctx;
  const name = typeof o.name === 'string' ? o.name : '';
  const at = name ? `${where} (${name})` : where;
  p.keys(at, o, NODE_FIELDS);
  const before = p.list.length;
  checkField(NAME, o.name, { where: at, label: 'name' }, p, true);
  if (p.list.length === before) {
    if (seen.has(name)) p.add(at, `duplicate node name '${name}' (also at ${seen.get(name)})`);
    else seen.set(name, where);
  }

  const type =
    (checkField(NODE_SCHEMA.properties.type, o.type, { where: at, label: 'type' }, p, true) as NodeType | undefined) ??
    'MODEL';

  const childrenRaw = o.children === undefined ? [] : o.children;
  const children: NodeSpec[] = [];
  if (!Array.isArray(childrenRaw)) p.add(at, 'children must be a list of nodes');
  else
    childrenRaw.forEach((c, i) => {
      if (isObj(c)) children.push(validateNode(c, `${where}.children[${i}]`, ctx));
      else p.add(`${where}.children[${i}]`, 'must be a node mapping');
    });
  if ((type === 'COMBINER' || type === 'ROUTER') && children.length === 0)
    p.add(at, `${type} needs at least one child`);

  let endpoint: string | undefined;
  if (o.endpoint !== undefined) {
    endpoint = typeof o.endpoint === 'string' ? o.endpoint : '';
    const bad = nodeEndpointProblem(endpoint);
    if (bad) p.add(at, `bad endpoint ${JSON.stringify(o.endpoint)}: ${bad}`);
  }

  const runtime = validateRuntime(o.runtime, `${at}.runtime`, ctx);
  const rawParams = parseParams(o.parameters, at, p);
  let implementation = typeof o.implementation === 'string' ? o.implementation : '';
  let parameters: Record<string, ParamValue> = rawParams;
  if (runtime.container) {
    if (implementation) p.add(at, 'implementation does not apply to a node served by runtime.container');
    if (endpoint) p.add(at, 'endpoint does not apply to a node served by runtime.container');
  } else if (!implementation) {
    if (!endpoint)
      p.add(
        at,
        'implementation is required (a built-in name or a module path) unless endpoint or runtime.container is set',
      );
  } else {
    const user = isModulePath(implementation);
    if (user) implementation = path.resolve(ctx.baseDir, implementation);
    try {
      const info = !user
        ? builtinInfo(implementation)
        : ctx.opts.loadModules
          ? loadUserModule(implementation, ctx.opts)
          : ctx.opts.skipModuleFiles
            ? undefined
            : checkModuleExists(implementation);
      if (info) {
        if (!info.types.includes(type)) {
          p.add(
            at,
            `implementation '${String(o.implementation)}' cannot serve a ${type} node (it serves ${info.types.join(', ')})`,
          );
        }
        const checkFiles = ctx.opts.checkFiles === true || ctx.opts.checkFiles === name;
        parameters = applyParamSchema(info.parameters, rawParams, at, p, ctx.baseDir, checkFiles);
      }
    } catch (err) {
      p.add(at, (err as Error).message);
    }
  }
  const logger =
    o.logger === undefined
      ? undefined
      : (checkField(NODE_SCHEMA.properties.logger, o.logger, { where: `${at}.logger` }, p) as LoggerSpec | undefined);
  if (runtime.placement === 'executor') {
    // The executor's own process (and image, on Kubernetes) carries the built-in components only.
    const why = endpoint
      ? 'an endpoint node runs elsewhere'
      : runtime.container
        ? 'a container node runs in its own pod'
        : implementation && isModulePath(String(o.implementation))
          ? 'only built-in components run inside the executor (a user module runs in its own process)'
          : runtime.replicas !== 1
            ? "a node inside the executor has the executor's replicas, not its own"
            : undefined;
    if (why) p.add(at, `runtime.placement executor: ${why}`);
  }
  const node: NodeSpec = { name, type, implementation, parameters, children, runtime, path: where };
  if (endpoint) node.endpoint = endpoint;
  if (logger) node.logger = logger;
  return node;
}

/** Without loading it: the parameters stay as written until the node process checks them against the module. */
function checkModuleExists(file: string): undefined {
  if (!existsSync(file) && !existsSync(`${file}.js`))
    throw new Error(`cannot load component module ${file}: no such file`);
  return undefined;
}

function loadUserModule(file: string, opts: ValidateOptions): ReturnType<NonNullable<ValidateOptions['loadModule']>> {
  if (!opts.loadModule) throw new Error(`cannot load component module ${file}: no module loader given`);
  return opts.loadModule(file);
}

function validateRuntime(raw: unknown, at: string, ctx: NodeContext): NodeRuntime {
  const { p } = ctx;
  const base = (): NodeRuntime => {
    const { models: _, container: _c, autoscaling: _a, ...fields } = structuredClone(runtimeDefaults);
    return { ...fields, maxMessageBytes: ctx.graphMax };
  };
  if (raw === undefined) return base();
  if (!isObj(raw)) {
    p.add(at, 'must be a mapping');
    return base();
  }
  // A field that fails its check is reported and left out; the defaults stand in until the problems are thrown.
  const checked = checkObject(RUNTIME_SCHEMA, raw, { where: at }, p) as Partial<RuntimeFields> | undefined;
  const { models, volumes: listed, volumeMounts: mountsListed, container, autoscaling, ...given } = checked ?? {};
  const out: NodeRuntime = { ...base(), ...given, maxMessageBytes: given.maxMessageBytes ?? ctx.graphMax };
  // Their Kubernetes parts (a Container, a PodSpec, MetricSpecs) are opaque here: Kubernetes checks them.
  if (container !== undefined) out.container = container as NodeRuntime['container'];
  if (autoscaling !== undefined) out.autoscaling = autoscaling as NodeRuntime['autoscaling'];
  const volumes = listed?.filter((v) => isObj(v));
  if (volumes) out.volumes = volumes;
  const names = new Set((volumes ?? []).map((v) => v.name));
  volumes?.forEach((v, i) => {
    if (typeof v.name === 'string' && Object.keys(v).filter((k) => k !== 'name').length !== 1)
      p.add(
        `${at}.volumes[${i}]`,
        'needs a name and exactly one Kubernetes volume source (e.g. persistentVolumeClaim)',
      );
  });
  const mounts = mountsListed?.filter((m) => isObj(m));
  if (mounts) out.volumeMounts = mounts;
  mounts?.forEach((m, i) => {
    if (typeof m.name === 'string' && !names.has(m.name))
      p.add(`${at}.volumeMounts[${i}]`, `no volume named '${m.name}' in runtime.volumes`);
  });
  if (models !== undefined) out.models = modelSource(models, `${at}.models`, names, p);
  return out;
}

type ModelFields = NonNullable<RuntimeFields['models']> & Obj;

function modelSource(m: ModelFields, at: string, volumes: Set<string>, p: Problems): ModelSource | undefined {
  const mountPath = m.mountPath;
  const extra = (allowed: string[]): void => {
    for (const k of ['volume', 'image', 'path']) {
      if (m[k] !== undefined && !allowed.includes(k) && !(k === 'path' && m.path === '/models'))
        p.add(at, `'${k}' does not apply to source ${String(m.source)}`);
    }
  };
  switch (m.source) {
    case 'synthetic':
      extra([]);
      return { source: 'synthetic', mountPath };
    case 'volume':
      extra(['volume']);
      if (typeof m.volume !== 'string') p.add(at, "source volume needs 'volume': the name of one of runtime.volumes");
      else if (!volumes.has(m.volume)) p.add(at, `no volume named '${m.volume}' in runtime.volumes`);
      else return { source: 'volume', mountPath, volume: m.volume };
      return undefined;
    case 'image':
      extra(['image', 'path']);
      if (typeof m.image !== 'string') p.add(at, "source image needs 'image': the model image to copy from");
      else return { source: 'image', mountPath, image: m.image, path: m.path };
      return undefined;
    default:
      return undefined;
  }
}

/** spec.tls: the schema checked the fields; here each file is resolved against the manifest's folder and must exist. */
function tlsFiles(tls: TlsSpec, baseDir: string, p: Problems): TlsSpec {
  const file = (where: string, v: string): string => {
    const abs = path.resolve(baseDir, v);
    if (!existsSync(abs)) p.add(where, `file ${abs} does not exist`);
    return abs;
  };
  const out: TlsSpec = {};
  if (tls.server) {
    out.server = {
      cert: file('spec.tls.server.cert', tls.server.cert),
      key: file('spec.tls.server.key', tls.server.key),
    };
    if (tls.server.clientCa) out.server.clientCa = file('spec.tls.server.clientCa', tls.server.clientCa);
  }
  if (tls.hops) {
    const h = tls.hops;
    out.hops = {
      ca: file('spec.tls.hops.ca', h.ca),
      cert: file('spec.tls.hops.cert', h.cert),
      key: file('spec.tls.hops.key', h.key),
    };
  }
  return out;
}
