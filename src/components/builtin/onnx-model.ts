/**
 * onnx-model: runs one ONNX model with onnxruntime-node. One tensor in (validated against the model's declared dtype
 * and shape), one tensor out.
 *
 * onnxruntime-node's run() is synchronous under its Promise, so inference runs in `instances` worker threads, each
 * with its own session (onnx-pool.ts); the main thread validates, queues (bounded, cancel- and deadline-aware) and
 * answers, and so keeps serving health checks while a model computes. Thread counts default to 1 and spinning to off
 * (measured: two sessions side by side, 81.8 ms with spinning, 47.7 ms without).
 */
import { accessSync } from 'node:fs';
import path from 'node:path';
import type * as ort from 'onnxruntime-node';
import { ConfigError, failedPrecondition, invalidArgument } from '../../errors';
import type { ParamValue } from '../types';
import { describePayload, type Payload } from '../../message/message';
import { isDType, type DType } from '../../tensor/dtype';
import { numel, shapeToString } from '../../tensor/tensor';
import type {
  CallContext,
  Component,
  ComponentContext,
  ComponentDefinition,
  ComponentMetadata,
  TensorMetadata,
} from '../api';
import { Params, throwIfGone } from './common';
import { readMetadataProps } from './onnx-metadata-props';
import { OnnxPool } from './onnx-pool';
import type { IoMeta } from './onnx-worker-protocol';
import { normalisationTable } from './uint8-normalise';
import { CATALOG } from './catalog';
import { cacheDirFor } from './onnx-session-cache';
import { startupMarkAt } from '../../util/startup-marks';

const NAME = 'onnx-model';
/** metadata_props key our model generator writes into synthetic (random-weight) models. */
export const SYNTHETIC_KEY = 'infergraph.synthetic';

const OPTIMIZATION = ['disabled', 'basic', 'extended', 'all'] as const;
type Optimization = (typeof OPTIMIZATION)[number];

export interface OnnxModelConfig {
  model: string;
  intraOpThreads: number;
  interOpThreads: number;
  spinning: boolean;
  graphOptimization: Optimization;
  softmax: boolean;
  inputName?: string;
  outputName?: string;
  /** Accept uint8 NCHW pixels and normalise them here (jpeg-input outputDtype: uint8): per-channel mean and std. */
  normalizeUint8?: { mean: number[]; std: number[] };
  /** Worker threads, each with its own session. */
  instances: number;
  /** Requests that may wait for an instance; one more is refused with RESOURCE_EXHAUSTED. */
  maxQueue: number;
  /** Rows per run with dynamic batching; 1 = off. */
  maxBatch: number;
  maxQueueDelayMs: number;
  /** Niceness of the instance threads relative to the node's main thread. */
  instanceNice: number;
  /** The optimised-graph cache: 'auto', 'off' or a folder (onnx-session-cache.ts). */
  sessionCache: string;
}

interface IoSpec {
  name: string;
  type: ort.Tensor.Type;
  shape: readonly (number | string)[];
}

const describeSpec = (s: IoSpec): string => `${s.type} ${shapeToString(s.shape.map((d) => (d === '' ? '?' : d)))}`;

/** Symbolic dimensions ('batch_size', or '' when unnamed) accept any positive size; fixed ones must be equal. */
export function shapeMatches(expected: readonly (number | string)[], got: readonly number[]): boolean {
  if (expected.length === 0) return true; // the model does not declare a shape
  if (expected.length !== got.length) return false;
  return expected.every((e, i) => {
    const g = got[i] as number;
    return typeof e === 'number' && e >= 0 ? e === g : g > 0;
  });
}

function tensorSpec(m: IoMeta, role: string, file: string): IoSpec {
  if (!m.isTensor) throw new ConfigError([`${NAME}: model ${file} ${role} '${m.name}' is not a tensor`]);
  return { name: m.name, type: m.type as ort.Tensor.Type, shape: m.shape ?? [] };
}

function pick(specs: IoSpec[], wanted: string | undefined, role: string, file: string): IoSpec {
  const names = specs.map((s) => s.name).join(', ');
  if (wanted === undefined) {
    const first = specs[0];
    if (!first) throw new ConfigError([`${NAME}: model ${file} has no ${role}s`]);
    return first;
  }
  const found = specs.find((s) => s.name === wanted);
  if (!found) throw new ConfigError([`${NAME}: model ${file} has no ${role} '${wanted}' (${role}s: ${names})`]);
  return found;
}

