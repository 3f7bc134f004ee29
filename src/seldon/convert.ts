import { createHash } from 'node:crypto';
import { builtinNames } from '../components/catalog';
import { API_VERSION, KIND } from '../graph/manifest';
import { MODEL_MOUNT_PATH } from '../k8s/container-node';
import { typedValue } from './parameters';
import { planPorts, type PortPlan, type UnitPorts } from './ports';
import type { SeldonProblems } from './problems';
import { DEFAULT_SERVERS, imageOf, SELDON_BUILTINS, TFSERVING, type ServerTable } from './servers';
import { ANNOTATIONS } from './validate';
import {
  walkUnits,
  type Json,
  type PredictiveUnit,
  type PredictorSpec,
  type SeldonDeployment,
  type SeldonParameter,
  type SeldonPodSpec,
} from './types';

/**
 * SeldonDeployment → one InferenceGraph. A lone predictor becomes a graph named `<deployment>-<predictor>` (Seldon's
 * own name for the predictor) with `spec.graph`; several become one graph named `<deployment>` with
 * `spec.predictors` (traffic, shadow, labels) behind one executor, each unit's node named `<predictor>-<unit>` so
 * names never collide. Either way node objects get Seldon's container service names `<deployment>-<predictor>-<unit>`.
 * What the InferenceGraph has no field for travels in its metadata: annotations infergraph.dev/{seldon-deployment,
 * predictor, traffic, shadow, seldon-protocol} and the predictor's labels; a unit's logger becomes the node's logger. Units map to nodes: an
 * infergraph built-in by its name, a componentSpecs container or a prepackaged server to runtime.container (Seldon's
 * ports and parameters), an endpoint.service_host to `endpoint`.
 */

export const ANNOTATION = {
  deployment: 'infergraph.dev/seldon-deployment',
  predictor: 'infergraph.dev/predictor',
  traffic: 'infergraph.dev/traffic',
  shadow: 'infergraph.dev/shadow',
  protocol: 'infergraph.dev/seldon-protocol',
} as const;

export interface ConvertOptions {
  servers?: ServerTable;
}

/** Infergraph's names for Seldon's own implementations. */
const SELDON_TO_BUILTIN: Record<string, string> = { AVERAGE_COMBINER: 'average-combiner' };
const DEFAULT_DEADLINE_MS = 10_000;

export function isPrepackaged(impl: string | undefined): boolean {
  return impl !== undefined && !(SELDON_BUILTINS as readonly string[]).includes(impl) && !builtinNames().includes(impl);
}

interface Ctx {
  sdep: SeldonDeployment;
  pr: PredictorSpec;
  servers: ServerTable;
  ports: PortPlan;
  p: SeldonProblems;
  /** container name -> its componentSpec */
  owner: Map<string, SeldonPodSpec>;
  /** componentSpec -> the first unit container in it: the pod its other containers (sidecars) join */
  host: Map<SeldonPodSpec, string>;
  /** The node name of a unit: `<predictor>-<unit>` when the deployment has several predictors. */
  node: (unit: string) => string;
}

export function convertSeldonDeployment(sdep: SeldonDeployment, p: SeldonProblems, opts: ConvertOptions = {}): Json[] {
  const servers = opts.servers ?? DEFAULT_SERVERS;
  const ports = planPorts(sdep, isPrepackaged);
  const several = sdep.predictors.length > 1;
  const ctxs = sdep.predictors.map((pr): Ctx => {
    const units = new Set(walkUnits(pr.graph).map((u) => u.name));
    const owner = new Map<string, SeldonPodSpec>();
    const host = new Map<SeldonPodSpec, string>();
    for (const cs of pr.componentSpecs)
      for (const c of cs.spec.containers) {
        owner.set(c.name, cs);
        if (units.has(c.name) && !host.has(cs)) host.set(cs, c.name);
      }
    pr.componentSpecs.forEach((cs, j) => {
      if (!host.has(cs))
        p.add(
          `${pr.path}.componentSpecs[${j}]`,
          'no container of this pod is a graph unit: name one after the unit it serves',
        );
    });
    const node = (unit: string): string => (several ? `${pr.name}-${unit}` : unit);
    return { sdep, pr, servers, ports, p, owner, host, node };
  });
  return several ? [deploymentManifest(ctxs)] : ctxs.map(predictorManifest);
}

