import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dockerRunArgs, parseObjects, planGraph, type ContainerPlan, type Plan } from './plan';

/**
 * Runs a graph as docker containers the way Kubernetes would run what `infergraph render` emits (see plan.ts), on a
 * user-defined network of its own, and tears it down. Used by k8s/docker-run.sh and the docker integration test.
 */

const REPO = path.resolve(__dirname, '../../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');
export const LABEL_KEY = 'infergraph.docker-run';

export interface Docker {
  bin: string;
  run(args: string[], opts?: { input?: string; allowFail?: boolean }): { code: number; out: string; err: string };
}

export function docker(bin = process.env.DOCKER ?? 'docker'): Docker {
  return {
    bin,
    run(args, opts = {}) {
      const r = spawnSync(bin, args, { encoding: 'utf8', input: opts.input, maxBuffer: 64 * 2 ** 20 });
      const res = {
        code: r.status ?? -1,
        out: r.stdout ?? '',
        err: (r.stderr ?? '') + (r.error ? String(r.error) : ''),
      };
      if (res.code !== 0 && !opts.allowFail)
        throw new Error(`${bin} ${args.slice(0, 3).join(' ')} … failed (${res.code}): ${res.err.trim()}`);
      return res;
    },
  };
}

/** The objects for a manifest: `infergraph render <manifest>` of this checkout. */
export function renderManifest(manifest: string): string {
  const r = spawnSync(process.execPath, [CLI, 'render', manifest], { encoding: 'utf8' });
  if (r.status !== 0) {
    if (/unknown command 'render'/.test(r.stderr)) {
      throw new Error('this build has no `infergraph render`; pass the objects with --objects FILE (or - for stdin)');
    }
    throw new Error(`infergraph render ${manifest} failed: ${r.stderr.trim()}`);
  }
  return r.stdout;
}

export interface RunningGraph {
  plan: Plan;
  workDir: string;
  /** 127.0.0.1:<port> per published container port, by container name. */
  published: Record<string, Record<number, string>>;
}

/** Creates the network, volumes and files, runs init containers, starts every pod, waits until each is ready. */
export async function up(
  d: Docker,
  objectsYaml: string,
  o: { image?: string; keepImages?: string[]; shared?: string; readyTimeoutMs?: number; log?: (s: string) => void },
): Promise<RunningGraph> {
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const runId = `infergraph-run-${randomBytes(3).toString('hex')}`;
  const workDir = runDir(runId);
  mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const plan = planGraph(parseObjects(objectsYaml), {
    runId,
    workDir,
    ...(o.image ? { image: o.image } : {}),
    ...(o.keepImages ? { keepImages: o.keepImages } : {}),
    ...(o.shared ? { shared: o.shared } : {}),
  });
  for (const n of plan.notes) log(`note: ${n}`);
  const label = `${LABEL_KEY}=${runId}`;
  const taken = plan.pods
    .map((p) => p.main.name)
    .filter((n) => d.run(['container', 'inspect', n], { allowFail: true }).code === 0);
  if (taken.length)
    throw new Error(`containers already exist: ${taken.join(', ')} (a previous run? k8s/docker-run.sh --down)`);
  const running: RunningGraph = { plan, workDir, published: {} };
  try {
    for (const [file, content] of Object.entries(plan.files)) {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, content);
    }
    d.run(['network', 'create', '--label', label, plan.network]);
    for (const pod of plan.pods) {
      for (const v of pod.volumes) d.run(['volume', 'create', '--label', label, v]);
      if (pod.prepare) {
        log(`volumes ${pod.prepare.name}: ${pod.prepare.args.join(' ')}`);
        d.run(dockerRunArgs(pod.prepare, plan.network, label, true));
      }
      for (const init of pod.init) {
        log(`init ${init.name}: ${init.args.join(' ')}`);
        d.run(dockerRunArgs(init, plan.network, label, true));
      }
      log(`run ${pod.main.name}: ${pod.main.args.join(' ')}`);
      d.run(dockerRunArgs(pod.main, plan.network, label));
    }
    const until = Date.now() + (o.readyTimeoutMs ?? 180_000);
    for (const pod of plan.pods) await waitReady(d, pod.main, until);
    for (const pod of plan.pods) {
      for (const p of pod.main.publish) {
        const hostPort =
          d
            .run(['port', pod.main.name, `${p}/tcp`])
            .out.trim()
            .split('\n')[0] ?? '';
        (running.published[pod.main.name] ??= {})[p] = hostPort.replace(/^0\.0\.0\.0:/, '127.0.0.1:');
      }
    }
    return running;
  } catch (err) {
    down(d, runId);
    rmSync(workDir, { recursive: true, force: true });
    throw err;
  }
}

