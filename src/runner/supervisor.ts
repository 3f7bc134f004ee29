import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { hopsOverFrames, spawnedNodes, type GraphSpec, type NodeSpec } from '../graph/spec';
import { framesAddressFor } from '../transport/address';
import type { Logger } from '../util/logger';
import { hopChannelCredentials } from '../rpc/tls';
import { restartDelay, restartsInARow } from './backoff';
import { waitServing } from './health';

/**
 * The local runner: one OS process per node plus the executor, each a child of this process with an IPC channel.
 * Children report their bound address over IPC, are health-checked until SERVING, restarted with exponential
 * backoff when they crash, and stopped (SIGTERM, then SIGKILL) on shutdown. A child also exits by itself when its
 * IPC channel closes, so even a SIGKILLed runner leaves no orphans.
 *
 * A node with `runtime.replicas: N` runs as N processes, each with its own address and restart budget; the executor
 * gets one target listing them all and balances over it with the same round-robin channel it uses on Kubernetes.
 */

export type Transport = 'tcp' | 'unix';

/**
 * Nodes that another runner serves in place of a process of this one (docker.ts: user images as containers). They
 * start beside the node processes, before the executor, which gets their addresses; they stop after the executor
 * has drained, beside the node processes.
 */
export interface NodeRunner {
  /** The nodes it serves: the supervisor spawns no process for them. */
  readonly nodes: ReadonlySet<string>;
  /** Starts them all; resolves once each answers, with node → the executor's address for it. */
  start(onFatal: (err: Error) => void): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

export interface SupervisorOptions {
  /** The manifest with the command line's overrides applied: children get those as flags (they load the manifest). */
  graph: GraphSpec;
  manifestPath: string;
  /** Executor listen address (host:port; port 0 picks one). */
  executorAddress: string;
  transport: Transport;
  logger: Logger;
  /** Extra CLI args for every child (e.g. --log-level). */
  childArgs?: string[];
  /** Extra CLI args for the executor only (e.g. --request-log-file). */
  executorArgs?: string[];
  /** Node/V8 flags for every child; default CHILD_NODE_FLAGS. */
  nodeFlags?: readonly string[];
  /** The executor's REST front doors (host:port; port 0 picks one); absent: none. */
  restAddress?: string;
  /** Runs some nodes another way (containers); the rest are processes of this runner. */
  runner?: NodeRunner;
  /** Each line a child writes (stdout or stderr); default: `[name] line` on stderr. */
  logLine?: (process: string, line: string) => void;
  /** Extra environment for every child (tracing endpoint...). */
  env?: Record<string, string>;
  startTimeoutMs?: number;
  /** Called once everything is SERVING. */
  onReady?: (info: GraphInfo) => void;
  /** Called when a child had to be given up on (restart budget spent): the graph is stopped. */
  onFatal?: (err: Error) => void;
  out?: (line: string) => void;
}

export interface ProcessInfo {
  /** The node's name, or `<node>#<i>` for replica i of a replicated node; `<graph>-executor`. */
  name: string;
  role: 'node' | 'executor';
  /** The manifest node this process serves (absent for the executor). */
  node?: string;
  pid: number | undefined;
  address: string;
  /** http://127.0.0.1:port/metrics when the process serves metrics. */
  metrics?: string;
  /** where a node listens for frames (hop transport `frames`) */
  framesAddress?: string;
  /** the executor's REST URL, when it serves REST */
  rest?: string;
  restarts: number;
}

export interface GraphInfo {
  executorAddress: string;
  /** http://host:port of the executor's REST front doors, when they listen. */
  executorRest?: string;
  processes: ProcessInfo[];
}

const CLI_MAIN = path.resolve(__dirname, '../cli/main.js');

/**
 * V8 heap sizing for every child. Hops allocate several tensor-sized Buffers per call (encode, gRPC framing,
 * reassembly); V8 counts them against a global limit that scales with the small JS heap of a node process, so with
 * the defaults a node moving 602 KB tensors runs a full mark-compact every few calls. Measured with `infergraph
 * bench hop` (1×3×224×224 echo): mean round trip 4.4–4.8 → 2.8–3.1 ms, p99 21–23 → 12 ms; RSS grows by tens of MB
 * per process at most. Not settable from NODE_OPTIONS, hence flags here.
 */
export const CHILD_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16', '--initial-old-space-size=128'];

/**
 * glibc gives each thread that allocates its own malloc arena (up to 8 per core); libvips, onnxruntime and libuv's
 * pool threads each fill one, and freed memory stays in them: RSS creeps up with JS heap flat (issue 11's soak).
 * Two arenas keep RSS level; a user's own MALLOC_ARENA_MAX wins.
 */
export const MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

interface Child {
  name: string;
  role: 'node' | 'executor';
  node?: string;
  args: string[];
  env: Record<string, string>;
  address: string;
  metrics?: string;
  /** the executor's REST address (host:port); the reported one is reused on restart */
  restAddress?: string;
  rest?: string;
  /** nodes with hop transport `frames`: their frame listener; the reported one is reused on restart */
  framesAddress?: string;
  proc?: ChildProcess;
  restarts: number;
  maxRestarts: number;
  backoff: { initialMs: number; maxMs: number };
  startedAt: number;
  /** when it last reported SERVING */
  servingSince?: number;
  restartTimer?: NodeJS.Timeout;
}

/**
 * The executor's target for a node: its one address, or for replicas an `ipv4:` list that grpc-js's round_robin
 * policy spreads calls over (each replica reported 127.0.0.1:<port>).
 */
export function balancedTarget(addresses: readonly string[]): string {
  if (addresses.length === 1) return addresses[0] as string;
  const bad = addresses.find((a) => !/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(a));
  if (bad !== undefined) {
    throw new Error(`cannot balance over ${addresses.join(', ')}: '${bad}' is not an IPv4 host:port`);
  }
  return `ipv4:${addresses.join(',')}`;
}

export class Supervisor {
  private readonly children: Child[] = [];
  private stopping = false;
  private readonly sockDir: string;
  private readonly startTimeoutMs: number;