/**
 * Several predictors: one graph with spec.predictors, served by one executor (Seldon runs an executor per predictor
 * behind Istio; here the executor splits and mirrors). The executor's settings (timeouts, message size, svcOrchSpec)
 * come from the first live predictor; another predictor asking for different ones gets a warning.
 */
function deploymentManifest(ctxs: Ctx[]): Json {
  const first = ctxs.find((c) => !c.pr.shadow) ?? ctxs[0]!;
  const { sdep, p } = first;
  const annotations: Record<string, string> = { ...sdep.annotations };
  for (const c of ctxs)
    for (const [k, v] of Object.entries(c.pr.annotations)) {
      if (annotations[k] !== undefined && annotations[k] !== v && !(k in sdep.annotations))
        p.warn(
          `${c.pr.path}.annotations.${k}`,
          `one executor serves all predictors: ${JSON.stringify(annotations[k])} applies`,
        );
      else annotations[k] ??= v;
    }
  annotations[ANNOTATION.deployment] = sdep.name;
  if (sdep.protocol !== 'seldon') annotations[ANNOTATION.protocol] = sdep.protocol;
  const spec: Json = { ...limits(first, { ...sdep.annotations, ...first.pr.annotations }) };
  const executor = executorOf(first);
  if (executor) spec.executor = executor;
  const settings = JSON.stringify(spec);
  for (const c of ctxs) {
    if (c === first) continue;
    const own: Json = { ...limits(c, { ...sdep.annotations, ...c.pr.annotations }) };
    const ex = executorOf(c);
    if (ex) own.executor = ex;
    if (JSON.stringify(own) !== settings)
      p.warn(
        c.pr.path,
        `one executor serves all predictors: predictor ${first.pr.name}'s timeouts, message size and svcOrchSpec apply`,
      );
  }
  spec.predictors = ctxs.map((c) => ({
    name: c.pr.name,
    // A lone live predictor takes all (Seldon's rule); a shadow's traffic is the percent mirrored, 0 meaning all.
    ...(c.pr.shadow ? (c.pr.traffic > 0 ? { traffic: c.pr.traffic } : {}) : { traffic: trafficOf(c) }),
    ...(c.pr.shadow ? { shadow: true } : {}),
    ...(Object.keys(c.pr.labels).length ? { labels: { ...c.pr.labels } } : {}),
    graph: nodeOf(c.pr.graph, c),
  }));
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: graphName(first, sdep.name, Math.max(...ctxs.map(longestNode))),
      ...(sdep.namespace ? { namespace: sdep.namespace } : {}),
      annotations,
    },
    spec,
  };
}

function predictorManifest(ctx: Ctx): Json {
  const { sdep, pr } = ctx;
  const annotations: Record<string, string> = {
    ...sdep.annotations,
    ...pr.annotations,
    [ANNOTATION.deployment]: sdep.name,
    [ANNOTATION.predictor]: pr.name,
    [ANNOTATION.traffic]: String(trafficOf(ctx)),
  };
  if (pr.shadow) annotations[ANNOTATION.shadow] = 'true';
  if (sdep.protocol !== 'seldon') annotations[ANNOTATION.protocol] = sdep.protocol;
  const spec: Json = { ...limits(ctx, annotations) };
  // Units that are Seldon components (containers, servers, endpoints) get tensors as Seldon's wrapper decodes them
  // without TensorFlow: `tensor`, not infergraph's default tftensor. Graphs with infergraph built-ins keep tftensor.
  if (
    walkUnits(pr.graph).every(
      (u) => !u.implementation || isPrepackaged(u.implementation) || u.implementation in SELDON_TO_BUILTIN,
    )
  )
    spec.codec = 'tensor';
  const executor = executorOf(ctx);
  if (executor) spec.executor = executor;
  spec.graph = nodeOf(pr.graph, ctx);
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: graphName(ctx, `${sdep.name}-${pr.name}`, longestNode(ctx)),
      ...(sdep.namespace ? { namespace: sdep.namespace } : {}),
      labels: { ...pr.labels },
      annotations,
    },
    spec,
  };
}

