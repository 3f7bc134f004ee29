import { isObj, type Obj } from '../graph/check';
import { DNS_LABEL_PATTERN } from '../graph/schema';
import { checkComponentSpec, stringMap } from './component-spec';
import { parseSeldonParameters } from './parameters';
import type { SeldonProblems } from './problems';
import { SELDON_BUILTINS } from './servers';
import {
  PROTOCOLS,
  SELDON_GROUP,
  SELDON_KIND,
  SELDON_VERSIONS,
  TRANSPORTS,
  UNIT_TYPES,
  walkUnits,
  type PredictiveUnit,
  type PredictorSpec,
  type SeldonDeployment,
  type SeldonEndpoint,
  type SeldonProtocol,
  type SeldonTransport,
  type SvcOrchSpec,
  type UnitType,
} from './types';

/**
 * SeldonDeployment validation: the object's shape (Seldon's CRD) and the rules of Seldon's admission webhook
 * (seldondeployment_webhook.go: traffic, shadows, transports, containers for units, modelUri for prepackaged
 * servers), every problem at once with its field path. What infergraph does not do is refused here in one line that
 * names the field and what to do instead. Fields Seldon's CRD does not know are warned about, not refused: the API
 * server prunes them from a SeldonDeployment, so Seldon never saw them either.
 */

export interface Checked<T> {
  value: T;
  warnings: string[];
}

const TOP = ['apiVersion', 'kind', 'metadata', 'spec', 'status'];
const SPEC = ['name', 'predictors', 'oauth_key', 'oauth_secret', 'annotations', 'protocol', 'transport', 'replicas'];
const PREDICTOR = [
  'name',
  'graph',
  'componentSpecs',
  'replicas',
  'annotations',
  'engineResources',
  'labels',
  'svcOrchSpec',
  'traffic',
  'explainer',
  'shadow',
  'ssl',
];
const UNIT = [
  'name',
  'children',
  'type',
  'implementation',
  'methods',
  'endpoint',
  'parameters',
  'modelUri',
  'serviceAccountName',
  'envSecretRefName',
  'storageInitializerImage',
  'logger',
];
const ENDPOINT = ['service_host', 'service_port', 'type', 'httpPort', 'grpcPort'];
const DNS = new RegExp(DNS_LABEL_PATTERN.regex);

/** Seldon's annotations that infergraph reads; the others are kept on the objects and otherwise ignored. */
export const ANNOTATIONS = {
  restTimeout: 'seldon.io/rest-timeout',
  grpcTimeout: 'seldon.io/grpc-timeout',
  grpcMaxMessageSize: 'seldon.io/grpc-max-message-size',
} as const;
/** Annotations that change how Seldon lays out pods; infergraph always runs its executor in its own pod. */
const LAYOUT_ANNOTATIONS = ['seldon.io/no-engine', 'seldon.io/engine-separate-pod', 'seldon.io/headless-svc'];

export const isSeldonDeployment = (doc: unknown): boolean =>
  isObj(doc) &&
  doc.kind === SELDON_KIND &&
  typeof doc.apiVersion === 'string' &&
  doc.apiVersion.startsWith(SELDON_GROUP);

