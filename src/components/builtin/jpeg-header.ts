import { walkJpeg, type FrameHeader } from './jpeg-structure';

/**
 * The few facts jpeg-input needs from a baseline or progressive 8-bit JPEG's header (size, colour components), read
 * from the frame header (SOFn) that the marker walk (jpeg-structure.ts) already parses for every request. They
 * replace sharp's metadata() for such files, which costs a whole libvips round trip (a threadpool hop, an image
 * object, ~0.5 ms CPU per request) just to read a dozen bytes. Anything unusual (12-bit, 2 components, a height
 * given later by DNL, no frame header before the first scan) gives undefined and the caller asks libvips as before.
 */

export interface JpegHeader {
  width: number;
  height: number;
  /** 1 (grey), 3 (YCbCr or RGB) or 4 (CMYK/YCCK). */
  components: 1 | 3 | 4;
}

/** What the walk's frame header says, when it is one that jpeg-input's fast path handles. */
export function plainHeader(f: FrameHeader | undefined): JpegHeader | undefined {
  if (!f || f.precision !== 8 || f.height === 0 || f.width === 0) return undefined;
  const { components } = f;
  if (components !== 1 && components !== 3 && components !== 4) return undefined;
  return { width: f.width, height: f.height, components };
}

/** The header of JPEG bytes, walking them (jpeg-input gets it from `inspect` instead of walking twice). */
export function jpegHeader(b: Uint8Array): JpegHeader | undefined {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  return plainHeader(walkJpeg(b).frame);
}