/** Seldon's traffic: a lone live predictor takes all of it, whatever it says; a shadow's is the share mirrored. */
function trafficOf({ sdep, pr }: Ctx): number {
  const live = sdep.predictors.filter((x) => !x.shadow);
  return !pr.shadow && live.length === 1 ? 100 : pr.traffic;
}

/**
 * `<deployment>-<predictor>`; when that makes a node's objects' names (`<graph>-<unit>`) longer than Kubernetes
 * allows, Seldon's own rule for long names: `seldon-` and a hash (the annotations still name both).
 */
function graphName(ctx: Ctx, plain: string, longest: number): string {
  if (plain.length + 1 + longest <= 63) return plain;
  const hashed = `seldon-${createHash('md5').update(plain).digest('hex').slice(0, 10)}`;
  if (hashed.length + 1 + longest > 63)
    ctx.p.add(
      ctx.pr.path,
      `a unit name is too long for Kubernetes object names: keep unit names to ${62 - hashed.length} characters`,
    );
  return hashed;
}

/** Seldon's timeout and message-size annotations → the executor's deadline and message limit. */
/** The longest node name of a predictor's graph, or the executor's object suffix. */
const longestNode = (ctx: Ctx): number =>
  Math.max(...walkUnits(ctx.pr.graph).map((u) => ctx.node(u.name).length), 'executor'.length);