export function validateSeldonDeployment(doc: unknown, p: SeldonProblems): SeldonDeployment | undefined {
  if (!isObj(doc)) {
    p.add('(root)', 'a SeldonDeployment must be a YAML mapping with apiVersion, kind, metadata, spec');
    return undefined;
  }
  p.unknown('(root)', doc, TOP);
  const versions = SELDON_VERSIONS.map((v) => `${SELDON_GROUP}/${v}`);
  if (typeof doc.apiVersion !== 'string' || !versions.includes(doc.apiVersion))
    p.add('apiVersion', `must be one of ${versions.join(', ')}, got ${JSON.stringify(doc.apiVersion)}`);
  const meta = isObj(doc.metadata) ? doc.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '';
  if (!DNS.test(name) || name.length > 63)
    p.add('metadata.name', `must be ${DNS_LABEL_PATTERN.means}, got ${JSON.stringify(meta.name)}`);
  const spec = isObj(doc.spec) ? doc.spec : undefined;
  if (!spec) {
    p.add('spec', 'required mapping with predictors');
    return undefined;
  }
  p.unknown('spec', spec, [...SPEC, 'serverType']);
  const protocol = checkProtocol(spec.protocol, p);
  const transport = checkTransport(spec.transport, p);
  if (spec.serverType !== undefined && spec.serverType !== 'rpc')
    p.add(
      'spec.serverType',
      `${JSON.stringify(spec.serverType)} is not supported: infergraph serves requests over gRPC and REST (rpc); feed a Kafka topic through a consumer that calls the executor`,
    );
  if (spec.oauth_key !== undefined || spec.oauth_secret !== undefined)
    p.warn('spec', 'oauth_key/oauth_secret ignored (deprecated in Seldon; use spec.tls or your ingress)');
  const annotations = {
    ...stringMap(meta.annotations, 'metadata.annotations', p),
    ...stringMap(spec.annotations, 'spec.annotations', p),
  };
  const specReplicas = replicasOf(spec.replicas, 'spec.replicas', p);

  const predictors: PredictorSpec[] = [];
  if (!Array.isArray(spec.predictors) || spec.predictors.length === 0)
    p.add('spec.predictors', 'Graph contains no predictors: give at least one predictor with a graph');
  else
    spec.predictors.forEach((raw, i) => {
      const pr = validatePredictor(raw, `spec.predictors[${i}]`, specReplicas, p);
      if (pr) predictors.push(pr);
    });
  const given = spec.transport !== undefined && spec.transport !== '';
  const graphTransport = checkPredictors(predictors, given ? transport : undefined, p);
  for (const a of LAYOUT_ANNOTATIONS) {
    const scopes = [annotations, ...predictors.map((pr) => pr.annotations)];
    if (scopes.some((s) => s[a] !== undefined))
      p.warn('annotations', `${a} ignored: infergraph runs each predictor's executor in its own pod`);
  }
  const out: SeldonDeployment = {
    apiVersion: String(doc.apiVersion),
    name,
    metadata: {
      labels: stringMap(meta.labels, 'metadata.labels', p),
      annotations: stringMap(meta.annotations, 'metadata.annotations', p),
    },
    protocol,
    transport: given ? transport : (graphTransport ?? 'rest'),
    annotations,
    predictors,
  };
  if (typeof meta.namespace === 'string') out.namespace = meta.namespace;
  return out;
}

function checkProtocol(v: unknown, p: SeldonProblems): SeldonProtocol {
  if (v === undefined || v === '' || v === 'seldon') return 'seldon';
  if (v === 'v2') return 'v2';
  if (v === 'kfserving')
    p.add('spec.protocol', "'kfserving' is Seldon's former name for the V2 protocol: write protocol: v2");
  else if (v === 'tensorflow')
    p.add(
      'spec.protocol',
      "'tensorflow' (TF Serving's own API) is not supported: use protocol: seldon (TENSORFLOW_SERVER then runs behind Seldon's tfserving-proxy) or protocol: v2",
    );
  else p.add('spec.protocol', `must be one of ${PROTOCOLS.join(', ')}, got ${JSON.stringify(v)}`);
  return 'seldon';
}

function checkTransport(v: unknown, p: SeldonProblems): SeldonTransport {
  if (v === undefined || v === '') return 'rest';
  if ((TRANSPORTS as readonly unknown[]).includes(v)) return v as SeldonTransport;
  p.add('spec.transport', `must be one of ${TRANSPORTS.join(', ')}, got ${JSON.stringify(v)}`);
  return 'rest';
}

function replicasOf(v: unknown, where: string, p: SeldonProblems): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  p.add(where, `must be an integer >= 0, got ${JSON.stringify(v)}`);
  return undefined;
}

