import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { createInterface } from 'node:readline';
import type { GraphSpec, NodeSpec } from '../graph/spec';
import type { ManifestMeta, UnitPorts } from '../k8s/unit-env';
import type { Logger } from '../util/logger';
import { restartDelay, restartsInARow, type Backoff } from './backoff';
import { firstLine, type DockerCli } from './docker-cli';
import { containerNodes, dockerCreateArgs, hostAddress, LABEL, planContainer, type ContainerPlan } from './docker-plan';
import { grpcAnswers } from './health';
import { balancedTarget, pidAlive, type NodeRunner } from './supervisor';

/**
 * `infergraph up`'s docker runner: the nodes that are a user's container image (a SeldonDeployment's componentSpecs
 * container) run as docker containers, one per replica, planned by docker-plan.ts. It treats a container as the
 * supervisor treats a node process: started before the executor and only reported once it answers (Seldon's REST
 * `GET /health/ping`, or its gRPC port), restarted with the node's `runtime.restart` backoff when it exits, the graph
 * stopped when the restarts are used up, and stopped after the executor has drained (`docker stop -t <drain
 * seconds>`, then removed). Its output goes to `up`'s log under the node's name, as a process's does.
 *
 * A container is `docker create`d once with its published ports fixed, then `docker start`ed, so a restart keeps
 * the address the executor's channel reconnects to. `docker wait` says when it exits and `docker logs -f` carries
 * its output; both clients run in their own process group, so a terminal's Ctrl-C reaches only `up`.
 */

export interface DockerRunnerOptions {
  graph: GraphSpec;
  /** The manifest's envelope: a converted SeldonDeployment's names (SELDON_DEPLOYMENT_ID, PREDICTOR_ID...). */
  manifest: ManifestMeta;
  docker: DockerCli;
  logger: Logger;
  /** Each line a container writes; default `[name] line` on stderr. */
  logLine?: (name: string, line: string) => void;
  /** The runner's own lines (the container's address), as the supervisor prints its processes'. */
  out?: (line: string) => void;
  /** From `docker start` until the container answers (default 120 s, the supervisor's). */
  startTimeoutMs?: number;
  /** A missing image's `docker pull` (default 10 min). */
  pullTimeoutMs?: number;
}

interface Container {
  plan: ContainerPlan;
  restarts: number;
  maxRestarts: number;
  backoff: Backoff;
  /** when it last answered: a long healthy run resets the backoff, as for processes */
  servingSince?: number;
  /** It answered once: an exit from then on is a crash to restart, before it a failed start. */
  ready: boolean;
  /** The `docker wait` of the current run; its exit is the container's. */
  waiter?: ChildProcess;
  /** exit code of the last run; undefined while it runs */
  exitCode?: number;
  restartTimer?: NodeJS.Timeout;
}

/** Lines of `docker logs` quoted when a container fails. */
const LOG_TAIL = 20;
const PORT_TAKEN = /address already in use|port is already allocated/i;

export class DockerRunner implements NodeRunner {
  readonly nodes: ReadonlySet<string>;
  private readonly containers: Container[] = [];
  private readonly abort = new AbortController();
  /** host ports handed out to containers of this run */
  private readonly ports = new Set<number>();
  private starting: Promise<unknown> | undefined;
  private stopped: Promise<void> | undefined;
  private onFatal: (err: Error) => void = () => {};

  constructor(private readonly o: DockerRunnerOptions) {
    this.nodes = new Set(containerNodes(o.graph).map((n) => n.name));
  }

  /** How many containers it runs: one per replica of each node. */
  get containerCount(): number {
    return containerNodes(this.o.graph).reduce((sum, n) => sum + n.runtime.replicas, 0);
  }

  private get stopping(): boolean {
    return this.abort.signal.aborted;
  }

  start(onFatal: (err: Error) => void): Promise<Record<string, string>> {
    this.onFatal = onFatal;
    const started = this.startAll();
    this.starting = started;
    return started;
  }

  /** Stops every container (the executor has drained by now) and removes it; safe to call more than once. */
  stop(): Promise<void> {
    this.stopped ??= this.stopAll();
    return this.stopped;
  }

