/**
 * jpeg-input: the ImageNet preprocessing transformer. binData (JPEG, PNG or WebP) in, NCHW tensor out, reproducing
 * torchvision's reference pipeline on PIL images: RGB, Resize(256) bilinear on the shorter side (longer side
 * truncated), CenterCrop(224) with Python's rounding, /255, Normalize(mean, std). On the 100 dev images this gives
 * the reference top-1 (82 %).
 *
 * The common case (an opaque image larger than the target) is one libvips pipeline: header read, EXIF orientation,
 * shrink, centre crop, sRGB 3-band uint8. Enlarged and transparent images take a slower path where libvips and
 * Pillow disagree (see decodeResizeCrop). Then one JS loop turns HWC uint8 into planar float32 through a 256-entry
 * table per channel: cheaper than a multiply-add per sample, and exactly (v/255 - mean)/std rounded once to float32.
 */
import sharp from 'sharp';
import { ConfigError, InferError, invalidArgument, internal } from '../../errors';
import { describePayload, type Payload } from '../../message/message';
import type { ParamValue } from '../../graph/spec';
import type { Tensor } from '../../tensor/tensor';
import type { CallContext, Component, ComponentContext, ComponentDefinition } from '../api';
import { normalisationTable } from './uint8-normalise';
import { Params, throwIfGone } from './common';
import { pillowBilinearResizeCrop } from './resample';
import { CATALOG } from './catalog';

const NAME = 'jpeg-input';
const FAIL_ON = ['none', 'truncated', 'error', 'warning'] as const;
type FailOn = (typeof FAIL_ON)[number];
type ImageFormat = 'JPEG' | 'PNG' | 'WebP';

export interface JpegInputConfig {
  resize: number;
  crop: number;
  mean: [number, number, number];
  std: [number, number, number];
  maxPixels: number;
  outputDtype: 'float32' | 'uint8';
  failOn: FailOn;
}

