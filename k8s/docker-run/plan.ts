import { parseAllDocuments } from 'yaml';

/**
 * Turns the Kubernetes objects that `infergraph render` emits into docker containers that behave like the pods:
 * one container per pod (per replica), named after the pod's Service, with the pod's exact container arguments,
 * environment, volume mounts and security settings. Pure (no docker calls), so it is unit-tested anywhere; run.ts
 * carries the plan out. Generic over Deployments, Services and ConfigMaps: nothing here knows infergraph's flags.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export interface K8sObject {
  kind: string;
  name: string;
  raw: Obj;
}

export interface Mount {
  /** Host path (bind mount) or docker volume name. */
  source: string;
  kind: 'bind' | 'volume';
  target: string;
  readOnly: boolean;
}

export interface ContainerPlan {
  /** Docker container name: the Service name, or `<service>-<i>` for replica i of several. */
  name: string;
  hostname: string;
  /** DNS names on the network: the Service name, shared by all replicas (docker's DNS answers with all of them). */
  aliases: string[];
  image: string;
  entrypoint?: string;
  args: string[];
  env: Record<string, string>;
  mounts: Mount[];
  user?: string;
  readOnlyRoot: boolean;
  noNewPrivileges: boolean;
  capDrop: string[];
  cpus?: number;
  memoryBytes?: number;
  /** Container ports published on 127.0.0.1 (random host ports). */
  publish: number[];
  /** gRPC health port a readiness/startup probe checks, if any. */
  grpcProbe?: { port: number; service: string };
}

export interface PodPlan {
  deployment: string;
  service: string;
  replica: number;
  /** Docker volumes to create for the pod's emptyDir volumes. */
  volumes: string[];
  /**
   * Run once, as root, before the init containers: gives the emptyDir volumes what the kubelet gives them (mode 0777,
   * and with the pod's fsGroup its group and the setgid bit). Docker creates named volumes root-owned 0755, where a
   * non-root pod (the images run as uid 10001) could not write.
   */
  prepare?: ContainerPlan;
  init: ContainerPlan[];
  main: ContainerPlan;
}

export interface Plan {
  runId: string;
  network: string;
  /** Files to write before starting (ConfigMap data), host path -> content. */
  files: Record<string, string>;
  pods: PodPlan[];
  notes: string[];
}

export interface PlanOptions {
  runId: string;
  /**
   * infergraph's image, replacing the pod's where the pod runs infergraph (there is no registry to pull the rendered
   * one from): every container whose image is not in `keepImages`.
   */
  image?: string;
  /** Images run as they are (a user's model container, built locally). */
  keepImages?: string[];
  /** Where ConfigMap files are written on the host. */
  workDir: string;
  /** Services whose ports are published on 127.0.0.1 (default: those named *-executor). */
  publish?: (serviceName: string) => boolean;
  /** Host folder mounted read-only at /shared, with INFERGRAPH_SHARED=/shared, when a ConfigMap mentions it. */
  shared?: string;
  namespace?: string;
}

export function parseObjects(text: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`invalid YAML: ${doc.errors[0]?.message}`);
    const o = doc.toJS() as unknown;
    if (o === null || o === undefined) continue;
    const items = isObj(o) && o.kind === 'List' ? arr(o.items) : [o];
    for (const it of items) {
      if (!isObj(it) || typeof it.kind !== 'string' || !isObj(it.metadata) || typeof it.metadata.name !== 'string') {
        throw new Error(`not a Kubernetes object (kind and metadata.name needed): ${JSON.stringify(it).slice(0, 120)}`);
      }
      out.push({ kind: it.kind, name: it.metadata.name, raw: it });
    }
  }
  return out;
}

const selects = (selector: unknown, labels: unknown): boolean =>
  isObj(selector) &&
  Object.keys(selector).length > 0 &&
  isObj(labels) &&
  Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Kubernetes CPU quantity ("500m", "2") to cores. */
