// Static int8 quantisation of an fp32 ONNX CNN into QDQ form (QuantizeLinear/DequantizeLinear pairs), the format
// onnxruntime turns into its int8 kernels (QLinearConv, QLinearAdd, QGemm, ...) when it optimises the graph.
//
//   weights      Conv/Gemm/MatMul: int8, symmetric (zero point 0), one scale per output channel, range ±127
//   biases       int32 with scale = input scale × weight scale (what the int8 kernels accumulate in)
//   activations  uint8, asymmetric: scale and zero point from the min/max seen on calibration inputs
//
// Before quantising, BatchNormalization that follows a Conv is folded into its weights, any other BatchNormalization
// becomes a depthwise 1x1 Conv, and a Relu right after a Conv/Add/Gemm is dropped once its output is quantised with
// zero point 0 (the uint8 clamp at 0 *is* the Relu). Operators without int8 kernels (Softmax, Sigmoid, ...) stay
// float between a DQ and a Q.
import {
  attrFloat,
  attrInt,
  defaultOpset,
  ElemType,
  floatValues,
  type ModelObj,
  type NodeObj,
  tensorObj,
  type TensorObj,
} from './onnx-file';

/** Ops whose activation inputs and outputs are quantised: onnxruntime has QDQ int8 kernels for them. */
const QUANTIZED_OPS = new Set([
  'Conv',
  'Gemm',
  'MatMul',
  'Add',
  'Concat',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'Flatten',
]);
/** Ops that only move values: their output takes the input's scale, so onnxruntime can drop the pair around them. */
const PASS_THROUGH_OPS = new Set(['MaxPool', 'Flatten', 'Reshape']);
/** Producers a following Relu can be folded into (their quantised output clamps at 0). */
const RELU_FOLDABLE = new Set(['Conv', 'Add', 'Gemm', 'MatMul']);
/** Ops whose meaning changed at opset 13; a model with them cannot simply be declared opset 13. */
const CHANGED_AT_13 = new Set(['Softmax', 'LogSoftmax', 'Hardmax', 'Split', 'Squeeze', 'Unsqueeze', 'ReduceSum']);
const MIN_OPSET = 13;

export const WEIGHT_QMAX = 127;

export interface Range {
  min: number;
  max: number;
}

export interface QParams {
  scale: number;
  zeroPoint: number;
}

/** uint8 asymmetric parameters for a calibrated range; the range is widened to contain 0 so 0 is exact. */
export function activationParams(r: Range): QParams {
  const min = Math.min(0, r.min);
  const max = Math.max(0, r.max);
  if (!(max > min)) return { scale: 1, zeroPoint: 0 };
  const scale = (max - min) / 255;
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-min / scale)));
  return { scale, zeroPoint };
}

/** int8 symmetric per-channel weights: channel c of `w` (laid out with `axis` as given) gets scale max|w_c| / 127. */
export function quantizeWeights(
  w: Float32Array,
  dims: readonly number[],
  axis: number,
): { q: Int8Array; scales: Float32Array } {
  const channels = dims[axis] as number;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const scales = new Float32Array(channels);
  const channelOf = (i: number): number => Math.floor(i / inner) % channels;
  for (let i = 0; i < w.length; i++) {
    const c = channelOf(i);
    scales[c] = Math.max(scales[c] as number, Math.abs(w[i] as number));
  }
  for (let c = 0; c < channels; c++) scales[c] = (scales[c] as number) > 0 ? (scales[c] as number) / WEIGHT_QMAX : 1;
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const v = Math.round((w[i] as number) / (scales[channelOf(i)] as number));
    q[i] = Math.max(-WEIGHT_QMAX, Math.min(WEIGHT_QMAX, v));
  }
  return { q, scales };
}

/** int32 bias for scale inputScale × weightScale[c]. */
export function quantizeBias(
  b: Float32Array,
  inputScale: number,
  weightScales: Float32Array,
): { q: Int32Array; scales: Float32Array } {
  const scales = new Float32Array(b.length);
  const q = new Int32Array(b.length);
  for (let c = 0; c < b.length; c++) {
    const ws = weightScales.length === 1 ? (weightScales[0] as number) : (weightScales[c] as number);
    scales[c] = inputScale * ws;
    q[c] = Math.round((b[c] as number) / (scales[c] as number));
  }
  return { q, scales };
}

