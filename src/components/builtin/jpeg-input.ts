/**
 * jpeg-input: the ImageNet preprocessing transformer. binData (JPEG, PNG or WebP) in, NCHW tensor out, reproducing
 * torchvision's evaluation transform on PIL images pixel for pixel: Image.open(f).convert('RGB') (the stored values:
 * no ICC conversion, no EXIF orientation; see pil-rgb.ts), Resize(256) with Pillow's antialiased bilinear on the
 * shorter side (longer side truncated; resample.ts), CenterCrop(224) with Python's rounding, /255, Normalize(mean,
 * std). On the 100 dev images the crops equal the reference crops exactly.
 *
 * libvips decodes only; the resize runs in JS over just the source pixels the crop reads. Parameters turn on what
 * torchvision does not do (exifOrientation, colourManagement) or trade exactness for speed (fastShrinkOnLoad). Then
 * one JS loop turns HWC uint8 into planar float32 through a 256-entry table per channel: cheaper than a multiply-add
 * per sample, and exactly torchvision's float32 floats (uint8-normalise.ts).
 */
import os from 'node:os';
import sharp from 'sharp';
import { Budget } from '../../util/budget';
import { findGc } from '../../util/heap-trim';
import { ConfigError, invalidArgument, internal, isInferError } from '../../errors';
import { describePayload, type Payload } from '../../message/message';
import type { ParamValue } from '../types';
import type { Tensor } from '../../tensor/tensor';
import type { CallContext, Component, ComponentContext, ComponentDefinition } from '../api';
import { normalisationTable } from './uint8-normalise';
import { Params, throwIfGone } from './common';
import { decodeError, inspect, notDecodable, preview, sniffFormat, type ImageFormat } from './image-bytes';
import { decodeRgbWindow, greyToRgb, type ImageHeader } from './pil-rgb';
import type { JpegHeader } from './jpeg-header';
import { pillowBilinearResizeCrop, sourceWindow, type Rect, type ResizeCrop } from './resample';
import { turboJpeg, turboJpegStatus } from './turbo-jpeg';

export { sniffFormat } from './image-bytes';
import { CATALOG } from './catalog';

const NAME = 'jpeg-input';
const FAIL_ON = ['none', 'truncated', 'error', 'warning'] as const;
type FailOn = (typeof FAIL_ON)[number];

interface Size {
  width: number;
  height: number;
}

export interface JpegInputConfig {
  resize: number;
  crop: number;
  mean: [number, number, number];
  std: [number, number, number];
  maxPixels: number;
  outputDtype: 'float32' | 'uint8';
  failOn: FailOn;
  exifOrientation: boolean;
  colourManagement: boolean;
  fastShrinkOnLoad: boolean;
  decoder: 'auto' | 'libvips';
  maxDecodeBytes: number;
  maxConcurrentDecodes: number;
}