/** Recognises the three formats we accept from their first bytes; anything else never reaches a decoder. */
export function sniffFormat(b: Uint8Array): ImageFormat | undefined {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'JPEG';
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (b.length >= 8 && png.every((v, i) => b[i] === v)) return 'PNG';
  const ascii = (from: number, to: number): string => String.fromCharCode(...b.subarray(from, to));
  if (b.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'WebP';
  return undefined;
}

function preview(b: Uint8Array): string {
  const head = b.subarray(0, 8);
  const hex = Array.from(head, (x) => x.toString(16).padStart(2, '0')).join(' ');
  const text = Array.from(head, (x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.')).join('');
  return `starts with ${hex} "${text}"`;
}

/** Python's round(): halves go to the even neighbour. torchvision's CenterCrop uses int(round((h - crop) / 2.0)). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d !== 0.5) return d < 0.5 ? f : f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** torchvision Resize(int): shorter side to `size`, longer side int(size * long / short) (truncated). */
export function resizedSize(width: number, height: number, size: number): { width: number; height: number } {
  return width <= height
    ? { width: size, height: Math.floor((size * height) / width) }
    : { width: Math.floor((size * width) / height), height: size };
}

/** HWC uint8 (3 channels) to planar [1,3,H,W]. */
function toPlanarFloat(hwc: Uint8Array, pixels: number, lut: Float32Array): Float32Array {
  const out = new Float32Array(3 * pixels);
  const g = pixels;
  const b = 2 * pixels;
  for (let i = 0, j = 0; i < pixels; i++, j += 3) {
    out[i] = lut[hwc[j] as number] as number;
    out[g + i] = lut[256 + (hwc[j + 1] as number)] as number;
    out[b + i] = lut[512 + (hwc[j + 2] as number)] as number;
  }
  return out;
}

function toPlanarUint8(hwc: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(3 * pixels);
  for (let i = 0, j = 0; i < pixels; i++, j += 3) {
    out[i] = hwc[j] as number;
    out[pixels + i] = hwc[j + 1] as number;
    out[2 * pixels + i] = hwc[j + 2] as number;
  }
  return out;
}

/** Whether the bytes end the way a complete file of the format does (JPEG EOI marker, PNG IEND chunk). */
function hasTrailer(b: Uint8Array, format: ImageFormat): boolean {
  const n = b.length;
  if (format === 'JPEG') return n >= 2 && b[n - 2] === 0xff && b[n - 1] === 0xd9;
  if (format === 'PNG') return n >= 8 && String.fromCharCode(...b.subarray(n - 8, n - 4)) === 'IEND';
  return true;
}

/**
 * Turns a libvips/sharp failure into INVALID_ARGUMENT saying what is wrong with the bytes. Decoders word truncation
 * differently (libspng often just says "read error"), so a failed file without its end marker counts as truncated.
 */
function decodeError(err: unknown, format: ImageFormat, b: Uint8Array, maxPixels: number): Error {
  const msg = err instanceof Error ? err.message : String(err);
  const what = `${format} image (binData of ${b.byteLength} bytes)`;
  if (/premature end|end of stream|truncat|unexpected end/i.test(msg) || !hasTrailer(b, format)) {
    return invalidArgument(`${NAME}: truncated ${what}: ${msg}`, err);
  }
  if (/exceeds pixel limit/i.test(msg)) {
    return invalidArgument(`${NAME}: ${what} has more pixels than the limit of ${maxPixels} (parameter maxPixels)`, err);
  }
  return invalidArgument(`${NAME}: corrupt ${what}: ${msg}`, err);
}

/** A RIFF container declares its length, so a cut-off WebP is recognisable before libvips says "unable to parse". */
function webpTruncated(b: Uint8Array): boolean {
  const declared = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(4, true) + 8;
  return declared > b.byteLength;
}

class JpegInput implements Component {
  private readonly lut: Float32Array;

  constructor(private readonly cfg: JpegInputConfig) {
    this.lut = normalisationTable(cfg.mean, cfg.std);
  }

  async transformInput(input: Payload, ctx: CallContext): Promise<Payload> {
    if (input.kind !== 'bin') {
      throw invalidArgument(`${NAME}: expects binData holding a JPEG, PNG or WebP image, got ${describePayload(input)}`);
    }
    const bytes = input.data;
    if (bytes.byteLength === 0) throw invalidArgument(`${NAME}: binData is empty (0 bytes); expected a JPEG, PNG or WebP image`);
    const format = sniffFormat(bytes);
    if (!format) {
      throw invalidArgument(`${NAME}: binData (${bytes.byteLength} bytes) is not a JPEG, PNG or WebP image (${preview(bytes)})`);
    }
    if (format === 'WebP' && webpTruncated(bytes)) {
      throw invalidArgument(`${NAME}: truncated WebP image (binData of ${bytes.byteLength} bytes, RIFF header declares more)`);
    }
    throwIfGone(ctx, NAME);
    const { crop } = this.cfg;
    const hwc = await ctx.work('jpeg.decode_resize', () => this.decodeResizeCrop(bytes, format), {
      format,
      bytes: bytes.byteLength,
      resize: this.cfg.resize,
      crop,
    });
    const tensor = await ctx.work(
      'jpeg.normalise',
      (): Tensor =>
        this.cfg.outputDtype === 'uint8'
          ? { dtype: 'uint8', shape: [1, 3, crop, crop], data: toPlanarUint8(hwc, crop * crop) }
          : { dtype: 'float32', shape: [1, 3, crop, crop], data: toPlanarFloat(hwc, crop * crop, this.lut) },
      { dtype: this.cfg.outputDtype },
    );
    return { kind: 'tensor', tensor, names: ['input'], encoding: 'tftensor' };
  }

  /** Decoded, oriented, resized and centre-cropped sRGB pixels, HWC uint8, crop x crop x 3. */
  private async decodeResizeCrop(bytes: Uint8Array, format: ImageFormat): Promise<Uint8Array> {
    const { resize, crop, maxPixels, failOn } = this.cfg;
    // Zero-copy Buffer view: sharp wants a Buffer, the payload may be any Uint8Array (a slice of a gRPC frame).
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let meta: sharp.Metadata;
    try {
      // Header only; no pixel limit here so the limit error below can name the image size.
      meta = await sharp(buf, { failOn, limitInputPixels: false }).metadata();
    } catch (err) {
      throw decodeError(err, format, bytes, maxPixels);
    }
    const { width, height } = meta;
    if (!width || !height) throw invalidArgument(`${NAME}: ${format} image has no dimensions in its header`);
    if (width * height > maxPixels) {
      throw invalidArgument(
        `${NAME}: image is ${width}x${height} = ${width * height} pixels, more than the limit of ${maxPixels} (parameter maxPixels)`,
      );
    }
    // Dimensions after EXIF orientation (orientations 5-8 swap width and height).
    const oriented = meta.autoOrient ?? ((meta.orientation ?? 1) >= 5 ? { width: height, height: width } : { width, height });
    const size = resizedSize(oriented.width, oriented.height, resize);
    const left = roundHalfEven((size.width - crop) / 2);
    const top = roundHalfEven((size.height - crop) / 2);
    const enlarging = Math.min(oriented.width, oriented.height) < resize;
    const input = sharp(buf, { failOn, limitInputPixels: maxPixels }).autoOrient();
    // libvips 'linear' is the triangle filter widened by the reduction factor, as Pillow's BILINEAR: on the dev
    // images it matches Pillow within 0.1 grey level on average. JPEG shrink-on-load (DCT scaling) stays on: it
    // only kicks in at >= 2x reduction and makes large photos several times cheaper to decode.
    const shrinkCrop = (img: sharp.Sharp): sharp.Sharp =>
      img.resize(size.width, size.height, { kernel: 'linear', fit: 'fill' }).extract({ left, top, width: crop, height: crop });

    let data: Buffer;
    let info: sharp.OutputInfo;
    try {
      if (enlarging || meta.hasAlpha) {
        // Two Pillow behaviours libvips does not share. Enlarging: libvips samples with another pixel-centre
        // convention, so the crop window is resized in JS instead (resample.ts; such images are small). Alpha:
        // convert('RGB') drops alpha before resizing, libvips would resize premultiplied, so decode to RGB first.
        ({ data, info } = await input.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }));
        if (info.channels !== 3) throw internal(`${NAME}: decoder produced ${info.channels} channels, expected 3`);
        if (enlarging) {
          return pillowBilinearResizeCrop(data, info.width, info.height, 3, { ...size, left, top, cropWidth: crop, cropHeight: crop });
        }
        const rgb = sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } });
        ({ data, info } = await shrinkCrop(rgb).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }));
      } else {
        ({ data, info } = await shrinkCrop(input).removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }));
      }
    } catch (err) {
      if (err instanceof InferError) throw err;
      throw decodeError(err, format, bytes, maxPixels);
    }
    if (info.channels !== 3 || data.byteLength !== crop * crop * 3) {
      throw internal(`${NAME}: decoder produced ${info.width}x${info.height}x${info.channels}, expected ${crop}x${crop}x3`);
    }
    return data;
  }
}