/** The InferenceSession options of an instance (bench/onnx-gap.ts builds its bare sessions with the same). */
export function sessionOptions(
  cfg: Pick<OnnxModelConfig, 'intraOpThreads' | 'interOpThreads' | 'spinning' | 'graphOptimization'>,
): ort.InferenceSession.SessionOptions {
  const allow = cfg.spinning ? '1' : '0';
  return {
    intraOpNumThreads: cfg.intraOpThreads,
    interOpNumThreads: cfg.interOpThreads,
    graphOptimizationLevel: cfg.graphOptimization,
    executionMode: 'sequential',
    // The Node binding flattens `extra` into session config keys: session.intra_op.allow_spinning etc.
    extra: { session: { intra_op: { allow_spinning: allow }, inter_op: { allow_spinning: allow } } },
    logSeverityLevel: 3,
  };
}

class OnnxModel implements Component {
  private pool: OnnxPool | undefined;
  private input!: IoSpec;
  private output!: IoSpec;
  private inputs: IoSpec[] = [];
  private outputs: IoSpec[] = [];
  private synthetic = false;
  private readonly label: string;
  private readonly lut: Float32Array | undefined;

  constructor(
    private readonly cfg: OnnxModelConfig,
    private readonly ctx: ComponentContext,
  ) {
    this.label = path.basename(cfg.model);
    if (cfg.normalizeUint8) this.lut = normalisationTable(cfg.normalizeUint8.mean, cfg.normalizeUint8.std);
  }

  async load(): Promise<void> {
    const { model } = this.cfg;
    // Synchronous, so the workers are spawned before this returns to the event loop: the `node` command starts the
    // component before it loads the server's code, and the session is made meanwhile (issue 22).
    try {
      accessSync(model);
    } catch {
      throw new ConfigError([`${NAME}: model file ${model} does not exist or is not readable`]);
    }
    const pool = this.newPool(sessionOptions(this.cfg));
    await pool.start();
    const first = pool.loads[0];
    if (first) {
      // The node's start-up breakdown (the `startup` log line): the worker thread, onnxruntime loaded, the session.
      startupMarkAt('spawn', first.spawned);
      startupMarkAt('worker', first.times.started);
      startupMarkAt('ort', first.times.ortLoaded);
      startupMarkAt('session', first.times.session);
    }
    try {
      this.configure(pool);
    } catch (err) {
      await pool.close();
      throw err;
    }
    this.pool = pool;
    try {
      this.synthetic = (await readMetadataProps(model))[SYNTHETIC_KEY] === 'true';
    } catch (err) {
      this.ctx.logger.warn(
        { model, err: (err as Error).message },
        'cannot read ONNX metadata_props; assuming real weights',
      );
    }
    const { instances, maxQueue, maxBatch } = this.cfg;
    this.ctx.logger.info(
      {
        model,
        input: describeSpec(this.input),
        output: describeSpec(this.output),
        synthetic: this.synthetic,
        instances,
        maxQueue,
        maxBatch,
        ...(first
          ? {
              sessionCache: first.cache.state === 'off' ? `off: ${first.cache.reason}` : first.cache.state,
              sessionMs: Math.round(first.times.session - first.times.ortLoaded),
            }
          : {}),
      },
      `${NAME} loaded ${this.label}`,
    );
  }

