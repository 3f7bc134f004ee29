/**
 * onnx-model's instance pool (Triton's instance groups): N worker threads, each with its own InferenceSession,
 * fed from one bounded WorkQueue. The main thread validates, queues and answers; workers compute.
 *
 * Buffers: each request's input is copied exactly once, into a fresh ArrayBuffer that is then transferred (moved,
 * not copied) to the worker. The copy is what makes the move safe: received gRPC bytes are slices of a larger
 * message buffer, often unaligned, and in-process callers may reuse their arrays. With dynamic batching the one copy
 * is the concatenation into the batch. Outputs come back transferred and are split into per-request views.
 *
 * A worker that dies fails the requests it was running (INTERNAL, naming the instance and the exit) and is replaced;
 * requests still queued are served by the other instances or by the replacement.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ConfigError, failedPrecondition, internal, unavailable } from '../../errors';
import { DTYPES, type DType, type NumericDType, type TypedArray } from '../../tensor/dtype';
import type { Tensor } from '../../tensor/tensor';
import { Pushback } from '../../util/pushback';
import { type Admission, type TakenItem, WorkQueue } from '../../util/work-queue';
import type { CacheOutcome } from './onnx-session-cache';
import type { FromWorker, InstanceInit, IoMeta, LoadTimes, ToWorker, WorkerInit } from './onnx-worker-protocol';

export interface PoolOptions {
  /** Names the model in errors, e.g. "onnx-model resnet50.onnx". */
  what: string;
  instances: number;
  maxQueue: number;
  /** Rows per run; 1 = no batching. */
  maxBatch: number;
  /** How long a free instance waits for a batch to fill once a request is queued. */
  maxQueueDelayMs: number;
  init: WorkerInit;
  /** Told when an instance dies and is replaced. */
  onCrash?: (instance: number, reason: string) => void;
}

export interface Job {
  tensor: Tensor;
  /** uint8 pixels the worker normalises to float32. */
  normalise: boolean;
}

export interface JobResult {
  tensor: Tensor;
  /** Rows in the run this request was part of. */
  batch: number;
  runMs: number;
}

type Taken = TakenItem<Job, JobResult>;

interface Instance {
  index: number;
  worker: Worker;
  ready: boolean;
  exited: boolean;
  /** The requests of the batch it is running, if any. */
  running?: { id: number; items: Taken[] };
}

/** How long close() waits for a run in progress before terminating its worker. */
const CLOSE_TIMEOUT_MS = 30_000;
const WORKER_SCRIPT = path.join(__dirname, 'onnx-worker.js');

export class OnnxPool {
  private readonly queue: WorkQueue<Job, JobResult>;
  /** A refusal's pushback: a request leaves the queue about every run time / (instances × maxBatch). */
  private readonly pushback: Pushback;
  private readonly instances: Instance[] = [];
  private nextId = 1;
  private closed = false;
  private batchTimer: NodeJS.Timeout | undefined;
  private runsCount = 0;
  private batchesCount = 0;
  private crashesCount = 0;
  /** Input/output metadata reported by the first instance to load. */
  io: { inputs: IoMeta[]; outputs: IoMeta[] } = { inputs: [], outputs: [] };
  /** How each instance loaded at start (spawn time, its thread's marks, the cache), for the start-up breakdown. */
  readonly loads: { spawned: number; times: LoadTimes; cache: CacheOutcome }[] = [];

  constructor(private readonly opts: PoolOptions) {
    this.pushback = new Pushback(opts.instances * opts.maxBatch, 10_000);
    this.queue = new WorkQueue<Job, JobResult>({
      maxQueue: opts.maxQueue,
      what: opts.what,
      onSubmit: () => this.pump(),
      pushback: this.pushback,
    });
  }

  private ioNames = { input: '', output: '' };

  /** The model input to feed and output to return; set once after start, before the first submit. */
  setIo(input: string, output: string): void {
    this.ioNames = { input, output };
  }