  constructor(private readonly opts: SupervisorOptions) {
    this.sockDir = makeSockDir();
    this.startTimeoutMs = opts.startTimeoutMs ?? 120_000;
  }

  /** Starts every node, then the executor; resolves once all are SERVING. */
  async start(): Promise<GraphInfo> {
    const { graph, runner } = this.opts;
    const local = spawnedNodes(graph).filter((n) => !runner?.nodes.has(n.name));
    const addresses: Record<string, string> = {};
    const frames: Record<string, string> = {};
    try {
      await Promise.all([
        runner?.start((err) => this.fatal(err)).then((a) => Object.assign(addresses, a)),
        ...local.map(async (n) => {
          const framed = hopsOverFrames(graph, n);
          const replicas = Array.from({ length: n.runtime.replicas }, (_, i) => this.nodeChild(n, i, framed));
          this.children.push(...replicas);
          await Promise.all(replicas.map((c) => this.launch(c)));
          addresses[n.name] = balancedTarget(replicas.map((c) => c.address));
          const framesAddress = replicas[0]?.framesAddress;
          if (framed && framesAddress) frames[n.name] = framesAddress;
        }),
      ]);
      const ex: Child = {
        name: `${graph.name}-executor`,
        role: 'executor',
        args: [
          'executor',
          '--graph',
          this.opts.manifestPath,
          '--hop-transport',
          graph.hopTransport,
          ...Object.entries(addresses).flatMap(([k, v]) => ['--node-address', `${k}=${v}`]),
          ...Object.entries(frames).flatMap(([k, v]) => ['--node-frames-address', `${k}=${v}`]),
          ...(this.opts.childArgs ?? []),
          ...(this.opts.executorArgs ?? []),
        ],
        env: {},
        address: this.opts.executorAddress,
        ...(this.opts.restAddress !== undefined ? { restAddress: this.opts.restAddress } : {}),
        restarts: 0,
        maxRestarts: 10,
        backoff: { initialMs: 200, maxMs: 10_000 },
        startedAt: 0,
      };
      this.children.push(ex);
      await this.launch(ex);
    } catch (err) {
      await this.stop();
      throw err;
    }
    const info = this.info();
    this.opts.onReady?.(info);
    return info;
  }