  /** Picks and checks the input and output to use from what the loaded instances report. */
  private configure(pool: OnnxPool): void {
    const { model } = this.cfg;
    const io = pool.io;
    this.inputs = io.inputs.map((m) => tensorSpec(m, 'input', model));
    this.outputs = io.outputs.map((m) => tensorSpec(m, 'output', model));
    if (this.inputs.length !== 1 && this.cfg.inputName === undefined) {
      throw new ConfigError([
        `${NAME}: model ${model} has ${this.inputs.length} inputs (${this.inputs.map((s) => s.name).join(', ')}); onnx-model feeds exactly one`,
      ]);
    }
    this.input = pick(this.inputs, this.cfg.inputName, 'input', model);
    this.output = pick(this.outputs, this.cfg.outputName, 'output', model);
    // ORT element types our Tensor carries as they are (float16 outputs are widened to float32; an input cannot be).
    if (!isDType(this.input.type)) {
      throw new ConfigError([
        `${NAME}: model ${model} input '${this.input.name}' has type ${this.input.type}, which infergraph tensors cannot carry`,
      ]);
    }
    if (this.cfg.softmax && !['float32', 'float64', 'float16'].includes(this.output.type)) {
      throw new ConfigError([
        `${NAME}: softmax needs a floating-point output; '${this.output.name}' is ${this.output.type}`,
      ]);
    }
    const batchDim = this.input.shape[0];
    if (this.cfg.maxBatch > 1 && (this.input.shape.length === 0 || (typeof batchDim === 'number' && batchDim >= 0))) {
      throw new ConfigError([
        `${NAME}: maxBatch ${this.cfg.maxBatch} needs a model whose input '${this.input.name}' has a symbolic first (batch) ` +
          `dimension; it is ${describeSpec(this.input)}`,
      ]);
    }
    pool.setIo(this.input.name, this.output.name);
  }

  private newPool(options: ort.InferenceSession.SessionOptions): OnnxPool {
    return new OnnxPool({
      what: `${NAME} ${this.label}`,
      instances: this.cfg.instances,
      maxQueue: this.cfg.maxQueue,
      maxBatch: this.cfg.maxBatch,
      maxQueueDelayMs: this.cfg.maxQueueDelayMs,
      init: {
        model: this.cfg.model,
        sessionOptions: options,
        softmax: this.cfg.softmax,
        lut: this.lut,
        nice: this.cfg.instanceNice,
        cacheDir: cacheDirFor(this.cfg.sessionCache, this.ctx.baseDir),
      },
      onCrash: (instance, reason) =>
        this.ctx.logger.error({ model: this.cfg.model, instance, reason }, `${NAME}: instance died; replacing it`),
    });
  }

  async predict(payload: Payload, ctx: CallContext): Promise<Payload> {
    const pool = this.pool;
    if (!pool) throw failedPrecondition(`${NAME}: model ${this.label} is not loaded`);
    const want = this.input;
    if (payload.kind !== 'tensor') {
      throw invalidArgument(
        `model input '${want.name}' expects a ${describeSpec(want)} tensor, got ${describePayload(payload)}`,
      );
    }
    const t = payload.tensor;
    const channels = this.cfg.normalizeUint8?.mean.length;
    // uint8 pixels are normalised by the worker (same table as jpeg-input), so validate as the float32 they become.
    const normalise =
      !!this.lut && t.dtype === 'uint8' && want.type === 'float32' && t.shape.length >= 2 && t.shape[1] === channels;
    const dtype: DType = normalise ? 'float32' : t.dtype;
    if (dtype !== want.type || !shapeMatches(want.shape, t.shape)) {
      throw invalidArgument(
        `model input '${want.name}' expects ${describeSpec(want)}, got ${t.dtype} ${shapeToString(t.shape)}`,
      );
    }
    if (t.data.length !== numel(t.shape)) {
      throw invalidArgument(
        `model input '${want.name}': shape ${shapeToString(t.shape)} needs ${numel(t.shape)} elements, got ${t.data.length}`,
      );
    }
    throwIfGone(ctx, `${NAME} ${this.label}`);
    const outName = this.output.name;
    const result = await ctx.work(
      'ort.run',
      () => pool.submit({ tensor: t, normalise }, { signal: ctx.signal, deadline: ctx.deadline }),
      {
        model: this.label,
        batch: t.shape[0] ?? 1,
        threads: this.cfg.intraOpThreads,
        instances: this.cfg.instances,
      },
    );
    if (this.synthetic) ctx.addTags({ synthetic: true });
    return { kind: 'tensor', tensor: result.tensor, names: [outName], encoding: 'tftensor' };
  }

  metadata(): ComponentMetadata {
    const md = (s: IoSpec): TensorMetadata => ({ name: s.name, datatype: s.type, shape: [...s.shape] });
    return {
      platform: 'onnxruntime',
      versions: [this.label],
      inputs: this.inputs.map(md),
      outputs: this.outputs.map(md),
    };
  }

  /** True when the model file says it carries synthetic (random) weights. */
  get isSynthetic(): boolean {
    return this.synthetic;
  }