function limits(ctx: Ctx, ann: Record<string, string>): Json {
  const out: Json = {};
  const int = (key: string, min: number): number | undefined => {
    const v = ann[key];
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v.trim()) || Number(v) < min) {
      ctx.p.add(`${ctx.pr.path}: annotation ${key}`, `must be an integer >= ${min}, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return Number(v);
  };
  const rest = int(ANNOTATIONS.restTimeout, 1);
  const grpc = int(ANNOTATIONS.grpcTimeout, 1);
  // The executor's one deadline: the timeout of the transport the deployment uses, else the other one given.
  const deadline = ctx.sdep.transport === 'grpc' ? (grpc ?? rest) : (rest ?? grpc);
  if (deadline !== undefined && deadline !== DEFAULT_DEADLINE_MS) out.deadlineMs = deadline;
  const max = int(ANNOTATIONS.grpcMaxMessageSize, 1024);
  if (max !== undefined) out.maxMessageBytes = max;
  return out;
}

/** svcOrchSpec (and the older engineResources): Seldon's executor pod → spec.executor. */
function executorOf(ctx: Ctx): Json | undefined {
  const { pr, p } = ctx;
  const s = pr.svcOrchSpec;
  const out: Json = {};
  if (s.replicas !== undefined) out.replicas = Math.max(1, s.replicas);
  const env: Record<string, string> = {};
  s.env.forEach((e, i) => {
    if (typeof e.name === 'string' && typeof e.value === 'string') env[e.name] = e.value;
    else if (typeof e.name === 'string')
      p.warn(`${pr.path}.svcOrchSpec.env[${i}] (${e.name})`, 'ignored: the executor takes plain values only');
  });
  if (Object.keys(env).length) out.env = env;
  const res = s.resources ?? pr.engineResources;
  if (res) {
    const pick = (q: unknown): Json | undefined => {
      if (typeof q !== 'object' || q === null) return undefined;
      const { cpu, memory } = q as Json;
      const o: Json = {};
      if (cpu !== undefined) o.cpu = cpu;
      if (memory !== undefined) o.memory = memory;
      return Object.keys(o).length ? o : undefined;
    };
    const requests = pick(res.requests);
    const lim = pick(res.limits);
    if (requests || lim) out.resources = { ...(requests ? { requests } : {}), ...(lim ? { limits: lim } : {}) };
  }
  return Object.keys(out).length ? out : undefined;
}

function nodeOf(u: PredictiveUnit, ctx: Ctx): Json {
  const where = `${u.path} (${u.name})`;
  const node: Json = { name: ctx.node(u.name), type: u.type };
  // Seldon's unit logger is the node's logger field, same shape ({mode, url}); without url, the executor's default.
  if (u.logger) node.logger = { ...u.logger };
  const children = u.children.map((c) => nodeOf(c, ctx));
  if (children.length) node.children = children;
  const cs = ctx.owner.get(u.name);
  const container = cs?.spec.containers.find((c) => c.name === u.name);
  const runtime: Json = {};
  const replicas = cs?.replicas ?? ctx.pr.replicas;
  if (replicas !== 1) runtime.replicas = Math.max(1, replicas);
  const builtin =
    u.implementation &&
    (SELDON_TO_BUILTIN[u.implementation] ?? (isPrepackaged(u.implementation) ? undefined : u.implementation));

  if (builtin) {
    node.implementation = builtin;
    if (u.parameters.length) node.parameters = Object.fromEntries(u.parameters.map((x) => [x.name, typedValue(x)]));
    if (u.modelUri)
      ctx.p.add(
        `${where}.modelUri`,
        `does not apply to the infergraph built-in '${builtin}': give its parameters instead`,
      );
    if (container) ctx.p.warn(where, `container '${u.name}' ignored: the unit runs infergraph's built-in ${builtin}`);
  } else if (u.implementation || container) {
    if (ctx.sdep.protocol === 'v2') {
      ctx.p.add(
        where,
        `protocol v2 needs the model to speak the V2 protocol to the executor, which calls nodes over Seldon's protocol: use protocol: seldon for ${u.implementation ?? 'this container'}, or an infergraph built-in`,
      );
      return node;
    }
    const c = containerOf(u, container, cs, ctx);
    if (!c) return node;
    runtime.container = c;
    const hpa = cs?.hpaSpec;
    if (hpa)
      runtime.autoscaling = {
        ...(hpa.minReplicas !== undefined ? { minReplicas: hpa.minReplicas } : {}),
        maxReplicas: hpa.maxReplicas,
        ...(hpa.metrics.length ? { metrics: hpa.metrics } : {}),
      };
  } else if (u.endpoint?.service_host) {
    const port = u.endpoint.service_port;
    if (port === undefined)
      ctx.p.add(
        `${where}.endpoint`,
        'service_port is required with service_host (the unit is not started by infergraph)',
      );
    // Called as Seldon's executor calls it: its REST node API under transport rest, gRPC otherwise.
    const hostPort = `${u.endpoint.service_host}:${port ?? 0}`;
    node.endpoint = ctx.sdep.transport === 'rest' ? `http://${hostPort}` : hostPort;
  }
  if (Object.keys(runtime).length) node.runtime = runtime;
  return node;
}