  /** Starts every instance; resolves when all have loaded the model, throws ConfigError if one cannot. */
  async start(): Promise<void> {
    const loads = Array.from({ length: this.opts.instances }, (_, i) => this.spawn(i));
    const results = await Promise.allSettled(loads);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await this.close();
      throw failed.reason;
    }
  }

  /** Requests run (each row of a batch counts once per request) since start. */
  get runs(): number {
    return this.runsCount;
  }

  /** Runs (batches) executed since start; equals `runs` without batching. */
  get batches(): number {
    return this.batchesCount;
  }

  get crashes(): number {
    return this.crashesCount;
  }

  get queued(): number {
    return this.queue.length;
  }

  submit(job: Job, admission: Admission): Promise<JobResult> {
    if (this.closed) return Promise.reject(failedPrecondition(`${this.opts.what}: model is not loaded`));
    return this.queue.submit(job, admission);
  }

  /**
   * Makes one instance's thread throw an uncaught error, as a bug would (tests of crash recovery). It is a message,
   * so it takes effect when the instance is between runs: Worker.terminate() during a native run aborts the process.
   */
  crashInstance(index: number): void {
    this.instances[index]?.worker.postMessage({ type: 'crash' } satisfies ToWorker);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.queue.close('model is shutting down');
    const all = this.instances.splice(0);
    // Running batches finish and answer first: terminating a worker inside onnxruntime's native run() aborts the
    // whole process, so workers are asked to end themselves between runs; terminate() is only the fallback.
    await Promise.all(all.map((inst) => this.stop(inst)));
  }

  private async stop(inst: Instance): Promise<void> {
    if (inst.exited) return;
    const exited = new Promise<void>((resolve) => inst.worker.once('exit', () => resolve()));
    inst.worker.postMessage({ type: 'close' } satisfies ToWorker);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>(
      (resolve) => (timer = setTimeout(() => resolve('timeout'), CLOSE_TIMEOUT_MS)),
    );
    const how = await Promise.race([exited, timeout]);
    clearTimeout(timer);
    this.failRunning(inst, unavailable(`${this.opts.what}: model is shutting down`));
    if (how === 'timeout') await inst.worker.terminate();
  }

  private spawn(index: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const spawned = performance.timeOrigin + performance.now();
      const worker = new Worker(WORKER_SCRIPT, {
        workerData: { ...this.opts.init, instance: index } satisfies InstanceInit,
      });
      const inst: Instance = { index, worker, ready: false, exited: false };
      this.instances[index] = inst;
      let loaded = false;
      worker.on('message', (msg: FromWorker) => {
        switch (msg.type) {
          case 'ready':
            loaded = true;
            inst.ready = true;
            if (this.io.inputs.length === 0) this.io = { inputs: msg.inputs, outputs: msg.outputs };
            this.loads[index] ??= { spawned, times: msg.times, cache: msg.cache };
            resolve();
            this.pump();
            return;
          case 'load-error':
            reject(new ConfigError([`onnx-model: cannot load model ${this.opts.init.model}: ${msg.message}`]));
            void worker.terminate();
            return;
          case 'result':
          case 'run-error':
            this.finish(inst, msg);
            return;
        }
      });
      worker.on('error', (err) => this.died(inst, `threw ${err.message}`, loaded, reject));
      worker.on('exit', (code) => {
        inst.exited = true;
        this.died(inst, `exited with code ${code}`, loaded, reject);
      });
    });
  }

  private died(inst: Instance, how: string, loaded: boolean, rejectLoad: (e: unknown) => void): void {
    if (this.instances[inst.index] !== inst) return; // already replaced, or closing
    inst.ready = false;
    if (!loaded) {
      rejectLoad(new ConfigError([`onnx-model: instance ${inst.index} ${how} while loading ${this.opts.init.model}`]));
      return;
    }
    if (this.closed) return;
    this.crashesCount++;
    const reason = `instance ${inst.index} ${how}`;
    this.failRunning(
      inst,
      internal(`${this.opts.what}: ${reason} while running this request; the instance is being replaced`),
    );
    this.opts.onCrash?.(inst.index, reason);
    this.spawn(inst.index).catch((err: unknown) => {
      // The model loaded before, so this is rare (memory, file removed); the other instances keep serving.
      this.opts.onCrash?.(inst.index, `replacement failed to load: ${(err as Error).message}`);
    });
  }

  private failRunning(inst: Instance, err: Error): void {
    const running = inst.running;
    inst.running = undefined;
    for (const item of running?.items ?? []) item.reject(err);
  }

  /** Hands queued work to free instances; with batching, waits up to maxQueueDelayMs for a batch to fill. */
  private pump(): void {
    if (this.closed) return;
    const { maxBatch, maxQueueDelayMs } = this.opts;
    for (const inst of this.instances) {
      if (!inst?.ready || inst.running) continue;
      if (this.queue.length === 0) return;
      if (maxBatch > 1 && maxQueueDelayMs > 0 && this.queue.length < maxBatch) {
        const waited = performance.now() - (this.queue.oldestEnqueuedAt ?? 0);
        if (waited < maxQueueDelayMs) {
          if (!this.batchTimer) {
            this.batchTimer = setTimeout(() => {
              this.batchTimer = undefined;
              this.pump();
            }, maxQueueDelayMs - waited);
          }
          return;
        }
      }
      const items = this.takeBatch();
      if (items.length === 0) return;
      this.dispatch(inst, items);
    }
  }

  private takeBatch(): Taken[] {
    const { maxBatch } = this.opts;
    if (maxBatch <= 1) return this.queue.take(1);
    let rows = 0;
    return this.queue.take(maxBatch, (first, other) => {
      if (rows === 0) rows = first.tensor.shape[0] ?? 1;
      const n = other.tensor.shape[0] ?? 1;
      if (rows + n > maxBatch || !sameRowShape(first, other)) return false;
      rows += n;
      return true;
    });
  }

  private dispatch(inst: Instance, items: Taken[]): void {
    const id = this.nextId++;
    const first = (items[0] as Taken).item;
    const { tensor } = first;
    const rowShape = tensor.shape.slice(1);
    const rows = items.reduce((a, t) => a + (t.item.tensor.shape[0] ?? 1), 0);
    const dims = items.length === 1 ? [...tensor.shape] : [rows, ...rowShape];
    inst.running = { id, items };
    const base = { type: 'run' as const, id, ...this.ioNames, dtype: tensor.dtype, dims, normalise: first.normalise };
    if (tensor.dtype === 'string') {
      const strings = items.flatMap((t) =>
        (t.item.tensor.data as Uint8Array[]).map((b) => Buffer.from(b).toString('utf8')),
      );
      inst.worker.postMessage({
        ...base,
        buffer: new ArrayBuffer(0),
        byteOffset: 0,
        length: 0,
        strings,
      } satisfies ToWorker);
      return;
    }
    const data = gather(
      items.map((t) => t.item.tensor.data as TypedArray),
      tensor.dtype,
    );
    const buffer = data.buffer as ArrayBuffer;
    inst.worker.postMessage({ ...base, buffer, byteOffset: 0, length: data.length } satisfies ToWorker, [buffer]);
  }

  private finish(inst: Instance, msg: Extract<FromWorker, { type: 'result' | 'run-error' }>): void {
    const running = inst.running;
    if (!running || running.id !== msg.id) return;
    inst.running = undefined;
    const { items } = running;
    if (msg.type === 'run-error') {
      for (const t of items) t.reject(internal(`${this.opts.what}: onnxruntime failed: ${msg.message}`));
    } else {
      this.runsCount += items.length;
      this.batchesCount++;
      this.pushback.callFinished(msg.runMs);
      const rows = msg.dims[0] ?? 1;
      let offset = 0;
      for (const t of items) {
        const n = items.length === 1 ? rows : (t.item.tensor.shape[0] ?? 1);
        const tensor = items.length === 1 ? slice(msg, 0, rows, msg.dims) : slice(msg, offset, n);
        t.resolve({ tensor, batch: rows, runMs: msg.runMs });
        offset += n;
      }
    }
    this.pump();
  }
}