/** What kubelet's gRPC readiness probe does, from inside the container (the image carries a health client). */
async function waitReady(d: Docker, c: ContainerPlan, until: number): Promise<void> {
  const script =
    "require('/app/dist/src/runner/health.js').checkHealth(process.argv[1], process.argv[2], 1000)" +
    ".then((s) => process.exit(s === 'SERVING' ? 0 : 1), () => process.exit(1))";
  let last = '';
  while (Date.now() < until) {
    const state = d
      .run(['container', 'inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', c.name])
      .out.trim();
    if (!state.startsWith('running')) {
      const logs = d.run(['logs', '--tail', '20', c.name], { allowFail: true });
      throw new Error(`container ${c.name} is ${state}:\n${logs.out}${logs.err}`);
    }
    if (!c.grpcProbe) return;
    const r = d.run(['exec', c.name, 'node', '-e', script, `127.0.0.1:${c.grpcProbe.port}`, c.grpcProbe.service], {
      allowFail: true,
    });
    if (r.code === 0) return;
    last = r.err.trim();
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new Error(`container ${c.name} not SERVING in time ${last}`);
}

/** Where a run's ConfigMap files live: derived from the run id, so `--down <run-id>` finds them. */
const runDir = (runId: string): string => path.join(os.tmpdir(), runId);

/** Removes every container, volume and network labelled with the run id, and its files. */
export function down(d: Docker, runId: string): void {
  const filter = ['--filter', `label=${LABEL_KEY}=${runId}`];
  const ids = d
    .run(['ps', '-aq', ...filter])
    .out.split('\n')
    .filter(Boolean);
  if (ids.length) d.run(['rm', '-f', ...ids]);
  const vols = d
    .run(['volume', 'ls', '-q', ...filter])
    .out.split('\n')
    .filter(Boolean);
  if (vols.length) d.run(['volume', 'rm', ...vols]);
  const nets = d
    .run(['network', 'ls', '-q', ...filter])
    .out.split('\n')
    .filter(Boolean);
  if (nets.length) d.run(['network', 'rm', ...nets]);
  if (/^infergraph-run-[0-9a-f]+$/.test(runId)) rmSync(runDir(runId), { recursive: true, force: true });
}

export function stop(d: Docker, g: RunningGraph): void {
  down(d, g.plan.runId);
  rmSync(g.workDir, { recursive: true, force: true });
}

/** `infergraph predict` of this checkout through the published executor port. */
export function predict(address: string, image: string): { code: number; out: string } {
  const r = spawnSync(process.execPath, [CLI, 'predict', '--addr', address, '--image', image], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

const USAGE = `usage: k8s/docker-run.sh <manifest> [--objects FILE|-] [--image infergraph:dev] [--shared DIR]
                         [--keep-image IMAGE]... [--predict IMAGE_FILE] [--keep]
       k8s/docker-run.sh --down <run-id>|--all
Runs the graph as containers, one per pod that \`infergraph render <manifest>\` describes (named after its Service,
with its exact arguments), on a docker network of its own; the executor's port is published on 127.0.0.1. Every
container runs --image except those whose image is a --keep-image (a user's model container). emptyDir volumes get
what the kubelet gives them (mode 0777; the pod's fsGroup as group, setgid) before the init containers run.
With --predict, sends that image through the executor, prints the answer and tears everything down (unless --keep).`;

async function main(argv: string[]): Promise<number> {
  const d = docker();
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${name} needs a value\n${USAGE}`);
    argv.splice(i, 2);
    return v;
  };
  const flag = (name: string): boolean => {
    const i = argv.indexOf(name);
    if (i >= 0) argv.splice(i, 1);
    return i >= 0;
  };
  if (flag('--help') || flag('-h')) return (console.log(USAGE), 0);
  if (flag('--all')) {
    const ids = new Set(
      d
        .run(['network', 'ls', '--format', `{{.Label "${LABEL_KEY}"}}`])
        .out.split('\n')
        .filter(Boolean),
    );
    for (const id of ids) down(d, id);
    console.log(`removed ${ids.size} run(s)`);
    return 0;
  }
  const downId = opt('--down');
  if (downId) return (down(d, downId), console.log(`removed ${downId}`), 0);
  const objectsFile = opt('--objects');
  const image = opt('--image') ?? 'infergraph:dev';
  const keepImages: string[] = [];
  for (let k = opt('--keep-image'); k !== undefined; k = opt('--keep-image')) keepImages.push(k);
  const sharedDefault = path.resolve(REPO, '..', 'shared');
  const shared = opt('--shared') ?? (existsSync(sharedDefault) ? sharedDefault : undefined);
  const predictFile = opt('--predict');
  const keep = flag('--keep');
  const manifest = argv[0];
  if (!objectsFile && !manifest) throw new Error(USAGE);
  const yaml = objectsFile
    ? readFileSync(objectsFile === '-' ? 0 : objectsFile, 'utf8')
    : renderManifest(manifest as string);
  const g = await up(d, yaml, { image, keepImages, ...(shared ? { shared } : {}) });
  const executor = Object.entries(g.published)[0];
  const address = executor ? Object.values(executor[1])[0] : undefined;
  console.log(`containers: ${g.plan.pods.map((p) => p.main.name).join(', ')} on network ${g.plan.network}`);
  if (address) console.log(`executor ${executor?.[0]} at ${address}`);
  if (!predictFile) {
    console.log(`running; stop with: k8s/docker-run.sh --down ${g.plan.runId}`);
    return 0;
  }
  if (!address) throw new Error('no published executor port to predict through');
  const r = predict(address, predictFile);
  process.stdout.write(r.out);
  if (keep) console.log(`kept running; stop with: k8s/docker-run.sh --down ${g.plan.runId}`);
  else stop(d, g);
  return r.code;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(`docker-run: ${err.message}`);
      process.exit(1);
    },
  );
}