/** What the quantizer will do to a model, decided before calibration: which float tensors need ranges. */
export interface QuantPlan {
  /** The model after BN folding (still fp32, Relus kept): run it to calibrate. */
  prepared: ModelObj;
  /** Activation tensors whose ranges calibration must measure. */
  calibrate: string[];
}

/** Folds BatchNormalization into preceding Convs and lists the activations to calibrate. Does not modify `model`. */
export function planQuantization(model: ModelObj): QuantPlan {
  const opset = defaultOpset(model);
  const ops = new Set(model.graph.node.filter((n) => !n.domain || n.domain === 'ai.onnx').map((n) => n.op_type));
  if (opset < 11)
    throw new Error(`quantize needs opset >= 11 (per-channel QDQ needs 13); the model has opset ${opset}`);
  if (opset < MIN_OPSET) {
    const blocking = [...ops].filter((o) => CHANGED_AT_13.has(o));
    if (blocking.length > 0) {
      throw new Error(
        `quantize needs opset 13 for per-channel weights; the model is opset ${opset} and uses ` +
          `${blocking.join(', ')}, whose ` +
          'meaning changed at 13: convert it first (onnx.version_converter)',
      );
    }
  }
  const prepared = batchNormsToDepthwise(foldBatchNorms(structuredCloneModel(model)));
  if (defaultOpset(prepared) < MIN_OPSET) {
    prepared.opset_import = [
      ...prepared.opset_import.filter((o) => o.domain && o.domain !== 'ai.onnx'),
      { domain: '', version: MIN_OPSET },
    ];
    prepared.ir_version = Math.max(prepared.ir_version ?? 0, 7);
  }
  const g = prepared.graph;
  const inits = new Set(g.initializer.map((t) => t.name));
  const wanted = new Set<string>();
  for (const n of g.node) {
    if (!QUANTIZED_OPS.has(n.op_type) || (n.domain && n.domain !== 'ai.onnx')) continue;
    const acts = n.op_type === 'Conv' || n.op_type === 'Gemm' ? n.input.slice(0, 1) : n.input;
    for (const x of acts) if (x && !inits.has(x)) wanted.add(x);
    for (const y of n.output)
      wanted.add(
        foldedReluOutput(
          g.node,
          y,
          n,
          g.output.map((o) => o.name),
        ) ?? y,
      );
  }
  return { prepared, calibrate: [...wanted] };
}

/** The Relu output that replaces `y` when a single Relu consumes it and can be folded into its producer. */
function foldedReluOutput(nodes: NodeObj[], y: string, producer: NodeObj, graphOutputs: string[]): string | undefined {
  if (!RELU_FOLDABLE.has(producer.op_type) || graphOutputs.includes(y)) return undefined;
  const consumers = nodes.filter((c) => c.input.includes(y));
  const only = consumers[0];
  if (consumers.length !== 1 || !only || only.op_type !== 'Relu') return undefined;
  return only.output[0];
}

function structuredCloneModel(m: ModelObj): ModelObj {
  // Initializer bytes are shared (never written in place); only the structure is copied.
  return {
    ...m,
    opset_import: m.opset_import.map((o) => ({ ...o })),
    graph: {
      ...m.graph,
      node: m.graph.node.map((n) => ({
        ...n,
        input: [...n.input],
        output: [...n.output],
        attribute: n.attribute?.map((a) => ({ ...a })),
      })),
      initializer: [...m.graph.initializer],
      input: [...m.graph.input],
      output: [...m.graph.output],
      value_info: [],
    },
  };
}