  private async startAll(): Promise<Record<string, string>> {
    await this.removeStale();
    const nodes = containerNodes(this.o.graph);
    await this.ensureImages(nodes);
    const addresses: Record<string, string> = {};
    await Promise.all(
      nodes.map(async (n) => {
        const replicas = Array.from({ length: n.runtime.replicas }, (_, i) => this.startReplica(n, i));
        addresses[n.name] = balancedTarget((await Promise.all(replicas)).map(hostAddress));
      }),
    );
    return addresses;
  }

  private async stopAll(): Promise<void> {
    this.abort.abort();
    for (const c of this.containers) if (c.restartTimer) clearTimeout(c.restartTimer);
    await this.starting?.catch(() => undefined);
    if (!this.containers.length) return;
    const seconds = Math.ceil(this.o.graph.drainTimeoutMs / 1000);
    const d = this.o.docker;
    // One that never answered has no calls to finish: `docker rm -f` below ends it without the grace.
    await Promise.all(
      this.containers
        .filter((c) => c.ready)
        .map(async (c) => {
          const r = await d.run(['stop', '-t', String(seconds), c.plan.name], { timeoutMs: (seconds + 30) * 1000 });
          if (r.code !== 0) this.o.logger.warn({ container: c.plan.name, err: firstLine(r) }, 'docker stop failed');
        }),
    );
    const r = await d.run(['rm', '-f', ...this.containers.map((c) => c.plan.name)]);
    if (r.code !== 0) this.o.logger.warn({ err: firstLine(r) }, 'docker rm failed');
  }

  /**
   * What a killed `up` of this graph left behind is removed; a graph still running under a live `up` is not touched
   * (its containers have the names this one needs): the start fails, naming it.
   */
  private async removeStale(): Promise<void> {
    const d = this.o.docker;
    const graph = this.o.graph.name;
    const format = `{{.Names}}\t{{.Label "${LABEL.pid}"}}`;
    const r = await d.run(['ps', '-a', '--filter', `label=${LABEL.graph}=${graph}`, '--format', format]);
    if (r.code !== 0) throw new Error(`cannot list containers: ${d.bin} ps failed: ${firstLine(r)}`);
    const rows = r.out
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t') as [string, string?]);
    const live = rows.filter(([, pid]) => Number(pid) !== process.pid && Number(pid) > 0 && pidAlive(Number(pid)));
    if (live.length)
      throw new Error(
        `graph '${graph}' already runs under infergraph up pid ${live[0]?.[1]} (containers ${live.map(([n]) => n).join(', ')}): stop that one first`,
      );
    if (!rows.length) return;
    const names = rows.map(([n]) => n);
    const rm = await d.run(['rm', '-f', ...names]);
    if (rm.code !== 0) throw new Error(`cannot remove containers left by an earlier up: ${firstLine(rm)}`);
    this.o.logger.info({ containers: names }, 'removed containers an earlier infergraph up of this graph left');
  }

  /** Never pulls silently: an image already here is used as it is; a missing one is pulled, with a log line. */
  private async ensureImages(nodes: NodeSpec[]): Promise<void> {
    const d = this.o.docker;
    const byImage = new Map<string, string[]>();
    for (const n of nodes) {
      const image = n.runtime.container?.image ?? '';
      byImage.set(image, [...(byImage.get(image) ?? []), n.name]);
    }
    for (const [image, of] of byImage) {
      const here = await d.run(['image', 'inspect', '--format', '{{.Id}}', image]);
      if (here.code === 0) continue;
      if (this.stopping) throw new Error('stopped');
      this.o.logger.info({ image, nodes: of }, `image ${image} is not here: docker pull ${image}`);
      const timeoutMs = this.o.pullTimeoutMs ?? 600_000;
      const pull = await d.run(['pull', image], { timeoutMs, signal: this.abort.signal });
      if (pull.code !== 0)
        throw new Error(
          `cannot pull image ${image} of node ${of.join(', ')}: ${firstLine(pull)}; build or load it here (docker build -t ${image} ., docker load) or fix the image name`,
        );
    }
  }