function validatePredictor(
  raw: unknown,
  at: string,
  specReplicas: number | undefined,
  p: SeldonProblems,
): PredictorSpec | undefined {
  if (!isObj(raw)) {
    p.add(at, 'must be a predictor mapping with name and graph');
    return undefined;
  }
  const name = typeof raw.name === 'string' ? raw.name : '';
  const where = name ? `${at} (${name})` : at;
  p.unknown(where, raw, PREDICTOR);
  if (!DNS.test(name)) p.add(`${at}.name`, `must be ${DNS_LABEL_PATTERN.means}, got ${JSON.stringify(raw.name)}`);
  if (raw.explainer !== undefined)
    p.add(
      `${at}.explainer`,
      'explainers are not supported: deploy the explainer as its own SeldonDeployment or InferenceGraph, or remove the field',
    );
  if (raw.ssl !== undefined)
    p.add(`${at}.ssl`, 'not supported: use an InferenceGraph with spec.tls (infergraph convert prints one)');
  const traffic = raw.traffic ?? 0;
  if (typeof traffic !== 'number' || !Number.isInteger(traffic))
    p.add(`${at}.traffic`, `must be an integer percentage, got ${JSON.stringify(raw.traffic)}`);
  const shadow = raw.shadow ?? false;
  if (typeof shadow !== 'boolean') p.add(`${at}.shadow`, `must be true or false, got ${JSON.stringify(raw.shadow)}`);
  const labels = stringMap(raw.labels, `${at}.labels`, p);
  // Seldon's defaulting webhook: every predictor carries a version label, its name unless given.
  labels.version ??= name;
  const componentSpecs = (Array.isArray(raw.componentSpecs) ? raw.componentSpecs : []).flatMap((c, j) => {
    const cs = checkComponentSpec(c, `${at}.componentSpecs[${j}]`, p);
    return cs ? [cs] : [];
  });
  if (raw.componentSpecs !== undefined && !Array.isArray(raw.componentSpecs))
    p.add(`${at}.componentSpecs`, 'must be a list of {spec, metadata, hpaSpec, replicas}');
  const ctx: UnitContext = { p, seen: new Map(), containers: containerNames(componentSpecs, at, p) };
  const graph = isObj(raw.graph) ? validateUnit(raw.graph, `${at}.graph`, ctx) : undefined;
  if (!isObj(raw.graph)) p.add(`${at}.graph`, 'required: the root unit of the predictor');
  for (const [c, where2] of ctx.containers)
    if (graph && !walkUnits(graph).some((u) => u.name === c))
      p.warn(where2, `container '${c}' is no graph unit: it runs as a sidecar in the pod of its componentSpec`);
  const out: PredictorSpec | undefined = graph && {
    name,
    graph,
    componentSpecs,
    replicas: replicasOf(raw.replicas, `${at}.replicas`, p) ?? specReplicas ?? 1,
    annotations: stringMap(raw.annotations, `${at}.annotations`, p),
    labels,
    traffic: typeof traffic === 'number' ? traffic : 0,
    shadow: shadow === true,
    svcOrchSpec: svcOrch(raw.svcOrchSpec, `${at}.svcOrchSpec`, p),
    path: at,
  };
  if (out && isObj(raw.engineResources) && Object.keys(raw.engineResources).length)
    out.engineResources = raw.engineResources;
  return out;
}

function containerNames(specs: PredictorSpec['componentSpecs'], at: string, p: SeldonProblems): Map<string, string> {
  const names = new Map<string, string>();
  specs.forEach((cs, j) =>
    cs.spec.containers.forEach((c, k) => {
      const where = `${at}.componentSpecs[${j}].spec.containers[${k}]`;
      if (names.has(c.name)) p.add(where, `duplicate container name '${c.name}' (also at ${names.get(c.name)})`);
      else names.set(c.name, where);
    }),
  );
  return names;
}

function svcOrch(raw: unknown, at: string, p: SeldonProblems): SvcOrchSpec {
  if (raw === undefined) return { env: [] };
  if (!isObj(raw)) {
    p.add(at, 'must be a mapping with resources, env, replicas');
    return { env: [] };
  }
  p.unknown(at, raw, ['resources', 'env', 'replicas']);
  const env = Array.isArray(raw.env) ? raw.env.filter(isObj) : [];
  const out: SvcOrchSpec = { env };
  if (isObj(raw.resources)) out.resources = raw.resources;
  const r = replicasOf(raw.replicas, `${at}.replicas`, p);
  if (r !== undefined) out.replicas = r;
  return out;
}

