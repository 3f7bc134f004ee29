/**
 * Decoding with libvips (sharp) to the RGB uint8 pixels Pillow gives for `Image.open(f).convert('RGB')`, which is
 * what torchvision's ImageNet models were trained on. libvips and Pillow share the JPEG decoder (libjpeg-turbo; sharp
 * ships mozjpeg, the same decoding code), so plain RGB and greyscale decode identically; what differs is what
 * happens around the decoder, and that is done here the way Pillow does it:
 * - no ICC colour conversion (sharp converts embedded profiles to sRGB by default; `ignoreIcc` keeps stored values);
 * - no EXIF orientation (Pillow's open() does not apply it);
 * - alpha is dropped, not composited or premultiplied; palette images give their palette colours; grey is repeated;
 * - CMYK: Pillow reads CMYK JPEGs as Adobe-inverted and converts with a plain formula (cmyk2rgb), no profile; libvips
 *   would convert through an ICC profile, so the raw CMYK is converted here;
 * - 16-bit PNG: Pillow keeps the high byte of RGB(A) and grey+alpha samples, but clips 16-bit grey (mode I/I;16)
 *   to 0..255 (I16_RGB), so such images come out mostly white in torchvision too.
 * Options turn on EXIF orientation and ICC conversion for users who want displayed colours rather than stored ones.
 */
import sharp from 'sharp';
import { internal } from '../../errors';
import type { Rect } from './resample';

export interface DecodeOptions {
  failOn: 'none' | 'truncated' | 'error' | 'warning';
  maxPixels: number;
  /** Convert embedded ICC profiles (and CMYK) to sRGB with libvips instead of keeping the stored values. */
  colourManagement: boolean;
  /** Apply the EXIF orientation tag; `window` is then in displayed (rotated) coordinates. */
  exifOrientation: boolean;
}

/** The header facts decoding depends on: sharp's metadata(), or the same read from a JPEG frame header. */
export type ImageHeader = Pick<
  sharp.Metadata,
  'width' | 'height' | 'channels' | 'depth' | 'space' | 'hasAlpha' | 'orientation'
>;

export interface DecodedRgb {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Pillow's MULDIV255: a * b / 255 rounded, in integers. */
const muldiv255 = (a: number, b: number): number => {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
};

/** Pillow's cmyk2rgb on interleaved CMYK (as libjpeg/Pillow read Adobe JPEGs). */
export function cmykToRgb(cmyk: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let i = 0, j = 0; i < pixels * 4; i += 4, j += 3) {
    const nk = 255 - (cmyk[i + 3] as number);
    out[j] = nk - muldiv255(cmyk[i] as number, nk);
    out[j + 1] = nk - muldiv255(cmyk[i + 1] as number, nk);
    out[j + 2] = nk - muldiv255(cmyk[i + 2] as number, nk);
  }
  return out;
}

/** Grey pixels (1 byte each) to RGB: Pillow's convert('RGB') of an 'L' image repeats the value. */
export function greyToRgb(grey: Uint8Array): Uint8Array {
  const out = new Uint8Array(grey.length * 3);
  for (let i = 0, j = 0; i < grey.length; i++, j += 3) {
    const g = grey[i] as number;
    out[j] = g;
    out[j + 1] = g;
    out[j + 2] = g;
  }
  return out;
}

/** 16-bit samples (native-endian) to Pillow's 8-bit RGB: clip for plain grey, high byte otherwise; alpha dropped. */
export function sixteenBitToRgb(samples: Uint16Array, pixels: number, channels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  const grey = channels <= 2;
  const clip = channels === 1;
  for (let i = 0, s = 0, j = 0; i < pixels; i++, s += channels, j += 3) {
    if (grey) {
      const v = samples[s] as number;
      const g = clip ? (v > 255 ? 255 : v) : v >> 8;
      out[j] = g;
      out[j + 1] = g;
      out[j + 2] = g;
    } else {
      out[j] = (samples[s] as number) >> 8;
      out[j + 1] = (samples[s + 1] as number) >> 8;
      out[j + 2] = (samples[s + 2] as number) >> 8;
    }
  }
  return out;
}

/**
 * The `window` of the decoded image as RGB uint8 HWC, Pillow's way (see above). `meta` is the image's header
 * (sharp metadata). The whole image is decoded (libvips cannot decode a JPEG partly), but only the window is copied
 * out of libvips.
 */
export async function decodeRgbWindow(
  buf: Buffer,
  meta: ImageHeader,
  window: Rect,
  o: DecodeOptions,
): Promise<DecodedRgb> {
  const img = sharp(buf, {
    failOn: o.failOn,
    limitInputPixels: o.maxPixels,
    ignoreIcc: !o.colourManagement,
    autoOrient: o.exifOrientation,
  }).extract(window);
  const pixels = window.width * window.height;
  const done = (data: Uint8Array): DecodedRgb => ({ data, width: window.width, height: window.height });

  if (!o.colourManagement && meta.space === 'cmyk') {
    const { data, info } = await img
      .pipelineColourspace('cmyk')
      .toColourspace('cmyk')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    expect(info, 4, pixels);
    return done(cmykToRgb(data, pixels));
  }
  // 16-bit grey without alpha is clipped (not shifted) by Pillow: done in JS below. Every other 16-bit image keeps
  // the high byte, which is exactly libvips's RGB16/GREY16 -> sRGB conversion (v >> 8): done inside libvips, so no
  // 16-bit copy of the window is ever made in JS (a 6300x6300 RGB16 PNG: 180 MB less per image).
  if (!o.colourManagement && meta.depth === 'ushort' && meta.space === 'grey16' && meta.channels === 1) {
    const channels = meta.channels ?? 0;
    const { data, info } = await img
      .toColourspace(meta.space)
      .raw({ depth: 'ushort' })
      .toBuffer({ resolveWithObject: true });
    expect(info, channels, pixels);
    // Copy once: the Buffer may sit at an odd offset, and Uint16Array needs an aligned view.
    const samples = new Uint16Array(pixels * channels);
    new Uint8Array(samples.buffer).set(data);
    return done(sixteenBitToRgb(samples, pixels, channels));
  }
  const { data, info } = await img
    .removeAlpha()
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  expect(info, 3, pixels);
  return done(data);
}

function expect(info: sharp.OutputInfo, channels: number, pixels: number): void {
  if (info.channels !== channels || info.width * info.height !== pixels) {
    const got = `${info.width}x${info.height}x${info.channels}`;
    throw internal(`jpeg-input: decoder produced ${got}, expected ${pixels} pixels x ${channels}`);
  }
}