export function cpuCores(q: unknown): number | undefined {
  const s = typeof q === 'number' ? String(q) : str(q);
  if (!s) return undefined;
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(s);
  if (!m) throw new Error(`cannot read CPU quantity '${s}'`);
  return Number(m[1]) / (m[2] ? 1000 : 1);
}

/** Kubernetes memory quantity ("512Mi", "1G", "1000") to bytes. */
export function memoryBytes(q: unknown): number | undefined {
  const s = typeof q === 'number' ? String(q) : str(q);
  if (!s) return undefined;
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|K|M|G|T)?$/.exec(s);
  if (!m) throw new Error(`cannot read memory quantity '${s}'`);
  const unit: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    k: 1e3,
    K: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return Math.round(Number(m[1]) * (m[2] ? (unit[m[2]] as number) : 1));
}

export function planGraph(objects: K8sObject[], o: PlanOptions): Plan {
  const plan: Plan = { runId: o.runId, network: o.runId, files: {}, pods: [], notes: [] };
  const services = objects.filter((x) => x.kind === 'Service');
  const configMaps = new Map(objects.filter((x) => x.kind === 'ConfigMap').map((x) => [x.name, x.raw]));
  const publish = o.publish ?? ((s: string) => s.endsWith('-executor'));
  const needsShared = [...configMaps.values()].some((cm) =>
    JSON.stringify(cm.data ?? {}).includes('${INFERGRAPH_SHARED'),
  );
  const deployments = objects.filter((x) => x.kind === 'Deployment');
  if (!deployments.length) throw new Error('no Deployment among the objects: nothing to run');
  for (const x of objects) {
    if (!['Deployment', 'Service', 'ConfigMap'].includes(x.kind))
      plan.notes.push(`${x.kind} ${x.name}: no docker equivalent, left out`);
  }

  for (const d of deployments) {
    const spec = isObj(d.raw.spec) ? d.raw.spec : {};
    const tmpl = isObj(spec.template) ? spec.template : {};
    const podSpec = isObj(tmpl.spec) ? tmpl.spec : {};
    const labels = isObj(tmpl.metadata) ? tmpl.metadata.labels : undefined;
    const svc = services.find((s) => selects(isObj(s.raw.spec) ? s.raw.spec.selector : undefined, labels));
    if (!svc)
      plan.notes.push(`Deployment ${d.name}: no Service selects its pods; containers are named after the Deployment`);
    const service = svc?.name ?? d.name;
    const replicas = typeof spec.replicas === 'number' ? spec.replicas : 1;
    const containers = arr(podSpec.containers).filter(isObj);
    if (containers.length !== 1)
      throw new Error(`Deployment ${d.name}: docker-run runs pods of exactly one container, got ${containers.length}`);
    const ports = svc ? arr(isObj(svc.raw.spec) ? svc.raw.spec.ports : []).filter(isObj) : [];
    // A Service's targetPort is a number or the name of a container port.
    const named = new Map(
      arr((containers[0] as Obj).ports)
        .filter(isObj)
        .map((p) => [str(p.name), Number(p.containerPort)] as const),
    );
    const target = (p: Obj): number =>
      typeof p.targetPort === 'string' ? (named.get(p.targetPort) ?? NaN) : Number(p.targetPort ?? p.port);
    const published = publish(service) ? ports.map(target).filter(Number.isInteger) : [];

    for (let i = 0; i < replicas; i++) {
      const podName = replicas === 1 ? service : `${service}-${i}`;
      const volumes = new Map<string, Mount | null>();
      const dockerVolumes: string[] = [];
      for (const v of arr(podSpec.volumes).filter(isObj)) {
        const name = str(v.name) ?? '';
        if (isObj(v.configMap)) {
          const cm = configMaps.get(str(v.configMap.name) ?? '');
          if (!cm)
            throw new Error(
              `Deployment ${d.name}: volume ${name} needs ConfigMap ${String(v.configMap.name)}, not among the objects`,
            );
          const dir = `${o.workDir}/configmap-${String(v.configMap.name)}`;
          const data = isObj(cm.data) ? cm.data : {};
          for (const [k, val] of Object.entries(data)) plan.files[`${dir}/${k}`] = String(val);
          volumes.set(name, { source: dir, kind: 'bind', target: '', readOnly: true });
        } else if (isObj(v.emptyDir)) {
          const vol = `${o.runId}-${podName}-${name}`;
          dockerVolumes.push(vol);
          volumes.set(name, { source: vol, kind: 'volume', target: '', readOnly: false });
        } else if (isObj(v.hostPath) && str(v.hostPath.path)) {
          volumes.set(name, { source: str(v.hostPath.path) as string, kind: 'bind', target: '', readOnly: false });
        } else {
          volumes.set(name, null);
          plan.notes.push(
            `Deployment ${d.name}: volume ${name} (${Object.keys(v)
              .filter((k) => k !== 'name')
              .join()}) has no docker equivalent here`,
          );
        }
      }
      const build = (c: Obj, cname: string): ContainerPlan =>
        containerPlan(
          c,
          podSpec,
          cname,
          volumes,
          o,
          {
            name: podName,
            namespace: o.namespace ?? str(isObj(d.raw.metadata) ? d.raw.metadata.namespace : undefined) ?? 'default',
          },
          needsShared,
        );
      const init = arr(podSpec.initContainers)
        .filter(isObj)
        .map((c, k) => build(c, `${podName}-init-${k}`));
      const main = { ...build(containers[0] as Obj, podName), aliases: [service], publish: published };
      const pod: PodPlan = { deployment: d.name, service, replica: i, volumes: dockerVolumes, init, main };
      const prepare = prepareVolumes(dockerVolumes, podSpec, `${podName}-volumes`, podName, o.image ?? main.image);
      if (prepare) pod.prepare = prepare;
      plan.pods.push(pod);
    }
  }
  return plan;
}

