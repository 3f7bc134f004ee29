// Calibration and evaluation for the quantizer: images in, activation ranges out (running the fp32 model with the
// tensors to measure added as graph outputs), and fp32-vs-int8 agreement (top-1, cosine) on the same kind of input.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { encodeModel, type ModelObj } from './onnx-file';
import { Prng } from './prng';
import type { Range } from './quantize';

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
const IMAGE_EXT = /\.(jpe?g|png|webp)$/i;

export interface InputSpec {
  name: string;
  channels: number;
  height: number;
  width: number;
}

/** The model's image input: [N, C, H, W] float32; symbolic or missing H/W default to 224. */
export function imageInput(m: ModelObj): InputSpec {
  const inits = new Set(m.graph.initializer.map((t) => t.name));
  const input = m.graph.input.find((i) => !inits.has(i.name));
  if (!input) throw new Error('the model has no input');
  const dims = input.type?.tensor_type?.shape?.dim ?? [];
  if (input.type?.tensor_type?.elem_type !== 1 || dims.length !== 4) {
    throw new Error(`input '${input.name}' must be float32 [N,C,H,W] for image calibration`);
  }
  const fixed = (i: number, fallback: number): number => {
    const v = dims[i]?.dim_value;
    return typeof v === 'number' && v > 0 ? v : fallback;
  };
  return { name: input.name, channels: fixed(1, 3), height: fixed(2, 224), width: fixed(3, 224) };
}

/** Images in `dir` (sorted, at most `limit`), or none when the folder does not exist. */
export async function listImages(dir: string, limit: number): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => IMAGE_EXT.test(n))
    .sort()
    .slice(0, limit)
    .map((n) => path.join(dir, n));
}

/**
 * torchvision-style evaluation preprocessing: shorter side to round(H × 256/224), centre crop H×W, RGB, /255,
 * (x - mean) / std, planar.
 */
export async function preprocessImage(file: string, spec: InputSpec): Promise<Float32Array> {
  const resize = Math.round((Math.max(spec.height, spec.width) * 256) / 224);
  const img = sharp(file).removeAlpha().toColourspace('srgb');
  const meta = await img.metadata();
  const w0 = meta.width ?? resize;
  const h0 = meta.height ?? resize;
  const k = resize / Math.min(w0, h0);
  const w = Math.max(spec.width, Math.round(w0 * k));
  const h = Math.max(spec.height, Math.round(h0 * k));
  const { data } = await img
    .resize(w, h, { kernel: 'linear' })
    .extract({
      left: Math.floor((w - spec.width) / 2),
      top: Math.floor((h - spec.height) / 2),
      width: spec.width,
      height: spec.height,
    })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return planar(data, spec);
}

function planar(hwc: Uint8Array, spec: InputSpec): Float32Array {
  const plane = spec.height * spec.width;
  const out = new Float32Array(spec.channels * plane);
  for (let c = 0; c < spec.channels; c++) {
    const mean = IMAGENET_MEAN[c % 3] as number;
    const std = IMAGENET_STD[c % 3] as number;
    for (let i = 0; i < plane; i++) out[c * plane + i] = ((hwc[i * 3 + (c % 3)] as number) / 255 - mean) / std;
  }
  return out;
}

/** Seeded, smooth synthetic pictures (a few random waves per channel), for when no calibration images exist. */
export function generatedImages(count: number, spec: InputSpec, seed = 1): Float32Array[] {
  const rng = new Prng(seed);
  const out: Float32Array[] = [];
  for (let n = 0; n < count; n++) {
    const hwc = new Uint8Array(spec.height * spec.width * 3);
    const waves = Array.from({ length: 9 }, () => ({
      fx: rng.nextOpenUnit() * 0.1,
      fy: rng.nextOpenUnit() * 0.1,
      ph: rng.nextOpenUnit() * 6.3,
      a: rng.nextOpenUnit(),
    }));
    for (let y = 0; y < spec.height; y++) {
      for (let x = 0; x < spec.width; x++) {
        for (let c = 0; c < 3; c++) {
          let v = 0;
          for (let k = c * 3; k < c * 3 + 3; k++) {
            const wv = waves[k]!;
            v += wv.a * Math.sin(wv.fx * x + wv.fy * y + wv.ph);
          }
          hwc[(y * spec.width + x) * 3 + c] = Math.max(
            0,
            Math.min(255, Math.round(128 + 60 * v + 20 * (rng.nextOpenUnit() - 0.5))),
          );
        }
      }
    }
    out.push(planar(hwc, spec));
  }
  return out;
}