  /**
   * Creates, starts and waits for one replica. Its host ports are picked free just before; if another process took
   * one in between (docker refuses to start it), the container is made again on fresh ports.
   */
  private async startReplica(n: NodeSpec, replica: number): Promise<ContainerPlan> {
    const restart = n.runtime.restart;
    for (let attempt = 1; ; attempt++) {
      const plan = planContainer(this.o.graph, this.o.manifest, n, replica, await freePorts(this.ports));
      const c: Container = {
        plan,
        restarts: 0,
        maxRestarts: restart.maxRestarts,
        backoff: { initialMs: restart.initialBackoffMs, maxMs: restart.maxBackoffMs },
        ready: false,
      };
      const created = await this.o.docker.run(dockerCreateArgs(plan));
      if (created.code !== 0) throw new Error(`${describe(plan)}: docker create failed: ${firstLine(created)}`);
      this.containers.push(c);
      const started = await this.run(c);
      if (started && PORT_TAKEN.test(started) && attempt < 3) {
        await this.o.docker.run(['rm', '-f', plan.name]);
        this.containers.splice(this.containers.indexOf(c), 1);
        continue;
      }
      if (started) throw new Error(`${describe(plan)}: docker start failed: ${started}`);
      await this.waitAnswering(c);
      c.ready = true;
      this.o.logger.info(
        { process: plan.display, container: plan.name, image: plan.image, address: hostAddress(plan) },
        'container serving',
      );
      this.o.out?.(`container ${plan.display} ${plan.name} (${plan.image}) at ${shownAddress(plan)}`);
      return plan;
    }
  }

  /** `docker start`, then follows the run's exit and output. Resolves with docker's complaint if it would not. */
  private async run(c: Container): Promise<string | undefined> {
    // Only this run's output: a restarted container's log still holds the previous runs'.
    const since = (Date.now() / 1000).toFixed(3);
    const r = await this.o.docker.run(['start', c.plan.name]);
    if (r.code !== 0) return firstLine(r);
    c.exitCode = undefined;
    c.servingSince = undefined;
    this.follow(c, since);
    return undefined;
  }