  info(): GraphInfo {
    const ex = this.children.find((c) => c.role === 'executor');
    return {
      executorAddress: ex?.address ?? '',
      ...(ex?.rest ? { executorRest: ex.rest } : {}),
      processes: this.children.map((c) => ({
        name: c.name,
        role: c.role,
        ...(c.node ? { node: c.node } : {}),
        pid: c.proc?.pid,
        address: c.address,
        metrics: c.metrics,
        ...(c.framesAddress ? { framesAddress: c.framesAddress } : {}),
        ...(c.rest ? { rest: c.rest } : {}),
        restarts: c.restarts,
      })),
    };
  }

  private nodeChild(n: NodeSpec, replica: number, frames: boolean): Child {
    // grpc-js balances over a list of ip:port addresses, not of unix sockets: replicas always use loopback tcp.
    const unix = this.opts.transport === 'unix' && n.runtime.replicas === 1;
    const address = unix ? `unix:${path.join(this.sockDir, `${n.name}.sock`)}` : '127.0.0.1:0';
    return {
      name: n.runtime.replicas === 1 ? n.name : `${n.name}#${replica}`,
      role: 'node',
      node: n.name,
      args: ['node', '--graph', this.opts.manifestPath, '--node', n.name, ...(this.opts.childArgs ?? [])],
      env: n.runtime.env,
      address,
      ...(frames ? { framesAddress: framesAddressFor(address) } : {}),
      restarts: 0,
      maxRestarts: n.runtime.restart.maxRestarts,
      backoff: { initialMs: n.runtime.restart.initialBackoffMs, maxMs: n.runtime.restart.maxBackoffMs },
      startedAt: 0,
    };
  }

