/**
 * The few facts jpeg-input needs from a baseline or progressive 8-bit JPEG's header (size, colour components), read
 * in JS from the frame header (SOFn). It replaces sharp's metadata() for such files, which costs a whole libvips
 * round trip (a threadpool hop, an image object, ~0.5 ms CPU per request) just to read a dozen bytes. Anything
 * unusual (12-bit, 2 components, a height given later by DNL, no frame header before the first scan) gives
 * undefined and the caller asks libvips as before.
 */

export interface JpegHeader {
  width: number;
  height: number;
  /** 1 (grey), 3 (YCbCr or RGB) or 4 (CMYK/YCCK). */
  components: 1 | 3 | 4;
}

/** Start-of-frame markers: C0-CF except DHT (C4), JPG (C8) and DAC (CC). */
const isFrame = (m: number): boolean => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

export function jpegHeader(b: Uint8Array): JpegHeader | undefined {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1] as number;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2; // markers without a length
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return undefined; // a scan or the end before any frame header
    const len = ((b[i + 2] as number) << 8) | (b[i + 3] as number);
    if (len < 2) return undefined;
    if (isFrame(marker)) {
      if (len < 8 || i + 10 > b.length) return undefined;
      const precision = b[i + 4] as number;
      const height = ((b[i + 5] as number) << 8) | (b[i + 6] as number);
      const width = ((b[i + 7] as number) << 8) | (b[i + 8] as number);
      const components = b[i + 9] as number;
      if (precision !== 8 || height === 0 || width === 0) return undefined;
      if (components !== 1 && components !== 3 && components !== 4) return undefined;
      return { width, height, components };
    }
    i += 2 + len;
  }
  return undefined;
}
