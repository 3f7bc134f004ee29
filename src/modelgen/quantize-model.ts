// The quantizer end to end: an fp32 .onnx file and calibration images in, a QDQ int8 .onnx file out (see
// quantize.ts for the scheme). Used by `infergraph models quantize` and `models generate --int8`.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { agreement, type Agreement, calibrationInputs, collectRanges, imageInput } from './calibrate';
import { decodeModel, encodeModel } from './onnx-file';
import { calibrationModel, planQuantization, quantize, type QuantizeResult } from './quantize';

/** Bump when the bytes written for the same input and calibration change. */
export const QUANTIZER_VERSION = '1';
export const QUANT_META = {
  scheme: 'infergraph.quantized',
  version: 'infergraph.quantizer_version',
  source: 'infergraph.quantized_from',
} as const;
export const SCHEME = 'int8 QDQ: weights int8 symmetric per-channel, activations uint8 min/max calibrated';

export interface QuantizeFileOptions {
  /** Folder of calibration images; generated images are used (with a note) when absent or empty. */
  calibration?: string;
  /** At most this many calibration images. */
  maxImages?: number;
  /** Also compare fp32 and int8 outputs on the calibration inputs. */
  evaluate?: boolean;
  log?: (line: string) => void;
}

export interface QuantizeFileResult {
  out: string;
  bytes: number;
  stats: QuantizeResult['stats'];
  calibrationImages: number;
  agreement?: Agreement;
  ms: number;
}

export async function quantizeFile(
  input: string,
  out: string,
  opts: QuantizeFileOptions = {},
): Promise<QuantizeFileResult> {
  const t0 = performance.now();
  const log = opts.log ?? (() => undefined);
  const source = await fs.readFile(input);
  const model = decodeModel(source, input);
  const spec = imageInput(model);
  const plan = planQuantization(model);
  const inputs = await calibrationInputs(opts.calibration, spec, opts.maxImages ?? 100, log);
  const ranges = await collectRanges(calibrationModel(plan), plan.calibrate, inputs, spec);
  const result = quantize(model, plan, ranges);
  const q = result.model;
  const sha = createHash('sha256').update(source).digest('hex');
  const keep = (q.metadata_props ?? []).filter((e) => !Object.values(QUANT_META).includes(e.key as never));
  q.metadata_props = [
    ...keep,
    { key: QUANT_META.scheme, value: SCHEME },
    { key: QUANT_META.version, value: QUANTIZER_VERSION },
    { key: QUANT_META.source, value: `${path.basename(input)} sha256:${sha}` },
  ];
  q.producer_name = 'infergraph-quantize';
  const note = `Quantised by infergraph (${SCHEME}; ${inputs.length} calibration inputs).`;
  q.doc_string = q.doc_string ? `${q.doc_string} ${note}` : note;
  const bytes = encodeModel(q);
  await fs.mkdir(path.dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  await fs.writeFile(tmp, bytes);
  await fs.rename(tmp, out);
  log(
    `${out}: ${result.stats.weights} weight tensors int8, ${result.stats.activations} activations uint8, ` +
      `${result.stats.foldedBatchNorms} BatchNorms folded or made depthwise convs, ` +
      `${result.stats.foldedRelus} Relus folded (${(bytes.length / 1e6).toFixed(1)} MB)`,
  );
  const res: QuantizeFileResult = {
    out,
    bytes: bytes.length,
    stats: result.stats,
    calibrationImages: inputs.length,
    ms: performance.now() - t0,
  };
  if (opts.evaluate) res.agreement = await agreement(source, bytes, inputs, spec);
  return res;
}