/** Conv → BatchNormalization (BN the Conv output's only consumer, all parameters initializers) becomes one Conv. */
function foldBatchNorms(m: ModelObj): ModelObj {
  const g = m.graph;
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const outputs = new Set(g.output.map((o) => o.name));
  const removed = new Set<NodeObj>();
  for (const bn of g.node) {
    if (bn.op_type !== 'BatchNormalization' || bn.output.length !== 1) continue;
    const x = bn.input[0] as string;
    const conv = g.node.find((n) => n.output[0] === x);
    if (!conv || conv.op_type !== 'Conv' || outputs.has(x) || g.node.filter((n) => n.input.includes(x)).length !== 1)
      continue;
    const [gamma, beta, mean, variance] = bn.input.slice(1).map((name) => inits.get(name));
    const w = inits.get(conv.input[1] as string);
    const b = conv.input[2] ? inits.get(conv.input[2]) : undefined;
    if (!gamma || !beta || !mean || !variance || !w || (conv.input[2] && !b)) continue;
    const eps = attrFloat(bn, 'epsilon', 1e-5);
    const [gv, bv, mv, vv, wv] = [gamma, beta, mean, variance, w].map(floatValues);
    const out = w.dims[0] as number;
    const per = (wv as Float32Array).length / out;
    const bias = b ? floatValues(b) : new Float32Array(out);
    const newW = new Float32Array((wv as Float32Array).length);
    const newB = new Float32Array(out);
    for (let o = 0; o < out; o++) {
      const k = (gv![o] as number) / Math.sqrt((vv![o] as number) + eps);
      for (let i = o * per; i < (o + 1) * per; i++) newW[i] = (wv![i] as number) * k;
      newB[o] = ((bias[o] as number) - (mv![o] as number)) * k + (bv![o] as number);
    }
    const wName = `${conv.output[0]}.folded_weight`;
    const bName = `${conv.output[0]}.folded_bias`;
    const wT = tensorObj(wName, w.dims, ElemType.FLOAT, newW);
    const bT = tensorObj(bName, [out], ElemType.FLOAT, newB);
    g.initializer.push(wT, bT);
    inits.set(wName, wT);
    inits.set(bName, bT);
    conv.input = [conv.input[0] as string, wName, bName];
    conv.output = [bn.output[0] as string];
    removed.add(bn);
  }
  g.node = g.node.filter((n) => !removed.has(n));
  dropUnusedInitializers(m);
  return m;
}

/**
 * A BatchNormalization left after folding (DenseNet's pre-activation BN follows a Concat, not a Conv) becomes a 1x1
 * depthwise Conv with the same per-channel scale and shift: exact in float, and in int8 it runs as a uint8→uint8
 * QLinearConv instead of dequantise → float BN → quantise (measured on DenseNet-169: that float path was ~30 % of
 * the int8 run time).
 */
function batchNormsToDepthwise(m: ModelObj): ModelObj {
  const g = m.graph;
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  g.node = g.node.map((bn) => {
    if (bn.op_type !== 'BatchNormalization' || bn.output.length !== 1) return bn;
    const params = bn.input.slice(1).map((name) => inits.get(name));
    if (params.length !== 4 || params.some((t) => !t || t.data_type !== ElemType.FLOAT)) return bn;
    const [gv, bv, mv, vv] = (params as TensorObj[]).map(floatValues);
    const channels = gv!.length;
    const eps = attrFloat(bn, 'epsilon', 1e-5);
    const w = new Float32Array(channels);
    const b = new Float32Array(channels);
    for (let c = 0; c < channels; c++) {
      w[c] = (gv![c] as number) / Math.sqrt((vv![c] as number) + eps);
      b[c] = (bv![c] as number) - (mv![c] as number) * (w[c] as number);
    }
    const name = bn.name || bn.output[0];
    g.initializer.push(
      tensorObj(`${name}.dw_weight`, [channels, 1, 1, 1], ElemType.FLOAT, w),
      tensorObj(`${name}.dw_bias`, [channels], ElemType.FLOAT, b),
    );
    return {
      op_type: 'Conv',
      name,
      input: [bn.input[0] as string, `${name}.dw_weight`, `${name}.dw_bias`],
      output: [...bn.output],
      attribute: [
        { name: 'group', type: 2, i: channels },
        { name: 'kernel_shape', type: 7, ints: [1, 1] },
      ],
    };
  });
  dropUnusedInitializers(m);
  return m;
}