  /** Spawns the child, learns its address over IPC, waits for SERVING. */
  private async launch(c: Child): Promise<void> {
    // Each process its own free port: several on one machine cannot share the manifest's fixed metrics port.
    const metrics = this.opts.graph.metrics?.enabled ?? true;
    const metricsArgs = ['--metrics-address', metrics ? '127.0.0.1:0' : 'none'];
    const frames = c.framesAddress ? ['--frames-address', c.framesAddress] : [];
    const rest = c.role === 'executor' ? ['--rest-address', c.restAddress ?? 'none'] : [];
    const args = [...c.args, '--address', c.address, ...frames, ...metricsArgs, ...rest];
    const proc = spawn(process.execPath, [...(this.opts.nodeFlags ?? CHILD_NODE_FLAGS), CLI_MAIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Own process group: a terminal's Ctrl-C reaches only the runner, which then stops the children in order
      // (executor drains first). The IPC channel still ends every child if the runner dies.
      detached: true,
      env: { ...MALLOC_ENV, ...process.env, ...this.opts.env, ...c.env, INFERGRAPH_SUPERVISED: '1' },
    });
    c.proc = proc;
    c.startedAt = Date.now();
    c.servingSince = undefined;
    this.pipeLogs(c, proc);
    let alive = true;
    const reported = new Promise<string>((resolve, reject) => {
      proc.on(
        'message',
        (m: { type?: string; address?: string; metrics?: string; framesAddress?: string; rest?: string }) => {
          if (m?.type !== 'ready' || !m.address) return;
          c.metrics = m.metrics;
          if (m.rest) {
            c.rest = m.rest;
            c.restAddress = new URL(m.rest).host;
          }
          if (c.framesAddress && !m.framesAddress) {
            return reject(
              new Error(`${c.role} '${c.name}' reported no frame address (asked to listen on ${c.framesAddress})`),
            );
          }
          if (m.framesAddress) c.framesAddress = m.framesAddress;
          resolve(m.address);
        },
      );
      proc.once('exit', (code, signal) => {
        alive = false;
        reject(new Error(`${c.role} '${c.name}' exited during start-up (${signal ?? `code ${code}`})`));
      });
    });
    proc.on('exit', (code, signal) => this.onExit(c, proc, code, signal));
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`${c.role} '${c.name}' did not report its address within ${this.startTimeoutMs} ms`)),
        this.startTimeoutMs,
      ).unref(),
    );
    c.address = await Promise.race([reported, timeout]);
    // Nodes under mutual TLS are probed with the hop certificate. An executor with a TLS public port is not probed
    // (the runner holds no CA for it): it reported its address once bound, after every node was SERVING.
    if (c.role === 'node')
      await waitServing(c.address, this.startTimeoutMs, () => alive, hopChannelCredentials(this.opts.graph.tls));
    else if (!this.opts.graph.tls?.server) await waitServing(c.address, this.startTimeoutMs, () => alive);
    if (c.proc === proc) c.servingSince = Date.now();
    this.opts.logger.info(
      { process: c.name, role: c.role, pid: proc.pid, address: c.address, restarts: c.restarts },
      'process serving',
    );
    this.opts.out?.(`${c.role} ${c.name} pid ${proc.pid} at ${c.address}`);
    if (c.metrics) this.opts.out?.(`metrics ${c.name} at ${c.metrics}`);
    if (c.rest) this.opts.out?.(`rest ${c.name} at ${c.rest}`);
    if (c.framesAddress) this.opts.out?.(`${c.role} ${c.name} frames at ${c.framesAddress}`);
  }

  private pipeLogs(c: Child, proc: ChildProcess): void {
    const print = this.opts.logLine ?? ((name: string, line: string) => process.stderr.write(`[${name}] ${line}\n`));
    for (const stream of [proc.stdout, proc.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => print(c.name, line));
    }
  }

  private onExit(c: Child, proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping || c.proc !== proc) return;
    // A process that served a while before it crashed starts a fresh backoff sequence.
    c.restarts = restartsInARow(c, Date.now());
    if (c.restarts >= c.maxRestarts) {
      return this.fatal(
        new Error(
          `${c.role} '${c.name}' crashed (${signal ?? `code ${code}`}) and used up its ${c.maxRestarts} restarts`,
        ),
      );
    }
    const delay = restartDelay(c.restarts, c.backoff);
    c.restarts++;
    this.opts.logger.warn(
      { process: c.name, pid: proc.pid, code, signal, restartInMs: delay, restart: c.restarts },
      'process exited; restarting with backoff',
    );
    c.restartTimer = setTimeout(() => {
      c.restartTimer = undefined;
      if (this.stopping) return;
      // Restart on the same address so the executor's channel reconnects by itself.
      this.launch(c).catch((err: Error) =>
        this.opts.logger.error({ process: c.name, err: err.message }, 'restart failed'),
      );
    }, delay);
  }

  /** A node given up on: the whole graph stops, then onFatal says why. */
  private fatal(err: Error): void {
    if (this.stopping) return;
    this.opts.logger.error(err.message);
    void this.stop().then(() => this.opts.onFatal?.(err));
  }

  /**
   * Stops in dependency order: the executor first (it drains: refuses new requests, finishes those in flight within
   * spec.drainTimeoutMs while its nodes still serve), then the nodes. Each gets SIGTERM, then SIGKILL after its grace.
   */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    for (const c of this.children) if (c.restartTimer) clearTimeout(c.restartTimer);
    const drainMs = this.opts.graph.drainTimeoutMs;
    await Promise.all(this.children.filter((c) => c.role === 'executor').map((c) => terminate(c, drainMs + graceMs)));
    await Promise.all([
      ...this.children.filter((c) => c.role === 'node').map((c) => terminate(c, graceMs)),
      this.opts.runner?.stop(),
    ]);
    rmSync(this.sockDir, { recursive: true, force: true });
  }
}

function terminate(c: Child, graceMs: number): Promise<void> {
  const p = c.proc;
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const kill = setTimeout(() => p.kill('SIGKILL'), graceMs);
    p.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    p.kill('SIGTERM');
  });
}

const PID_FILE = 'runner.pid';

/**
 * The runner's folder for unix sockets, with its pid inside. A runner killed with SIGKILL cannot remove its folder;
 * the next runner removes every infergraph-* folder whose recorded pid is no longer alive.
 */
function makeSockDir(): string {
  const tmp = os.tmpdir();
  for (const name of readdirSafe(tmp)) {
    if (!name.startsWith('infergraph-')) continue;
    const dir = path.join(tmp, name);
    let pid: number;
    try {
      pid = Number(readFileSync(path.join(dir, PID_FILE), 'utf8'));
    } catch {
      continue; // not ours or still being created: leave it
    }
    if (Number.isInteger(pid) && pid > 0 && !pidAlive(pid)) rmSync(dir, { recursive: true, force: true });
  }
  const dir = mkdtempSync(path.join(tmp, 'infergraph-'));
  writeFileSync(path.join(dir, PID_FILE), String(process.pid));
  return dir;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Whether a process of that pid exists (EPERM: it does, under another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
