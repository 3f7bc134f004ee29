import type { ContainerRuntime, NodeSpec } from '../graph/spec';
import type { Json } from './pod';
import { servicePort as servicePortOf, unitEnv, unitPorts, type SeldonIdentity } from './unit-env';

/**
 * A node served by a user's container (runtime.container), rendered as Seldon Core v1's operator renders a
 * componentSpecs container matched to a graph unit: its named ports (http, grpc, metrics), Seldon's environment
 * contract (PREDICTIVE_UNIT_*, PREDICTOR_*, SELDON_*; unit-env.ts, shared with `up`'s docker runner), TCP probes and a preStop sleep unless the container has its
 * own, the pod-info volume Seldon's Python wrapper reads, and `modelUri` fetched into /mnt/models by a storage
 * initializer init container. The PodSpec's own settings are kept; so is every field of the container as written.
 */

/** Where the storage initializer puts the model and the servers read it (Seldon's DefaultModelLocalMountPath). */
export const MODEL_MOUNT_PATH = '/mnt/models';
/** Seldon Core 1.17.1's storageInitializer chart values. */
export const STORAGE_INITIALIZER = {
  image: 'seldonio/rclone-storage-initializer:1.17.1',
  resources: { requests: { cpu: '100m', memory: '100Mi' }, limits: { cpu: '1', memory: '1Gi' } },
};
export const PODINFO = { volume: 'seldon-podinfo', path: '/etc/podinfo' } as const;
const PVC_PREFIX = 'pvc://';
const PVC_SOURCE = { volume: 'kfserving-pvc-source', path: '/mnt/pvc' } as const;

export interface ContainerPieces {
  container: Json;
  sidecars: Json[];
  initContainers: Json[];
  volumes: Json[];
  /** PodSpec fields besides containers, initContainers and volumes, as the user wrote them. */
  pod: Json;
  ports: number[];
}

const hasPort = (ports: Json[], name: string): Json | undefined => ports.find((p) => p.name === name);

export function containerPieces(n: NodeSpec, rt: ContainerRuntime, id: SeldonIdentity): ContainerPieces {
  const given = { ...(rt.container ?? {}) };
  const ports = Array.isArray(given.ports) ? [...(given.ports as Json[])] : [];
  const unit = unitPorts(rt);
  const { http, grpc, metrics } = unit;
  if (!hasPort(ports, 'metrics')) ports.push({ name: 'metrics', containerPort: metrics, protocol: 'TCP' });
  if (!hasPort(ports, 'http')) ports.push({ name: 'http', containerPort: http, protocol: 'TCP' });
  if (!hasPort(ports, 'grpc')) ports.push({ name: 'grpc', containerPort: grpc, protocol: 'TCP' });
  const servicePort = servicePortOf(rt.transport, unit);
  const env = unitEnv(n, rt, id, unit);

  const tcp = (initialDelaySeconds: number): Json => ({
    tcpSocket: { port: servicePort },
    initialDelaySeconds,
    periodSeconds: 5,
    successThreshold: 1,
    failureThreshold: 3,
    timeoutSeconds: 1,
  });
  const mounts = Array.isArray(given.volumeMounts) ? [...(given.volumeMounts as Json[])] : [];
  if (!mounts.some((m) => m.name === PODINFO.volume)) mounts.push({ name: PODINFO.volume, mountPath: PODINFO.path });

  const podRaw = { ...(rt.pod ?? {}) };
  const sidecars = Array.isArray(podRaw.containers) ? (podRaw.containers as Json[]) : [];
  const userInit = Array.isArray(podRaw.initContainers) ? (podRaw.initContainers as Json[]) : [];
  const volumes = Array.isArray(podRaw.volumes) ? [...(podRaw.volumes as Json[])] : [];
  delete podRaw.containers;
  delete podRaw.initContainers;
  delete podRaw.volumes;
  if (!volumes.some((v) => v.name === PODINFO.volume))
    volumes.push({
      name: PODINFO.volume,
      downwardAPI: {
        items: [{ path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations', apiVersion: 'v1' } }],
      },
    });

  const initContainers = [...userInit];
  const container: Json = {
    ...given,
    name: id.unit ?? n.name,
    image: rt.image,
    ports,
    env,
    livenessProbe: given.livenessProbe ?? tcp(60),
    readinessProbe: given.readinessProbe ?? tcp(20),
    lifecycle: given.lifecycle ?? { preStop: { exec: { command: ['/bin/sh', '-c', '/bin/sleep 10'] } } },
    volumeMounts: mounts,
  };
  if (!container.imagePullPolicy) container.imagePullPolicy = 'IfNotPresent';
  const sidecarOut = sidecars.map((s) => ({ ...s }));
  if (rt.modelUri) {
    const model = storageInitializer(id.unit ?? n.name, rt);
    initContainers.push(model.init);
    volumes.push(...model.volumes);
    // The model servers read /mnt/models; a TF Serving sidecar (TENSORFLOW_SERVER) too.
    for (const c of [container, ...sidecarOut]) {
      const ms = Array.isArray(c.volumeMounts) ? [...(c.volumeMounts as Json[])] : [];
      c.volumeMounts = [...ms, ...model.mounts];
    }
  }
  return {
    container,
    sidecars: sidecarOut,
    initContainers,
    volumes,
    pod: podRaw,
    ports: [http, grpc],
  };
}

/** Seldon's InjectModelInitializer: an emptyDir the init container fills and the server mounts read-only. */
function storageInitializer(name: string, rt: ContainerRuntime): { init: Json; volumes: Json[]; mounts: Json[] } {
  const volume = `${name}-provision-location`.slice(0, 63).replace(/-+$/, '');
  const initName = `${name}-model-initializer`.slice(0, 63).replace(/-+$/, '');
  let src = rt.modelUri ?? '';
  const volumes: Json[] = [];
  const initMounts: Json[] = [];
  const mounts: Json[] = [];
  if (src.startsWith(PVC_PREFIX)) {
    const [claim = '', ...rest] = src.slice(PVC_PREFIX.length).split('/');
    volumes.push({ name: PVC_SOURCE.volume, persistentVolumeClaim: { claimName: claim } });
    initMounts.push({ name: PVC_SOURCE.volume, mountPath: PVC_SOURCE.path, readOnly: true });
    mounts.push({ name: PVC_SOURCE.volume, mountPath: PVC_SOURCE.path, readOnly: true });
    src = `${PVC_SOURCE.path}/${rest.join('/')}`;
  }
  volumes.push({ name: volume, emptyDir: {} });
  initMounts.push({ name: volume, mountPath: MODEL_MOUNT_PATH });
  mounts.push({ name: volume, mountPath: MODEL_MOUNT_PATH, readOnly: true });
  const init: Json = {
    name: initName,
    image: rt.storageInitializerImage ?? STORAGE_INITIALIZER.image,
    imagePullPolicy: 'IfNotPresent',
    args: [src, MODEL_MOUNT_PATH],
    volumeMounts: initMounts,
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    resources: STORAGE_INITIALIZER.resources,
    ...(rt.envSecretRefName ? { envFrom: [{ secretRef: { name: rt.envSecretRefName } }] } : {}),
  };
  return { init, volumes, mounts };
}