interface UnitContext {
  p: SeldonProblems;
  seen: Map<string, string>;
  containers: Map<string, string>;
}

function validateUnit(o: Obj, at: string, ctx: UnitContext): PredictiveUnit {
  const { p } = ctx;
  const name = typeof o.name === 'string' ? o.name : '';
  const where = name ? `${at} (${name})` : at;
  p.unknown(where, o, UNIT);
  if (!DNS.test(name) || name.length > 63)
    p.add(where, `name must be ${DNS_LABEL_PATTERN.means}, got ${JSON.stringify(o.name)}`);
  else if (ctx.seen.has(name)) p.add(where, `duplicate unit name '${name}' (also at ${ctx.seen.get(name)})`);
  else ctx.seen.set(name, at);
  if (o.methods !== undefined)
    p.add(
      `${where}.methods`,
      'not supported: give the unit a type (MODEL, TRANSFORMER, OUTPUT_TRANSFORMER, COMBINER, ROUTER)',
    );

  const implementation = typeof o.implementation === 'string' ? o.implementation : undefined;
  if (o.implementation !== undefined && implementation === undefined)
    p.add(where, `implementation must be a string, got ${JSON.stringify(o.implementation)}`);
  const type = unitType(o.type, implementation, where, p);
  const children: PredictiveUnit[] = [];
  if (o.children !== undefined && !Array.isArray(o.children)) p.add(where, 'children must be a list of units');
  (Array.isArray(o.children) ? o.children : []).forEach((c, i) => {
    if (isObj(c)) children.push(validateUnit(c, `${at}.children[${i}]`, ctx));
    else p.add(`${at}.children[${i}]`, 'must be a unit mapping');
  });
  const unit: PredictiveUnit = {
    name,
    type,
    children,
    parameters: parseSeldonParameters(o.parameters, where, p),
    path: at,
  };
  if (implementation !== undefined && implementation !== 'UNKNOWN_IMPLEMENTATION') unit.implementation = implementation;
  for (const k of ['modelUri', 'serviceAccountName', 'envSecretRefName', 'storageInitializerImage'] as const) {
    const v = o[k];
    if (v === undefined || v === '') continue;
    if (typeof v !== 'string') p.add(`${where}.${k}`, `must be a string, got ${JSON.stringify(v)}`);
    else unit[k] = v;
  }
  const endpoint = o.endpoint === undefined ? undefined : checkEndpoint(o.endpoint, `${where}.endpoint`, p);
  if (endpoint) unit.endpoint = endpoint;
  if (o.logger !== undefined) {
    const l = isObj(o.logger) ? o.logger : {};
    p.unknown(`${where}.logger`, l, ['mode', 'url']);
    if (l.mode !== 'all' && l.mode !== 'request' && l.mode !== 'response')
      p.add(
        `${where}.logger.mode`,
        `No logger mode specified: must be all, request or response, got ${JSON.stringify(l.mode)}`,
      );
    else unit.logger = { mode: l.mode, ...(typeof l.url === 'string' ? { url: l.url } : {}) };
  }
  if (!unit.implementation && !ctx.containers.has(name) && !endpoint?.service_host)
    p.add(
      where,
      `Can't find container for Predictive Unit: give it an implementation, a componentSpecs container named '${name}', or an endpoint.service_host`,
    );
  if (unit.implementation && (SELDON_BUILTINS as readonly string[]).includes(unit.implementation)) {
    if (unit.implementation !== 'AVERAGE_COMBINER')
      p.add(
        `${where}.implementation`,
        `${unit.implementation} is not supported: ${unit.implementation === 'RANDOM_ABTEST' ? 'split traffic between predictors with traffic: instead' : 'serve the unit from a container, or use an infergraph built-in'}`,
      );
  }
  if ((type === 'COMBINER' || type === 'ROUTER') && children.length === 0)
    p.add(where, `${type} needs at least one child`);
  return unit;
}