/** What the kubelet does to a pod's emptyDirs before its containers start: 0777, and fsGroup's group with setgid. */
function prepareVolumes(
  volumes: string[],
  podSpec: Obj,
  name: string,
  hostname: string,
  image: string,
): ContainerPlan | undefined {
  if (!volumes.length) return undefined;
  const psc = isObj(podSpec.securityContext) ? podSpec.securityContext : {};
  const fsGroup = typeof psc.fsGroup === 'number' && Number.isInteger(psc.fsGroup) ? psc.fsGroup : undefined;
  const dirs = volumes.map((_, i) => `/volumes/${i}`);
  const steps = [`chmod 0777 ${dirs.join(' ')}`];
  if (fsGroup !== undefined) steps.push(`chgrp ${fsGroup} ${dirs.join(' ')}`, `chmod g+s ${dirs.join(' ')}`);
  return {
    name,
    hostname,
    aliases: [],
    image,
    entrypoint: 'sh',
    args: ['-c', steps.join(' && ')],
    env: {},
    mounts: volumes.map((v, i) => ({ source: v, kind: 'volume', target: dirs[i] as string, readOnly: false })),
    user: '0:0',
    readOnlyRoot: false,
    noNewPrivileges: true,
    capDrop: [],
    publish: [],
  };
}