function dropUnusedInitializers(m: ModelObj): void {
  const used = new Set(m.graph.node.flatMap((n) => n.input));
  for (const o of m.graph.output) used.add(o.name);
  m.graph.initializer = m.graph.initializer.filter((t) => used.has(t.name));
}

/** The prepared model with the tensors to calibrate added as graph outputs (run it, read their ranges). */
export function calibrationModel(plan: QuantPlan): ModelObj {
  const p = plan.prepared;
  const existing = new Set(p.graph.output.map((o) => o.name));
  const inputs = new Set(p.graph.input.map((i) => i.name));
  const extra = plan.calibrate
    .filter((t) => !existing.has(t) && !inputs.has(t))
    .map((name) => ({ name, type: { tensor_type: { elem_type: ElemType.FLOAT } } }));
  return { ...p, graph: { ...p.graph, output: [...p.graph.output, ...extra] } };
}

export interface QuantizeResult {
  model: ModelObj;
  /** Counts for the report: quantised weights, Q/DQ pairs, folded BN and Relu nodes. */
  stats: { weights: number; activations: number; foldedBatchNorms: number; foldedRelus: number };
}

/** Writes the QDQ model from the plan and the calibrated ranges (every name in plan.calibrate must have one). */
export function quantize(model: ModelObj, plan: QuantPlan, ranges: ReadonlyMap<string, Range>): QuantizeResult {
  const m = plan.prepared;
  const g = m.graph;
  const foldedBatchNorms =
    model.graph.node.filter((n) => n.op_type === 'BatchNormalization').length -
    g.node.filter((n) => n.op_type === 'BatchNormalization').length;
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const graphOutputs = g.output.map((o) => o.name);

  // 1. Drop Relus folded into their producer; the producer now writes the Relu's output.
  let foldedRelus = 0;
  const dropped = new Set<NodeObj>();
  for (const n of g.node) {
    const y = n.output[0];
    if (!y || !QUANTIZED_OPS.has(n.op_type)) continue;
    const relu = foldedReluOutput(g.node, y, n, graphOutputs);
    if (relu === undefined) continue;
    dropped.add(g.node.find((c) => c.op_type === 'Relu' && c.input[0] === y) as NodeObj);
    n.output = [relu, ...n.output.slice(1)];
    foldedRelus++;
  }
  g.node = g.node.filter((n) => !dropped.has(n));

  // 2. Activation parameters, in graph order so pass-through ops can take their input's.
  const params = new Map<string, QParams>();
  const need = new Set(plan.calibrate.map((t) => t));
  for (const name of g.input.map((i) => i.name)) if (need.has(name)) params.set(name, fromRange(ranges, name));
  for (const n of g.node) {
    for (const x of n.input) if (need.has(x) && !params.has(x) && !inits.has(x)) params.set(x, fromRange(ranges, x));
    for (const y of n.output) {
      if (!need.has(y)) continue;
      const input = n.input[0];
      const passThrough = PASS_THROUGH_OPS.has(n.op_type) && input !== undefined && params.has(input);
      params.set(y, passThrough ? (params.get(input) as QParams) : fromRange(ranges, y));
    }
  }

  // 3. Weights and biases of Conv/Gemm/MatMul become int8/int32 initializers behind a DequantizeLinear.
  const newNodes: NodeObj[] = [];
  let weights = 0;
  const dq = (name: string, q: TensorObj, scale: TensorObj, zp: TensorObj, axis?: number): string => {
    g.initializer.push(q, scale, zp);
    const out = `${name}_dequantized`;
    newNodes.push({
      op_type: 'DequantizeLinear',
      name: `${name}_DequantizeLinear`,
      input: [q.name, scale.name, zp.name],
      output: [out],
      ...(axis !== undefined ? { attribute: [{ name: 'axis', type: 2, i: axis }] } : {}),
    });
    return out;
  };
  for (const n of g.node) {
    if (n.op_type !== 'Conv' && n.op_type !== 'Gemm' && n.op_type !== 'MatMul') continue;
    const wName = n.input[1];
    const w = wName ? inits.get(wName) : undefined;
    const xParams = n.input[0] ? params.get(n.input[0]) : undefined;
    if (!w || w.data_type !== ElemType.FLOAT || !xParams) continue;
    const axis = n.op_type === 'Conv' ? 0 : n.op_type === 'Gemm' ? (attrInt(n, 'transB', 0) ? 0 : 1) : 1;
    const { q, scales } = quantizeWeights(floatValues(w), w.dims, axis);
    const channels = scales.length;
    n.input[1] = dq(
      w.name,
      tensorObj(`${w.name}_quantized`, w.dims, ElemType.INT8, q),
      tensorObj(`${w.name}_scale`, [channels], ElemType.FLOAT, scales),
      tensorObj(`${w.name}_zero_point`, [channels], ElemType.INT8, new Int8Array(channels)),
      axis,
    );
    weights++;
    const bName = n.input[2];
    const b = bName ? inits.get(bName) : undefined;
    if (b && b.data_type === ElemType.FLOAT && b.dims.length === 1 && b.dims[0] === channels) {
      const bq = quantizeBias(floatValues(b), xParams.scale, scales);
      n.input[2] = dq(
        b.name,
        tensorObj(`${b.name}_quantized`, b.dims, ElemType.INT32, bq.q),
        tensorObj(`${b.name}_scale`, [channels], ElemType.FLOAT, bq.scales),
        tensorObj(`${b.name}_zero_point`, [channels], ElemType.INT32, new Int32Array(channels)),
        0,
      );
    }
  }

  // 4. A QuantizeLinear → DequantizeLinear pair on every calibrated activation; consumers read the dequantised copy.
  //    A graph output keeps its name on the DQ side, so callers see the same outputs.
  const rename = new Map<string, string>();
  let activations = 0;
  for (const [name, p] of params) {
    const isOutput = graphOutputs.includes(name);
    const source = isOutput ? `${name}_prequant` : name;
    const qName = `${name}_quantized`;
    const dqName = isOutput ? name : `${name}_dequantized`;
    g.initializer.push(
      tensorObj(`${name}_scale`, [], ElemType.FLOAT, Float32Array.of(p.scale)),
      tensorObj(`${name}_zero_point`, [], ElemType.UINT8, Uint8Array.of(p.zeroPoint)),
    );
    newNodes.push(
      {
        op_type: 'QuantizeLinear',
        name: `${name}_QuantizeLinear`,
        input: [source, `${name}_scale`, `${name}_zero_point`],
        output: [qName],
      },
      {
        op_type: 'DequantizeLinear',
        name: `${name}_DequantizeLinear`,
        input: [qName, `${name}_scale`, `${name}_zero_point`],
        output: [dqName],
      },
    );
    if (isOutput) {
      for (const n of g.node) n.output = n.output.map((o) => (o === name ? source : o));
    } else {
      rename.set(name, dqName);
    }
    activations++;
  }
  for (const n of g.node) n.input = n.input.map((x) => rename.get(x) ?? x);

  g.node = topologicalOrder(
    [...g.node, ...newNodes],
    new Set([...g.input.map((i) => i.name), ...g.initializer.map((t) => t.name)]),
  );
  dropUnusedInitializers(m);
  return { model: m, stats: { weights, activations, foldedBatchNorms, foldedRelus } };
}

function fromRange(ranges: ReadonlyMap<string, Range>, name: string): QParams {
  const r = ranges.get(name);
  if (!r) throw new Error(`no calibrated range for '${name}'`);
  return activationParams(r);
}

/** Kahn's algorithm; ONNX requires nodes in an order where every input is produced before it is used. */
function topologicalOrder(nodes: NodeObj[], available: Set<string>): NodeObj[] {
  const producers = new Map<string, NodeObj>();
  for (const n of nodes) for (const o of n.output) producers.set(o, n);
  const out: NodeObj[] = [];
  const state = new Map<NodeObj, 'visiting' | 'done'>();
  const visit = (n: NodeObj): void => {
    const s = state.get(n);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`graph has a cycle at node ${n.name ?? n.op_type}`);
    state.set(n, 'visiting');
    for (const x of n.input) {
      if (!x || available.has(x)) continue;
      const p = producers.get(x);
      if (p) visit(p);
    }
    state.set(n, 'done');
    out.push(n);
  };
  for (const n of nodes) visit(n);
  return out;
}