function sameRowShape(a: Job, b: Job): boolean {
  const sa = a.tensor.shape;
  const sb = b.tensor.shape;
  return (
    a.tensor.dtype === b.tensor.dtype &&
    a.tensor.dtype !== 'string' &&
    a.normalise === b.normalise &&
    sa.length === sb.length &&
    sa.every((d, i) => i === 0 || d === sb[i])
  );
}

/** One copy: the request's elements (or the batch's, concatenated) into a fresh buffer that can be transferred. */
function gather(parts: TypedArray[], dtype: DType): TypedArray {
  const Ctor = DTYPES[dtype as NumericDType]?.ctor;
  if (!Ctor) throw internal(`onnx-model: cannot carry dtype ${dtype} to a worker`);
  const total = parts.reduce((a, p) => a + p.length, 0);
  const out = new Ctor(total);
  let at = 0;
  for (const p of parts) {
    (out as Float32Array).set(p as Float32Array, at);
    at += p.length;
  }
  return out;
}

/** Rows [offset, offset + n) of the result, as a view (no copy). */
function slice(msg: Extract<FromWorker, { type: 'result' }>, offset: number, n: number, whole?: number[]): Tensor {
  const rows = msg.dims[0] ?? 1;
  const shape = whole ?? [n, ...msg.dims.slice(1)];
  if (msg.dtype === 'string') {
    const all = (msg.strings ?? []).map((s) => new TextEncoder().encode(s));
    const per = rows === 0 ? 0 : all.length / rows;
    return { dtype: 'string', shape, data: whole ? all : all.slice(offset * per, (offset + n) * per) };
  }
  const View = DTYPES[msg.dtype as NumericDType]?.ctor;
  if (!View) throw internal(`onnx-model: model output has type ${msg.dtype}, which infergraph cannot carry`);
  const per = rows === 0 ? 0 : msg.length / rows;
  const data = whole
    ? new View(msg.buffer, msg.byteOffset, msg.length)
    : new View(msg.buffer, msg.byteOffset + offset * per * View.BYTES_PER_ELEMENT, n * per);
  return { dtype: msg.dtype as Exclude<DType, 'string'>, shape, data };
}