  /** The instance pool (tests count runs and crash instances through it). */
  get instancePool(): OnnxPool | undefined {
    return this.pool;
  }

  async close(): Promise<void> {
    const p = this.pool;
    this.pool = undefined;
    if (p) await p.close();
  }
}

export function onnxModelConfig(values: Record<string, ParamValue>): OnnxModelConfig {
  const p = new Params(NAME, values, definition.parameters);
  return {
    model: p.string('model'),
    intraOpThreads: p.integer('intraOpThreads', 0, 1024),
    interOpThreads: p.integer('interOpThreads', 0, 1024),
    spinning: p.boolean('spinning'),
    graphOptimization: p.oneOf('graphOptimization', OPTIMIZATION),
    softmax: p.boolean('softmax'),
    inputName: p.optionalString('inputName'),
    outputName: p.optionalString('outputName'),
    ...(p.boolean('normalizeUint8') ? { normalizeUint8: meanStd(p) } : {}),
    instances: p.integer('instances', 1, 64),
    maxQueue: p.integer('maxQueue', 1, 1_000_000),
    maxBatch: p.integer('maxBatch', 1, 4096),
    maxQueueDelayMs: p.integer('maxQueueDelayMs', 0, 60_000),
    instanceNice: p.integer('instanceNice', 0, 19),
    sessionCache: p.string('sessionCache'),
  };
}

function meanStd(p: Params): { mean: number[]; std: number[] } {
  const mean = p.numberList('mean') as number[];
  const std = p.numberList('std') as number[];
  if (mean.length !== std.length)
    throw new ConfigError([
      `${NAME}: 'mean' has ${mean.length} values but 'std' has ${std.length}; give one per channel`,
    ]);
  if (std.some((x) => x === 0)) throw new ConfigError([`${NAME}: 'std' must not contain 0`]);
  return { mean, std };
}

const definition: ComponentDefinition = {
  ...CATALOG['onnx-model'],
  details: [
    "- **At load** it reads the model's input and output names, dtypes and shapes.",
    '- **Per request** it checks the dtype and shape against the model: a mismatch is ' +
      'INVALID_ARGUMENT naming expected vs got; symbolic dimensions such as `batch_size` match any ' +
      'size. The output is returned as a tftensor.',
    "- **Off the event loop:** onnxruntime-node's `run()` blocks the thread that calls it, so inference runs in " +
      "`instances` worker threads, each with its own session (Triton's instance groups). The main thread only " +
      'validates, queues and answers, so health checks, cancellations and refusals are answered while a model ' +
      'computes. A tensor is copied once into a fresh buffer that is transferred to the worker, which also does the ' +
      'uint8 normalisation and the softmax.',
    '- **Admission:** requests wait in one bounded FIFO (`src/util/work-queue.ts`): the request after `maxQueue` ' +
      'waiting ones is refused at once with RESOURCE_EXHAUSTED naming the limit, and a pushback ' +
      '(`grpc-retry-pushback-ms`) spaced by the run time over `instances` × `maxBatch`; a waiting request whose caller ' +
      'cancels or whose deadline passes leaves the queue then (CANCELLED / DEADLINE_EXCEEDED) and never runs. A worker ' +
      'that dies fails the request it held (INTERNAL, naming the instance) and is replaced. On close, queued requests ' +
      'get UNAVAILABLE and running ones finish.',
    '- **Dynamic batching** (`maxBatch` > 1, models with a symbolic batch dimension): requests queued together (same ' +
      'dtype and row shape) run as one batch of up to `maxBatch` rows; a free instance waits at most ' +
      '`maxQueueDelayMs` for a batch to fill. Off by default: on 2 cores it gave no more images/s ' +
      '([performance](performance.md)).',
    '- **Synthetic models** (written by `infergraph models generate`) are recognised from their ' +
      'ONNX metadata, and every answer from them is tagged `synthetic: true`.',
    '- **Threads**: one intra-op thread and no spinning by default, because graph nodes share the ' +
      'cores. Two sessions side by side on 2 cores took 81.8 ms per run with spinning and 47.7 ms without.',
  ].join('\n'),
  create(params, ctx: ComponentContext): Component {
    return new OnnxModel(onnxModelConfig(params), ctx);
  },
};

export default definition;