function unitType(raw: unknown, implementation: string | undefined, where: string, p: SeldonProblems): UnitType {
  if (raw === undefined) {
    if (implementation === 'AVERAGE_COMBINER') return 'COMBINER';
    return 'MODEL';
  }
  if ((UNIT_TYPES as readonly unknown[]).includes(raw)) return raw as UnitType;
  if (raw === 'UNKNOWN_TYPE')
    p.add(`${where}.type`, 'UNKNOWN_TYPE is not supported: give the unit its type (MODEL, TRANSFORMER, ...)');
  else p.add(`${where}.type`, `must be one of ${UNIT_TYPES.join(', ')}, got ${JSON.stringify(raw)}`);
  return 'MODEL';
}

function checkEndpoint(raw: unknown, at: string, p: SeldonProblems): SeldonEndpoint | undefined {
  if (!isObj(raw)) {
    p.add(at, 'must be a mapping with type, service_host, service_port');
    return undefined;
  }
  p.unknown(at, raw, ENDPOINT);
  const out: SeldonEndpoint = {};
  if (raw.type !== undefined && raw.type !== '') {
    if (raw.type === 'REST' || raw.type === 'GRPC') out.type = raw.type;
    else p.add(`${at}.type`, `must be REST or GRPC, got ${JSON.stringify(raw.type)}`);
  }
  if (typeof raw.service_host === 'string' && raw.service_host !== '') out.service_host = raw.service_host;
  for (const k of ['service_port', 'httpPort', 'grpcPort'] as const) {
    const v = raw[k];
    if (v === undefined || v === 0) continue;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535) out[k] = v;
    else p.add(`${at}.${k}`, `must be a port from 1 to 65535, got ${JSON.stringify(v)}`);
  }
  return out;
}

/**
 * Seldon's webhook rules across predictors: names, shadows, traffic, one transport per deployment. Returns the
 * transport the units' endpoint.type implies, if any.
 */
function checkPredictors(
  ps: PredictorSpec[],
  transport: SeldonTransport | undefined,
  p: SeldonProblems,
): SeldonTransport | undefined {
  const names = new Map<string, string>();
  for (const pr of ps) {
    if (names.has(pr.name)) p.add(pr.path, `Duplicate predictor name '${pr.name}' (also at ${names.get(pr.name)})`);
    else names.set(pr.name, pr.path);
  }
  const shadows = ps.filter((x) => x.shadow);
  if (ps.length === 1 && shadows.length === 1) p.add(`${ps[0]!.path}.shadow`, 'Shadow can not exist as only predictor');
  shadows.slice(1).forEach((s) => p.add(`${s.path}.shadow`, 'Multiple shadows are not allowed'));
  for (const s of shadows)
    if (s.traffic < 0 || s.traffic > 100)
      p.add(`${s.path}.traffic`, `a shadow's traffic must be from 0 to 100, got ${s.traffic}`);
  const live = ps.filter((x) => !x.shadow);
  const sum = live.reduce((a, x) => a + x.traffic, 0);
  const parts = live.map((x) => `${x.name} ${x.traffic}`).join(', ');
  for (const x of live)
    if (x.traffic < 0 || x.traffic > 100) p.add(`${x.path}.traffic`, `must be from 0 to 100, got ${x.traffic}`);
  if (live.length > 1 && sum !== 100)
    p.add(
      'spec.predictors',
      `Traffic must sum to 100 for multiple predictors (shadows excluded): got ${sum} (${parts})`,
    );
  if (live.length === 1 && sum > 0 && sum < 100)
    p.add(`${live[0]!.path}.traffic`, `Traffic must be 100 for a single predictor when set, got ${sum}`);

  const types = new Set(
    ps.flatMap((pr) => walkUnits(pr.graph).flatMap((u) => (u.endpoint?.type ? [u.endpoint.type] : []))),
  );
  if (types.size > 1) {
    p.add('spec', 'Multiple endpoint.types found - can only have 1 type in graph. Please use spec.transport');
    return undefined;
  }
  const only = [...types][0];
  if (only && transport && only !== transport.toUpperCase())
    p.add('spec', 'Mixed transport types found. Remove graph endpoint.types if transport set at deployment level');
  return only === 'GRPC' ? 'grpc' : only === 'REST' ? 'rest' : undefined;
}
