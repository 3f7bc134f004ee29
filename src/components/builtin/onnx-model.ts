/**
 * onnx-model: runs one ONNX model with onnxruntime-node. One tensor in (validated against the model's declared dtype
 * and shape), one tensor out. Inputs are handed to ORT over the request's own typed array, without a copy.
 *
 * onnxruntime-node runs inference synchronously on the JS thread, so a node serves one inference at a time; that is
 * why thread counts default to 1 and spinning to off (measured: two sessions side by side, 81.8 ms with spinning,
 * 47.7 ms without).
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ConfigError, failedPrecondition, internal, invalidArgument } from '../../errors';
import type { ParamValue } from '../../graph/spec';
import { describePayload, type Payload } from '../../message/message';
import type { DType, TypedArray } from '../../tensor/dtype';
import { numel, shapeToString, type Tensor } from '../../tensor/tensor';
import type { CallContext, Component, ComponentContext, ComponentDefinition, ComponentMetadata, TensorMetadata } from '../api';
import { Params, softmaxRows, throwIfGone } from './common';
import { readMetadataProps } from './onnx-metadata-props';
import { normalisationTable, normalisePlanar } from './uint8-normalise';
import { CATALOG } from './catalog';

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
}

/** ORT element types our Tensor can carry as they are. float16 outputs are widened to float32. */
const DIRECT: ReadonlySet<string> = new Set<DType>([
  'float32', 'float64', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'bool', 'string',
]);

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

function tensorSpec(m: ort.InferenceSession.ValueMetadata, role: string, file: string): IoSpec {
  if (!m.isTensor) throw new ConfigError([`${NAME}: model ${file} ${role} '${m.name}' is not a tensor`]);
  return { name: m.name, type: m.type, shape: m.shape };
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

/** IEEE 754 half (as uint16 bits) to float32. */
function halfToFloat(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i] as number;
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    out[i] =
      exp === 0 ? sign * 2 ** -14 * (frac / 1024) : exp === 31 ? (frac ? NaN : sign * Infinity) : sign * 2 ** (exp - 15) * (1 + frac / 1024);
  }
  return out;
}

function toOrt(t: Tensor, type: ort.Tensor.Type): ort.Tensor {
  if (t.dtype === 'string') {
    const dec = new TextDecoder();
    return new ort.Tensor('string', t.data.map((s) => dec.decode(s)), t.shape);
  }
  // Same element type by construction (validated), so the typed array goes to ORT as it is: no copy.
  return new ort.Tensor(type as 'float32', t.data as Float32Array, t.shape);
}

function fromOrt(v: ort.Tensor, name: string): Tensor {
  const shape = Array.from(v.dims);
  if (v.type === 'float16') return { dtype: 'float32', shape, data: halfToFloat(v.data as Uint16Array) };
  if (v.type === 'string') {
    const enc = new TextEncoder();
    return { dtype: 'string', shape, data: (v.data as string[]).map((s) => enc.encode(s)) };
  }
  if (!DIRECT.has(v.type)) throw internal(`${NAME}: model output '${name}' has type ${v.type}, which infergraph cannot carry`);
  return { dtype: v.type as Exclude<DType, 'string'>, shape, data: v.data as TypedArray };
}