/** Python's round(): halves go to the even neighbour. torchvision's CenterCrop uses int(round((h - crop) / 2.0)). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d !== 0.5) return d < 0.5 ? f : f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** torchvision Resize(int): shorter side to `size`, longer side int(size * long / short) (truncated). */
export function resizedSize(width: number, height: number, size: number): Size {
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

class JpegInput implements Component {
  private readonly lut: Float32Array;
  /** Decode memory: concurrent decodes hold their images' decoded size (see decodeCost) until done. */
  private readonly budget: Budget;
  /** TurboJPEG applies neither EXIF orientation nor ICC profiles: with either asked for, libvips decodes. */
  private readonly turboAllowed: boolean;

  constructor(private readonly cfg: JpegInputConfig) {
    this.lut = normalisationTable(cfg.mean, cfg.std);
    this.budget = new Budget(cfg.maxDecodeBytes, cfg.maxConcurrentDecodes, `${NAME} decode budget`);
    this.turboAllowed = cfg.decoder === 'auto' && !cfg.exifOrientation && !cfg.colourManagement;
  }

  async transformInput(input: Payload, ctx: CallContext): Promise<Payload> {
    if (input.kind !== 'bin') {
      throw invalidArgument(
        `${NAME}: expects binData holding a JPEG, PNG or WebP image, got ${describePayload(input)}`,
      );
    }
    const bytes = input.data;
    if (bytes.byteLength === 0)
      throw invalidArgument(`${NAME}: binData is empty (0 bytes); expected a JPEG, PNG or WebP image`);
    const format = sniffFormat(bytes);
    if (!format) {
      throw invalidArgument(
        `${NAME}: binData (${bytes.byteLength} bytes) is not a JPEG, PNG or WebP image (${preview(bytes)})`,
      );
    }
    const { truncated, undecodable, jpeg } = inspect(bytes, format);
    if (truncated) {
      throw invalidArgument(`${NAME}: truncated ${format} image (binData of ${bytes.byteLength} bytes): ${truncated}`);
    }
    throwIfGone(ctx, NAME);
    const { crop } = this.cfg;
    // TurboJPEG is tried only on a plain JPEG whose structure is whole; anything else decodes as it always did.
    const turbo = this.turboAllowed && jpeg !== undefined && !undecodable;
    const hwc = await ctx.work('jpeg.decode_resize', () => this.decodeResizeCrop(bytes, format, ctx, jpeg, turbo), {
      format,
      bytes: bytes.byteLength,
      resize: this.cfg.resize,
      crop,
    });
    // The decoder coped with bytes whose structure is broken, and no end marker says the file is whole.
    if (undecodable) throw notDecodable(undecodable, bytes);
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

  /** Decoded, resized and centre-cropped RGB pixels, HWC uint8, crop x crop x 3. */
  private async decodeResizeCrop(
    bytes: Uint8Array,
    format: ImageFormat,
    ctx: CallContext,
    /** The frame header inspect() read, when the file is a plain 8-bit JPEG. */
    jpeg: JpegHeader | undefined,
    /** May TurboJPEG try it first (a plain JPEG, whole, and no EXIF or ICC handling asked for). */
    turbo: boolean,
  ): Promise<Uint8Array> {
    const { maxPixels, failOn } = this.cfg;
    // Zero-copy Buffer view: sharp wants a Buffer, the payload may be any Uint8Array (a slice of a gRPC frame).
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let meta: ImageHeader;
    try {
      // Header only; no pixel limit here so the limit error below can name the image size.
      meta = this.jpegFacts(jpeg) ?? (await sharp(buf, { failOn, limitInputPixels: false }).metadata());
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
    const cost = decodeCost(meta);
    if (cost.bytes > this.cfg.maxDecodeBytes) {
      throw invalidArgument(
        `${NAME}: ${format} image ${cost.text} = ${cost.bytes} bytes decoded, more than the limit of ` +
          `${this.cfg.maxDecodeBytes} (parameter maxDecodeBytes)`,
      );
    }
    // Waits (FIFO, dropped if the caller goes away) until the decode fits next to those running: memory stays
    // bounded by maxDecodeBytes whatever arrives at once.
    return this.budget.with(cost.bytes, () => this.decodeWithin(buf, bytes, format, meta, turbo), {
      signal: ctx.signal,
      deadline: ctx.deadline,
    });
  }

  /** What metadata() would say of a plain 8-bit JPEG, from the frame header inspect() read, when that suffices. */
  private jpegFacts(h: JpegHeader | undefined): ImageHeader | undefined {
    if (!h || this.cfg.exifOrientation) return undefined; // orientation needs the EXIF block
    const space = h.components === 4 ? 'cmyk' : h.components === 1 ? 'b-w' : 'srgb';
    return { width: h.width, height: h.height, channels: h.components, depth: 'uchar', space, hasAlpha: false };
  }

  private async decodeWithin(
    buf: Buffer,
    bytes: Uint8Array,
    format: ImageFormat,
    meta: ImageHeader,
    turbo: boolean,
  ): Promise<Uint8Array> {
    const { resize, crop, maxPixels, exifOrientation, fastShrinkOnLoad } = this.cfg;
    const { width, height } = meta as { width: number; height: number };
    // Dimensions after EXIF orientation (orientations 5-8 swap width and height).
    const swap = exifOrientation && (meta.orientation ?? 1) >= 5;
    const shown = swap ? { width: height, height: width } : { width, height };
    const size = resizedSize(shown.width, shown.height, resize);
    const rc: ResizeCrop = {
      ...size,
      left: roundHalfEven((size.width - crop) / 2),
      top: roundHalfEven((size.height - crop) / 2),
      cropWidth: crop,
      cropHeight: crop,
    };
    const enlarging = Math.min(shown.width, shown.height) < resize;
    try {
      if (fastShrinkOnLoad && !enlarging) return await this.libvipsResizeCrop(buf, meta, shown, rc);
      // TurboJPEG decodes the whole image; libvips only the window the crop reads.
      let decoded: Rect = { left: 0, top: 0, ...shown };
      let out = turbo ? await this.turboResizeCrop(bytes, shown, rc) : undefined;
      if (!out) {
        decoded = sourceWindow(shown.width, shown.height, rc);
        out = await this.exactResizeCrop(buf, meta, shown, rc, decoded);
      }
      // Collected here, once the decoded pixels are out of scope (see LARGE_WINDOW_BYTES).
      if (decoded.width * decoded.height * 3 >= LARGE_WINDOW_BYTES) collectNow();
      return out;
    } catch (err) {
      if (isInferError(err)) throw err;
      throw decodeError(err, format, bytes, maxPixels);
    }
  }

  /**
   * Pillow's pixels through TurboJPEG (turbo-jpeg.ts): the whole image decoded (TurboJPEG 2.1 cannot decode a
   * window), then resampled. A grey JPEG is resampled as one channel and repeated afterwards: Pillow resamples each
   * channel of the repeated RGB alike, so that is the same crop for a third of the work. Undefined when TurboJPEG is
   * missing or did not decode the image cleanly; libvips then decodes it.
   */
  private async turboResizeCrop(bytes: Uint8Array, shown: Size, rc: ResizeCrop): Promise<Uint8Array | undefined> {
    const decoded = await turboJpeg()?.decode(bytes, shown.width, shown.height);
    if (!decoded) return undefined;
    const { data, channels } = decoded;
    const out = pillowBilinearResizeCrop(data, shown.width, shown.height, channels, rc);
    return channels === 1 ? greyToRgb(out) : out;
  }

  private async exactResizeCrop(
    buf: Buffer,
    meta: ImageHeader,
    shown: Size,
    rc: ResizeCrop,
    window: Rect,
  ): Promise<Uint8Array> {
    const rgb = await decodeRgbWindow(buf, meta, window, this.cfg);
    return pillowBilinearResizeCrop(rgb.data, shown.width, shown.height, 3, rc, window);
  }

  /**
   * The fastShrinkOnLoad path: libvips resamples (JPEG shrink-on-load by DCT scaling, then its 'linear' reduce),
   * which is faster on large images but not Pillow's pixels (dev images: 0.22 grey levels off on average, 1.7 on the
   * worst). Images that need Pillow's own colour handling (alpha, CMYK, 16-bit) are decoded that way first, so only
   * resampling differs.
   */
  private async libvipsResizeCrop(buf: Buffer, meta: ImageHeader, shown: Size, rc: ResizeCrop): Promise<Uint8Array> {
    const { crop, maxPixels, failOn, exifOrientation, colourManagement } = this.cfg;
    const shrinkCrop = (img: sharp.Sharp): sharp.Sharp =>
      img
        .resize(rc.width, rc.height, { kernel: 'linear', fit: 'fill' })
        .extract({ left: rc.left, top: rc.top, width: crop, height: crop })
        .removeAlpha()
        .toColourspace('srgb');
    const plain = !meta.hasAlpha && meta.depth === 'uchar' && (colourManagement || meta.space !== 'cmyk');
    let input: sharp.Sharp;
    if (plain) {
      const ignoreIcc = !colourManagement;
      input = sharp(buf, { failOn, limitInputPixels: maxPixels, autoOrient: exifOrientation, ignoreIcc });
    } else {
      const rgb = await decodeRgbWindow(buf, meta, { left: 0, top: 0, ...shown }, this.cfg);
      input = sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } });
    }
    const { data, info } = await shrinkCrop(input).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.byteLength !== crop * crop * 3) {
      throw internal(
        `${NAME}: decoder produced ${info.width}x${info.height}x${info.channels}, expected ${crop}x${crop}x3`,
      );
    }
    return data;
  }
}