function containerPlan(
  c: Obj,
  podSpec: Obj,
  name: string,
  volumes: Map<string, Mount | null>,
  o: PlanOptions,
  pod: { name: string; namespace: string },
  needsShared: boolean,
): ContainerPlan {
  const command = arr(c.command).map(String);
  const args = [...command.slice(1), ...arr(c.args).map(String)];
  const env: Record<string, string> = {};
  for (const e of arr(c.env).filter(isObj)) {
    const k = str(e.name);
    if (!k) continue;
    if (e.value !== undefined) env[k] = typeof e.value === 'string' ? e.value : JSON.stringify(e.value);
    else if (isObj(e.valueFrom) && isObj(e.valueFrom.fieldRef)) {
      const f = e.valueFrom.fieldRef.fieldPath;
      if (f === 'metadata.name') env[k] = pod.name;
      else if (f === 'metadata.namespace') env[k] = pod.namespace;
    }
  }
  const mounts: Mount[] = [];
  for (const m of arr(c.volumeMounts).filter(isObj)) {
    const v = volumes.get(str(m.name) ?? '');
    if (!v) continue;
    const target = str(m.mountPath) ?? '';
    const sub = str(m.subPath);
    mounts.push({
      ...v,
      source: sub && v.kind === 'bind' ? `${v.source}/${sub}` : v.source,
      target,
      readOnly: v.readOnly || m.readOnly === true,
    });
  }
  if (needsShared && o.shared && env.INFERGRAPH_SHARED === undefined) {
    mounts.push({ source: o.shared, kind: 'bind', target: '/shared', readOnly: true });
    env.INFERGRAPH_SHARED = '/shared';
  }
  const psc = isObj(podSpec.securityContext) ? podSpec.securityContext : {};
  const sc = isObj(c.securityContext) ? c.securityContext : {};
  const uid = sc.runAsUser ?? psc.runAsUser;
  const gid = sc.runAsGroup ?? psc.runAsGroup;
  const caps = isObj(sc.capabilities) ? arr(sc.capabilities.drop).map(String) : [];
  const limits = isObj(c.resources) && isObj(c.resources.limits) ? c.resources.limits : {};
  const probe = [c.readinessProbe, c.startupProbe].find((p) => isObj(p) && isObj(p.grpc)) as Obj | undefined;
  const grpc = probe && isObj(probe.grpc) ? probe.grpc : undefined;
  const plan: ContainerPlan = {
    name,
    hostname: pod.name,
    aliases: [],
    image: o.image && !(o.keepImages ?? []).includes(str(c.image) ?? '') ? o.image : (str(c.image) ?? ''),
    args,
    env,
    mounts,
    readOnlyRoot: sc.readOnlyRootFilesystem === true,
    noNewPrivileges: sc.allowPrivilegeEscalation === false,
    capDrop: caps,
    publish: [],
  };
  if (command[0]) plan.entrypoint = command[0];
  const id = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
  if (uid !== undefined) plan.user = gid !== undefined ? `${id(uid)}:${id(gid)}` : id(uid);
  const cpus = cpuCores(limits.cpu);
  if (cpus !== undefined) plan.cpus = cpus;
  const mem = memoryBytes(limits.memory);
  if (mem !== undefined) plan.memoryBytes = mem;
  if (grpc && Number.isInteger(Number(grpc.port)))
    plan.grpcProbe = { port: Number(grpc.port), service: str(grpc.service) ?? '' };
  return plan;
}

/** `docker run` arguments for one container (after `run`), detached unless `once`. */
export function dockerRunArgs(c: ContainerPlan, network: string, label: string, once = false): string[] {
  const a = once ? ['run', '--rm'] : ['run', '-d'];
  // A pod's host name is its name; init containers share their pod's.
  a.push('--name', c.name, '--hostname', c.hostname, '--network', network, '--label', label);
  for (const al of c.aliases) a.push('--network-alias', al);
  if (c.user) a.push('--user', c.user);
  if (c.readOnlyRoot) a.push('--read-only');
  if (c.noNewPrivileges) a.push('--security-opt', 'no-new-privileges');
  for (const cap of c.capDrop) a.push('--cap-drop', cap);
  if (c.cpus !== undefined) a.push('--cpus', String(c.cpus));
  if (c.memoryBytes !== undefined) a.push('--memory', String(c.memoryBytes));
  for (const p of c.publish) a.push('--publish', `127.0.0.1::${p}`);
  for (const [k, v] of Object.entries(c.env)) a.push('--env', `${k}=${v}`);
  for (const m of c.mounts) {
    a.push('--mount', `type=${m.kind},source=${m.source},target=${m.target}${m.readOnly ? ',readonly' : ''}`);
  }
  if (c.entrypoint) a.push('--entrypoint', c.entrypoint);
  a.push(c.image, ...c.args);
  return a;
}