class OnnxModel implements Component {
  private session: ort.InferenceSession | undefined;
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
    try {
      await access(model);
    } catch {
      throw new ConfigError([`${NAME}: model file ${model} does not exist or is not readable`]);
    }
    const allow = this.cfg.spinning ? '1' : '0';
    const options: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: this.cfg.intraOpThreads,
      interOpNumThreads: this.cfg.interOpThreads,
      graphOptimizationLevel: this.cfg.graphOptimization,
      executionMode: 'sequential',
      // The Node binding flattens `extra` into session config keys: session.intra_op.allow_spinning etc.
      extra: { session: { intra_op: { allow_spinning: allow }, inter_op: { allow_spinning: allow } } },
      logSeverityLevel: 3,
    };
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(model, options);
    } catch (err) {
      throw new ConfigError([`${NAME}: cannot load model ${model}: ${err instanceof Error ? err.message : String(err)}`]);
    }
    try {
      this.inputs = session.inputMetadata.map((m) => tensorSpec(m, 'input', model));
      this.outputs = session.outputMetadata.map((m) => tensorSpec(m, 'output', model));
      if (this.inputs.length !== 1 && this.cfg.inputName === undefined) {
        throw new ConfigError([
          `${NAME}: model ${model} has ${this.inputs.length} inputs (${this.inputs.map((s) => s.name).join(', ')}); onnx-model feeds exactly one`,
        ]);
      }
      this.input = pick(this.inputs, this.cfg.inputName, 'input', model);
      this.output = pick(this.outputs, this.cfg.outputName, 'output', model);
      if (this.input.type !== 'string' && !DIRECT.has(this.input.type)) {
        throw new ConfigError([`${NAME}: model ${model} input '${this.input.name}' has type ${this.input.type}, which infergraph tensors cannot carry`]);
      }
      if (this.cfg.softmax && !['float32', 'float64', 'float16'].includes(this.output.type)) {
        throw new ConfigError([`${NAME}: softmax needs a floating-point output; '${this.output.name}' is ${this.output.type}`]);
      }
    } catch (err) {
      await session.release();
      throw err;
    }
    this.session = session;
    try {
      this.synthetic = (await readMetadataProps(model))[SYNTHETIC_KEY] === 'true';
    } catch (err) {
      this.ctx.logger.warn({ model, err: (err as Error).message }, 'cannot read ONNX metadata_props; assuming real weights');
    }
    this.ctx.logger.info(
      { model, input: describeSpec(this.input), output: describeSpec(this.output), synthetic: this.synthetic },
      `${NAME} loaded ${this.label}`,
    );
  }

  async predict(payload: Payload, ctx: CallContext): Promise<Payload> {
    const session = this.session;
    if (!session) throw failedPrecondition(`${NAME}: model ${this.label} is not loaded`);
    const want = this.input;
    if (payload.kind !== 'tensor') {
      throw invalidArgument(`model input '${want.name}' expects a ${describeSpec(want)} tensor, got ${describePayload(payload)}`);
    }
    let t = payload.tensor;
    const channels = this.cfg.normalizeUint8?.mean.length;
    if (this.lut && t.dtype === 'uint8' && want.type === 'float32' && t.shape.length >= 2 && t.shape[1] === channels) {
      t = { dtype: 'float32', shape: t.shape, data: normalisePlanar(t.data as Uint8Array, t.shape, this.lut) };
    }
    if (t.dtype !== want.type || !shapeMatches(want.shape, t.shape)) {
      throw invalidArgument(`model input '${want.name}' expects ${describeSpec(want)}, got ${t.dtype} ${shapeToString(t.shape)}`);
    }
    if (t.data.length !== numel(t.shape)) {
      throw invalidArgument(`model input '${want.name}': shape ${shapeToString(t.shape)} needs ${numel(t.shape)} elements, got ${t.data.length}`);
    }
    throwIfGone(ctx, `${NAME} ${this.label}`);
    const feeds = { [want.name]: toOrt(t, want.type) };
    const outName = this.output.name;
    const results = await ctx.work(
      'ort.run',
      async () => {
        try {
          return await session.run(feeds, [outName]);
        } catch (err) {
          throw internal(`${NAME}: onnxruntime failed on ${this.label}: ${err instanceof Error ? err.message : String(err)}`, err);
        }
      },
      { model: this.label, batch: t.shape[0] ?? 1, threads: this.cfg.intraOpThreads },
    );
    const value = results[outName];
    if (!value) throw internal(`${NAME}: onnxruntime returned no output '${outName}'`);
    const out = fromOrt(value as ort.Tensor, outName);
    if (this.cfg.softmax && (out.dtype === 'float32' || out.dtype === 'float64')) {
      softmaxRows(out.data as Float32Array | Float64Array, out.shape[out.shape.length - 1] ?? out.data.length);
    }
    if (this.synthetic) ctx.addTags({ synthetic: true });
    return { kind: 'tensor', tensor: out, names: [outName], encoding: 'tftensor' };
  }

  metadata(): ComponentMetadata {
    const md = (s: IoSpec): TensorMetadata => ({ name: s.name, datatype: s.type, shape: [...s.shape] });
    return { platform: 'onnxruntime', versions: [this.label], inputs: this.inputs.map(md), outputs: this.outputs.map(md) };
  }

  /** True when the model file says it carries synthetic (random) weights. */
  get isSynthetic(): boolean {
    return this.synthetic;
  }

  async close(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    if (s) await s.release();
  }
}

export function onnxModelConfig(values: Record<string, ParamValue>): OnnxModelConfig {
  const p = new Params(NAME, values);
  return {
    model: p.string('model'),
    intraOpThreads: p.integer('intraOpThreads', 1, 0, 1024),
    interOpThreads: p.integer('interOpThreads', 1, 0, 1024),
    spinning: p.boolean('spinning', false),
    graphOptimization: p.oneOf('graphOptimization', OPTIMIZATION, 'all'),
    softmax: p.boolean('softmax', false),
    inputName: p.optionalString('inputName'),
    outputName: p.optionalString('outputName'),
    ...(p.boolean('normalizeUint8', false) ? { normalizeUint8: meanStd(p) } : {}),
  };
}

function meanStd(p: Params): { mean: number[]; std: number[] } {
  const mean = p.numberList('mean', '0.485,0.456,0.406') as number[];
  const std = p.numberList('std', '0.229,0.224,0.225') as number[];
  if (mean.length !== std.length) throw new ConfigError([`${NAME}: 'mean' has ${mean.length} values but 'std' has ${std.length}; give one per channel`]);
  if (std.some((x) => x === 0)) throw new ConfigError([`${NAME}: 'std' must not contain 0`]);
  return { mean, std };
}

const definition: ComponentDefinition = {
  ...CATALOG['onnx-model'],
  create(params, ctx: ComponentContext): Component {
    return new OnnxModel(onnxModelConfig(params), ctx);
  },
};

export default definition;