/** What decoding the whole image takes: width x height x channels x bytes per sample, from the header. */
export function decodeCost(meta: ImageHeader): { bytes: number; text: string } {
  const channels = meta.channels ?? 4;
  const sampleBytes = meta.depth === 'ushort' ? 2 : meta.depth === 'uchar' || meta.depth === undefined ? 1 : 4;
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  return { bytes: w * h * channels * sampleBytes, text: `${w}x${h}x${channels} channels x ${sampleBytes} bytes` };
}

/**
 * A decoded window this large (a 6300x6300 image: 91 MB) is freed only when V8 next collects, which under a burst
 * can be after the next one is decoded: peak RSS then holds two. Collecting at once after such a rare image keeps
 * the peak to one (eight 6300x6300 16-bit PNGs at once: peak RSS 296-322 -> 208-231 MB); a full GC costs a few ms,
 * next to the ~250 ms such a decode takes.
 */
const LARGE_WINDOW_BYTES = 48 * 1024 * 1024;
let gcFn: (() => void) | undefined;

function collectNow(): void {
  gcFn?.();
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
  gcFn = findGc();
  sharpConfigured = true;
}

export function jpegInputConfig(values: Record<string, ParamValue>): JpegInputConfig {
  const p = new Params(NAME, values, CATALOG['jpeg-input'].parameters);
  const resize = p.integer('resize', 1, 16384);
  const crop = p.integer('crop', 1, 16384);
  if (crop > resize) {
    throw new ConfigError([`${NAME}: parameter 'crop' (${crop}) must not exceed 'resize' (${resize})`]);
  }
  return {
    resize,
    crop,
    mean: p.numberList('mean', 3) as [number, number, number],
    std: p.numberList('std', 3) as [number, number, number],
    maxPixels: p.integer('maxPixels', 1),
    outputDtype: p.oneOf('outputDtype', ['float32', 'uint8'] as const),
    failOn: p.oneOf('failOn', FAIL_ON),
    exifOrientation: p.boolean('exifOrientation'),
    colourManagement: p.boolean('colourManagement'),
    fastShrinkOnLoad: p.boolean('fastShrinkOnLoad'),
    decoder: p.oneOf('decoder', ['auto', 'libvips'] as const),
    maxDecodeBytes: p.integer('maxDecodeBytes', 1),
    maxConcurrentDecodes: p.integer('maxConcurrentDecodes', 0, 1024) || os.availableParallelism(),
  };
}