/** Calibration inputs: the images in `dir`, or generated ones (and a note saying so) when there are none. */
export async function calibrationInputs(
  dir: string | undefined,
  spec: InputSpec,
  limit: number,
  log: (line: string) => void,
): Promise<Float32Array[]> {
  const files = dir ? await listImages(dir, limit) : [];
  if (files.length === 0) {
    log(
      `no calibration images${dir ? ` in ${dir}` : ''}; calibrating on ${Math.min(limit, 16)} generated images ` +
        '(scales fit real photos less well)',
    );
    return generatedImages(Math.min(limit, 16), spec);
  }
  log(`calibrating on ${files.length} images from ${dir}`);
  return Promise.all(files.map((f) => preprocessImage(f, spec)));
}

const sessionOptions: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 0, logSeverityLevel: 3 };

/** Runs the calibration model on every input and keeps each named tensor's min and max. */
export async function collectRanges(
  calibration: ModelObj,
  names: readonly string[],
  inputs: Float32Array[],
  spec: InputSpec,
): Promise<Map<string, Range>> {
  const session = await ort.InferenceSession.create(encodeModel(calibration), sessionOptions);
  const ranges = new Map<string, Range>();
  try {
    for (const data of inputs) {
      const feeds = { [spec.name]: new ort.Tensor('float32', data, [1, spec.channels, spec.height, spec.width]) };
      const wanted = names.filter((n) => n !== spec.name);
      const out = await session.run(feeds, wanted);
      const observe = (name: string, values: Float32Array): void => {
        let min = Infinity;
        let max = -Infinity;
        for (let i = 0; i < values.length; i++) {
          const v = values[i] as number;
          if (v < min) min = v;
          if (v > max) max = v;
        }
        const r = ranges.get(name);
        ranges.set(name, r ? { min: Math.min(r.min, min), max: Math.max(r.max, max) } : { min, max });
      };
      if (names.includes(spec.name)) observe(spec.name, data);
      for (const name of wanted) observe(name, (out[name] as ort.Tensor).data as Float32Array);
    }
  } finally {
    await session.release();
  }
  return ranges;
}

export interface Agreement {
  images: number;
  /** Share of inputs where both models pick the same class. */
  top1: number;
  /** Mean and minimum cosine similarity of the output vectors. */
  cosineMean: number;
  cosineMin: number;
}

const argmax = (v: Float32Array): number => v.reduce((best, x, i, a) => (x > (a[best] as number) ? i : best), 0);

/** fp32 vs int8 on the same inputs: top-1 agreement and cosine similarity of the raw outputs. */
export async function agreement(
  fp32: Uint8Array | string,
  int8: Uint8Array | string,
  inputs: Float32Array[],
  spec: InputSpec,
): Promise<Agreement> {
  const a = await ort.InferenceSession.create(fp32 as Uint8Array, sessionOptions);
  const b = await ort.InferenceSession.create(int8 as Uint8Array, sessionOptions);
  let same = 0;
  let sum = 0;
  let min = 1;
  try {
    for (const data of inputs) {
      const feeds = { [spec.name]: new ort.Tensor('float32', data, [1, spec.channels, spec.height, spec.width]) };
      const ya = (await a.run(feeds))[a.outputNames[0] as string]!.data as Float32Array;
      const yb = (await b.run(feeds))[b.outputNames[0] as string]!.data as Float32Array;
      if (argmax(ya) === argmax(yb)) same++;
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let i = 0; i < ya.length; i++) {
        dot += (ya[i] as number) * (yb[i] as number);
        na += (ya[i] as number) ** 2;
        nb += (yb[i] as number) ** 2;
      }
      const cos = na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 1;
      sum += cos;
      min = Math.min(min, cos);
    }
  } finally {
    await a.release();
    await b.release();
  }
  const n = inputs.length;
  return { images: n, top1: n ? same / n : 1, cosineMean: n ? sum / n : 1, cosineMin: min };
}