let sharpConfigured = false;

/**
 * Process-wide libvips settings, applied once when the first jpeg-input is created (never at import time).
 * - concurrency(1): libvips would otherwise use one worker thread per core for every image. A graph runs one
 *   process per node on a few cores, next to onnxruntime; a 224-pixel crop gains little from tiling across threads,
 *   and parallel requests already run in parallel on libuv's pool. One thread keeps latency predictable.
 * - cache(false): the operation cache keys on input buffers; request images never repeat, so it only holds memory.
 */
function configureSharp(): void {
  if (sharpConfigured) return;
  sharp.concurrency(1);
  sharp.cache(false);
  sharpConfigured = true;
}

export function jpegInputConfig(values: Record<string, ParamValue>): JpegInputConfig {
  const p = new Params(NAME, values);
  const resize = p.integer('resize', 256, 1, 16384);
  const crop = p.integer('crop', 224, 1, 16384);
  if (crop > resize) {
    throw new ConfigError([`${NAME}: parameter 'crop' (${crop}) must not exceed 'resize' (${resize})`]);
  }
  return {
    resize,
    crop,
    mean: p.numberList('mean', '0.485,0.456,0.406', 3) as [number, number, number],
    std: p.numberList('std', '0.229,0.224,0.225', 3) as [number, number, number],
    maxPixels: p.integer('maxPixels', 40_000_000, 1),
    outputDtype: p.oneOf('outputDtype', ['float32', 'uint8'] as const, 'float32'),
    failOn: p.oneOf('failOn', FAIL_ON, 'truncated'),
  };
}

const definition: ComponentDefinition = {
  ...CATALOG['jpeg-input'],
  create(params, ctx: ComponentContext): Component {
    const cfg = jpegInputConfig(params);
    configureSharp();
    ctx.logger.debug({ cfg }, `${NAME} ready`);
    return new JpegInput(cfg);
  },
};

export default definition;