/** A unit served by a container: its own from componentSpecs, or a prepackaged server's from the image table. */
function containerOf(
  u: PredictiveUnit,
  given: (Json & { name: string }) | undefined,
  cs: SeldonPodSpec | undefined,
  ctx: Ctx,
): Json | undefined {
  const where = `${u.path} (${u.name})`;
  const ports: UnitPorts = ctx.ports.get(ctx.pr.name)?.get(u.name) ?? { http: 9000, grpc: 9500, metrics: 6000 };
  let image = typeof given?.image === 'string' && given.image !== '' ? given.image : undefined;
  let parameters: SeldonParameter[] = u.parameters;
  const sidecars: Json[] = [];
  const impl = u.implementation;
  if (impl) {
    const server = ctx.servers[impl];
    const seldon = server?.protocols.seldon;
    if (!server && !image) {
      ctx.p.add(
        `${where}.implementation`,
        `No entry in predictors map for ${impl}: add it to the server table (--servers FILE, Seldon's predictor_servers shape) or give a componentSpecs container '${u.name}' an image`,
      );
      return undefined;
    }
    if (server && !seldon && !image) {
      ctx.p.add(
        `${where}.implementation`,
        `${impl} speaks only the V2 protocol, and the executor calls nodes over Seldon's protocol: serve the model from a Seldon-protocol image (a componentSpecs container), or an infergraph built-in`,
      );
      return undefined;
    }
    if (!u.modelUri && impl !== 'HUGGINGFACE_SERVER')
      ctx.p.add(
        `${where}.modelUri`,
        `required for the prepackaged server ${impl} (where its model is: gs://, s3://, pvc://...)`,
      );
    image ??= seldon ? imageOf(seldon) : undefined;
    if (impl === 'TENSORFLOW_SERVER') {
      const tf = server?.protocols.tensorflow;
      const has = (n: string): boolean => parameters.some((x) => x.name === n);
      parameters = [
        ...parameters,
        ...(has('rest_endpoint') || has('grpc_endpoint')
          ? []
          : [
              { name: 'rest_endpoint', type: 'STRING' as const, value: `http://0.0.0.0:${TFSERVING.restPort}` },
              { name: 'grpc_endpoint', type: 'STRING' as const, value: `0.0.0.0:${TFSERVING.grpcPort}` },
            ]),
        { name: 'model_name', type: 'STRING', value: u.name },
      ];
      sidecars.push({
        name: TFSERVING.container,
        image: tf ? imageOf(tf) : 'tensorflow/serving:2.1.0',
        imagePullPolicy: 'IfNotPresent',
        args: [
          `--port=${TFSERVING.grpcPort}`,
          `--rest_api_port=${TFSERVING.restPort}`,
          `--model_name=${u.name}`,
          `--model_base_path=${MODEL_MOUNT_PATH}`,
        ],
        ports: [
          { containerPort: TFSERVING.grpcPort, protocol: 'TCP' },
          { containerPort: TFSERVING.restPort, protocol: 'TCP' },
        ],
      });
    } else parameters = [...parameters, { name: 'model_uri', type: 'STRING', value: MODEL_MOUNT_PATH }];
  }
  if (!image) {
    ctx.p.add(`${where}`, `componentSpecs container '${u.name}' needs an image`);
    return undefined;
  }
  const out: Json = {
    image,
    transport: ctx.sdep.transport,
    httpPort: ports.http,
    grpcPort: ports.grpc,
    metricsPort: ports.metrics,
  };
  if (parameters.length) out.parameters = parameters;
  if (u.modelUri) out.modelUri = u.modelUri;
  if (u.envSecretRefName) out.envSecretRefName = u.envSecretRefName;
  if (u.storageInitializerImage) out.storageInitializerImage = u.storageInitializerImage;
  if (given) {
    const { name: _n, image: _i, ...rest } = given;
    if (Object.keys(rest).length) out.container = rest;
  }
  const pod = podFields(u, cs, ctx, sidecars);
  if (pod) out.pod = pod;
  const md = cs?.metadata;
  if (md && (Object.keys(md.labels).length || Object.keys(md.annotations).length))
    out.podMetadata = {
      ...(Object.keys(md.labels).length ? { labels: md.labels } : {}),
      ...(Object.keys(md.annotations).length ? { annotations: md.annotations } : {}),
    };
  return out;
}

/** The componentSpec's PodSpec without its unit containers; its other containers join the pod of its first unit. */
function podFields(u: PredictiveUnit, cs: SeldonPodSpec | undefined, ctx: Ctx, sidecars: Json[]): Json | undefined {
  const { containers, ...rest } = cs?.spec ?? { containers: [] };
  const units = new Set(walkUnits(ctx.pr.graph).map((x) => x.name));
  const own = cs && ctx.host.get(cs) === u.name ? containers.filter((c) => !units.has(c.name)) : [];
  const all = [...own, ...sidecars];
  const out: Json = { ...rest };
  if (all.length) out.containers = all;
  if (u.serviceAccountName) out.serviceAccountName = u.serviceAccountName;
  return Object.keys(out).length ? out : undefined;
}