const definition: ComponentDefinition = {
  ...CATALOG['jpeg-input'],
  details: [
    "It gives the model the pixels it was trained on: torchvision's ImageNet evaluation transform on a PIL image, " +
      "reproduced exactly: `Image.open(f).convert('RGB')`, `Resize(256)` with Pillow's antialiased bilinear filter on " +
      "the shorter side (the longer side truncated), `CenterCrop(224)` with Python's rounding, /255, mean/std.",
    '',
    '- **Stored values.** Like torchvision, no EXIF orientation and no ICC colour-profile conversion (23 of the 100 ' +
      'dev images carry a profile); `exifOrientation` and `colourManagement` turn them on.',
    "- **Image modes as `convert('RGB')` handles them.** Grey is repeated into three channels, a palette becomes its " +
      "colours, alpha is dropped (not composited), CMYK JPEGs use Pillow's plain formula (Adobe-inverted, no " +
      'profile), 16-bit PNGs keep the high byte except 16-bit grey without alpha, which Pillow clips to 0..255.',
    "- **How.** libjpeg-turbo decodes plain JPEGs (TurboJPEG, accurate DCT: Pillow's decoder and settings; " +
      'libvips (sharp) decodes the rest, or everything without libturbojpeg0, copying out only the source pixels the ' +
      "crop reads); Pillow's " +
      'resampler runs in JS (`resample.ts`: separable passes, 22-bit fixed-point weights, uint8 rounding between ' +
      'passes). Large photos cost more (a 12 MP JPEG: 55-85 ms, holding the event loop); `fastShrinkOnLoad` trades ' +
      'exactness for speed there. Costs of each parameter: [performance](performance.md#jpeg-input-exactness-and-cost).',
    '- **Checked pixel by pixel.** On all 100 dev images the crops equal `../shared/imagenet/reference/crops` byte ' +
      'for byte; eighteen fixture images the code was not tuned on (grey, CMYK, palette, alpha, 16-bit, EXIF, Display ' +
      'P3, WebP) match Pillow exactly; the MobileNetV2 graph agrees with the reference predictions on 100 of 100.',
    '',
    'These inputs are rejected with INVALID_ARGUMENT, the message saying which problem it was: empty binData, a ' +
      'payload that is not binData, a truncated image (one that ends early: "truncated JPEG image"), a JPEG that is ' +
      'whole but cannot be decoded ("not a decodable JPEG: " and libvips\' reason), something that is not an image, or more pixels ' +
      'than `maxPixels` (decompression bombs: the size is read from the header and checked before decoding).',
  ].join('\n'),
  create(params, ctx: ComponentContext): Component {
    const cfg = jpegInputConfig(params);
    configureSharp();
    if (cfg.decoder === 'auto') {
      const turbo = turboJpegStatus();
      if (!turbo.available) {
        ctx.logger.warn(
          `${NAME}: TurboJPEG unavailable (${turbo.reason}); JPEGs decode with libvips: the same pixels, ` +
            '~1.5 ms more per image. Install libturbojpeg0 (Debian/Ubuntu) for the faster decoder.',
        );
      }
    }
    ctx.logger.debug({ cfg }, `${NAME} ready`);
    return new JpegInput(cfg);
  },
};

export default definition;