  private follow(c: Container, since: string): void {
    const bin = this.o.docker.bin;
    const print = this.o.logLine ?? ((name: string, line: string) => process.stderr.write(`[${name}] ${line}\n`));
    const logs = spawn(bin, ['logs', '--follow', '--since', since, c.plan.name], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    for (const s of [logs.stdout, logs.stderr])
      createInterface({ input: s }).on('line', (l) => print(c.plan.display, l));
    const waiter = spawn(bin, ['wait', c.plan.name], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    let said = '';
    waiter.stdout.on('data', (b: Buffer) => (said += b.toString()));
    c.waiter = waiter;
    waiter.on('exit', () => {
      // `docker wait` prints the exit code; nothing when it lost the engine, which is as fatal to the container.
      c.exitCode = /^\d+/.test(said.trim()) ? Number(said.trim()) : -1;
      if (c.waiter === waiter) this.onExit(c);
    });
  }

  /** A container that served and exited is restarted like a crashed process; past its budget the graph stops. */
  private onExit(c: Container): void {
    if (this.stopping || !c.ready) return;
    c.restarts = restartsInARow(c, Date.now());
    const { plan } = c;
    if (c.restarts >= c.maxRestarts) {
      void this.logTail(plan.name).then((tail) =>
        this.onFatal(
          new Error(`${describe(plan)} exited (code ${c.exitCode}) and used up its ${c.maxRestarts} restarts; ${tail}`),
        ),
      );
      return;
    }
    const delay = restartDelay(c.restarts, c.backoff);
    c.restarts++;
    this.o.logger.warn(
      { process: plan.display, container: plan.name, code: c.exitCode, restartInMs: delay, restart: c.restarts },
      'container exited; restarting with backoff',
    );
    c.restartTimer = setTimeout(() => {
      c.restartTimer = undefined;
      void this.restart(c);
    }, delay);
  }

  private async restart(c: Container): Promise<void> {
    if (this.stopping) return;
    const refused = await this.run(c);
    if (refused) {
      this.o.logger.error({ container: c.plan.name, err: refused }, 'docker start failed');
      return this.onExit(c);
    }
    try {
      await this.waitAnswering(c);
      this.o.logger.info({ process: c.plan.display, container: c.plan.name }, 'container serving again');
    } catch (err) {
      // An exit is already being handled by onExit; a container up but silent is the executor's health watch's.
      if (!this.stopping)
        this.o.logger.error({ container: c.plan.name, err: (err as Error).message }, 'restart failed');
    }
  }

  /** Polls the container's transport until it answers; fails on exit, on stop, or at the start-up deadline. */
  private async waitAnswering(c: Container): Promise<void> {
    const timeoutMs = this.o.startTimeoutMs ?? 120_000;
    // Holds the process up while probing: AbortSignal.timeout's timer is unref'd, and a probe through docker's port
    // proxy to a container that just exited held no handle at all (the runner exited 0 mid-start, silently).
    const keepAlive = setTimeout(() => undefined, timeoutMs);
    try {
      await this.poll(c, timeoutMs);
    } finally {
      clearTimeout(keepAlive);
    }
  }

  private async poll(c: Container, timeoutMs: number): Promise<void> {
    const { plan } = c;
    const until = Date.now() + timeoutMs;
    const probe = plan.transport === 'rest' ? pingRest : grpcAnswers;
    let last = 'no answer';
    while (Date.now() < until) {
      if (this.stopping) throw new Error(`${describe(plan)}: stopped before it answered`);
      if (c.exitCode !== undefined)
        throw new Error(
          `${describe(plan)} exited during start-up (code ${c.exitCode}); ${await this.logTail(plan.name)}`,
        );
      const why = await probe(hostAddress(plan));
      if (why === undefined) {
        c.servingSince = Date.now();
        return;
      }
      last = why;
      await new Promise((r) => setTimeout(r, 100));
    }
    const target = plan.transport === 'rest' ? `REST ${shownAddress(plan)}/health/ping` : `gRPC ${hostAddress(plan)}`;
    throw new Error(
      `${describe(plan)} did not answer on ${target} within ${timeoutMs} ms (last: ${last}); ${await this.logTail(plan.name)}`,
    );
  }

  private async logTail(name: string): Promise<string> {
    const r = await this.o.docker.run(['logs', '--tail', String(LOG_TAIL), name]);
    // The container's stdout and stderr arrive apart: its own order between the two is lost.
    const text = [r.out.trim(), r.err.trim()].filter(Boolean).join('\n');
    return text ? `docker logs --tail ${LOG_TAIL} ${name}:\n${text}` : `docker logs ${name}: nothing`;
  }
}

const describe = (p: ContainerPlan): string => `node '${p.display}' (image ${p.image}, container ${p.name})`;

/** The address as a user would call it: a URL for Seldon's REST node API. */
const shownAddress = (p: ContainerPlan): string =>
  p.transport === 'rest' ? `http://${hostAddress(p)}` : hostAddress(p);

/** Seldon's wrapper answers `GET /health/ping` with "pong" once it serves. */
async function pingRest(address: string): Promise<string | undefined> {
  try {
    const res = await fetch(`http://${address}/health/ping`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.ok ? undefined : `HTTP ${res.status}`;
  } catch (err) {
    return ((err as Error).cause as Error | undefined)?.message ?? (err as Error).message;
  }
}

/**
 * Three loopback ports free right now (the kernel's pick), for docker to publish the container's ports on: held open
 * together so they differ, and never one this runner handed out already (the kernel may offer a closed one again).
 */
async function freePorts(taken: Set<number>): Promise<UnitPorts> {
  for (;;) {
    const servers = [createServer(), createServer(), createServer()];
    const ports = await Promise.all(servers.map(listenAnywhere));
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    if (ports.some((p) => taken.has(p))) continue;
    ports.forEach((p) => taken.add(p));
    const [http, grpc, metrics] = ports as [number, number, number];
    return { http, grpc, metrics };
  }
}

function listenAnywhere(srv: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve((srv.address() as AddressInfo).port));
  });
}
