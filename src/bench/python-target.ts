import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { walkNodes, type GraphSpec, type NodeSpec } from '../graph/spec';
import type { InferMessage, Payload } from '../message/message';
import { emptyMeta } from '../message/message';
import type { BenchTarget, Sample } from './target';

/**
 * The single-process Python pipeline as a bench arm (issue 23): bench/python-pipeline.py --serve, the ImageNet
 * ensemble as one plain Python process (PIL doing torchvision's transform, onnxruntime running every model at once,
 * one intra-op thread each), started by the bench and driven by the same load generator as the graph. Requests go
 * over a unix socket (u32 length + JPEG; ~0.1 ms a round trip, which the Python arm pays and the Node in-process arm
 * does not). Only graphs of that shape can have the arm: jpeg-input, onnx-models, an averaging combiner and top-k.
 */

export const PYTHON_SCRIPT = path.join(__dirname, '..', '..', '..', 'bench', 'python-pipeline.py');

export interface PythonPipeline {
  models: string[];
  resize: number;
  crop: number;
  topK: number;
}

/** The pipeline's settings from the graph, or why the graph has no Python equivalent. */
export function pythonPipelineOf(graph: GraphSpec): PythonPipeline {
  const nodes = walkNodes(graph.graph);
  const of = (impl: string): NodeSpec[] => nodes.filter((n) => n.implementation === impl);
  const jpeg = of('jpeg-input');
  const models = of('onnx-model');
  const known = new Set(['jpeg-input', 'onnx-model', 'average-combiner', 'top1-output']);
  const other = nodes.filter((n) => !known.has(n.implementation));
  const why = (what: string): Error =>
    new Error(
      `--python: graph '${graph.name}' ${what}; the Python pipeline is jpeg-input → onnx-model(s) → ` +
        'average-combiner → top1-output (the ImageNet ensemble)',
    );
  if (jpeg.length !== 1) throw why(`has ${jpeg.length} jpeg-input nodes`);
  if (models.length === 0) throw why('has no onnx-model node');
  if (other.length) throw why(`has nodes it cannot run (${other.map((n) => n.name).join(', ')})`);
  const num = (n: NodeSpec | undefined, k: string, d: number): number => {
    const v = n?.parameters[k];
    return typeof v === 'number' ? v : d;
  };
  for (const m of models)
    if (m.parameters.softmax === false) throw why(`runs model '${m.name}' without softmax (the pipeline takes it)`);
  return {
    models: models.map((m) => path.resolve(graph.baseDir, String(m.parameters.model))),
    resize: num(jpeg[0], 'resize', 256),
    crop: num(jpeg[0], 'crop', 224),
    topK: num(of('top1-output')[0], 'topK', 5),
  };
}

/** One connection to the pipeline: one request at a time, replies read by their length prefix. */
class Connection {
  private buf = Buffer.alloc(0);
  private waiting: ((r: { body?: Buffer; error?: Error }) => void) | undefined;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (d) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      if (this.buf.length < 4) return;
      const n = this.buf.readUInt32BE(0);
      if (this.buf.length < 4 + n) return;
      const body = this.buf.subarray(4, 4 + n);
      this.buf = this.buf.subarray(4 + n);
      const w = this.waiting;
      this.waiting = undefined;
      w?.({ body });
    });
    const fail = (err?: Error): void => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.({ error: err ?? new Error('the Python pipeline closed the connection') });
    };
    socket.on('error', fail);
    socket.on('close', () => fail());
  }

  request(data: Uint8Array): Promise<{ body?: Buffer; error?: Error }> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      const head = Buffer.alloc(4);
      head.writeUInt32BE(data.byteLength, 0);
      this.socket.write(head);
      this.socket.write(data);
    });
  }
}

export class PythonTarget implements BenchTarget {
  readonly label = 'python';
  private readonly idle: Connection[] = [];
  private first: InferMessage | undefined;

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    private readonly socketPath: string,
    private readonly jpeg: Uint8Array,
    private readonly timeoutMs: number,
    /** what the process printed when ready: its library versions */
    readonly versions: string,
  ) {}

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Starts `python` on the pipeline script and waits for its "ready" line (the sessions are loaded by then). */
  static async create(python: string, graph: GraphSpec, payload: Payload, timeoutMs: number): Promise<PythonTarget> {
    if (payload.kind !== 'bin') throw new Error('--python: the Python pipeline takes a JPEG input (--image)');
    const p = pythonPipelineOf(graph);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-python-'));
    const socketPath = path.join(dir, 'pipeline.sock');
    const args = [PYTHON_SCRIPT, '--serve', socketPath, '--resize', String(p.resize), '--crop', String(p.crop)];
    args.push('--topk', String(p.topK), ...p.models.flatMap((m) => ['--model', m]));
    const child = spawn(python, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    try {
      const versions = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error('no "ready" within 120 s')), 120_000);
        child.on('error', (e) => reject(e));
        child.on('exit', (code) => reject(new Error(`exited with code ${code}`)));
        child.stdout?.on('data', (d: Buffer) => {
          out += d.toString();
          const line = out.split('\n').find((l) => l.startsWith('ready'));
          if (!line) return;
          clearTimeout(timer);
          resolve(line.slice('ready'.length).trim());
        });
      });
      return new PythonTarget(child, dir, socketPath, payload.data, timeoutMs, versions);
    } catch (e) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      const last = err.trim().split('\n').slice(-3).join(' | ');
      throw new Error(`--python ${python} ${PYTHON_SCRIPT}: ${(e as Error).message}${last ? `: ${last}` : ''}`);
    }
  }

  private connect(): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const s = net.connect(this.socketPath, () => {
        s.off('error', reject);
        resolve(new Connection(s));
      });
      s.once('error', reject);
    });
  }

  async send(): Promise<Sample> {
    const t0 = performance.now();
    let conn: Connection | undefined;
    try {
      conn = this.idle.pop() ?? (await this.connect());
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<{ body?: Buffer; error?: Error }>((resolve) => {
        timer = setTimeout(
          () => resolve({ error: new Error(`no answer within ${this.timeoutMs} ms`) }),
          this.timeoutMs,
        );
      });
      const r = await Promise.race([conn.request(this.jpeg), timeout]);
      clearTimeout(timer);
      const ms = performance.now() - t0;
      if ('error' in r && r.error) {
        conn.socket.destroy();
        return { ok: false, ms, error: r.error.message };
      }
      const answer = JSON.parse((r.body as Buffer).toString()) as { top?: [number, number][]; error?: string };
      this.idle.push(conn);
      if (answer.error || !answer.top) return { ok: false, ms, error: answer.error ?? 'no top-k in the answer' };
      this.first ??= {
        meta: emptyMeta(),
        payload: { kind: 'json', data: { predictions: answer.top.map(([index, score]) => ({ index, score })) } },
      };
      return { ok: true, ms };
    } catch (e) {
      conn?.socket.destroy();
      return { ok: false, ms: performance.now() - t0, error: (e as Error).message };
    }
  }

  firstReply(): InferMessage | undefined {
    return this.first;
  }

  async close(): Promise<void> {
    for (const c of this.idle.splice(0)) c.socket.destroy();
    const exited = new Promise<void>((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) resolve();
      else this.child.once('exit', () => resolve());
    });
    this.child.stdin?.end(); // the server shuts down when its stdin closes
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
