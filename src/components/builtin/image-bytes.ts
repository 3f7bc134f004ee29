/**
 * What jpeg-input can tell from the bytes alone, before and after a decoder has looked at them: the format (by
 * signature), whether a file is cut off, and a libvips failure turned into INVALID_ARGUMENT naming the problem.
 */
import { invalidArgument } from '../../errors';

const NAME = 'jpeg-input';
export type ImageFormat = 'JPEG' | 'PNG' | 'WebP';

/** Recognises the three formats we accept from their first bytes; anything else never reaches a decoder. */
export function sniffFormat(b: Uint8Array): ImageFormat | undefined {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'JPEG';
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (b.length >= 8 && png.every((v, i) => b[i] === v)) return 'PNG';
  const ascii = (from: number, to: number): string => String.fromCharCode(...b.subarray(from, to));
  if (b.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'WebP';
  return undefined;
}

export function preview(b: Uint8Array): string {
  const head = b.subarray(0, 8);
  const hex = Array.from(head, (x) => x.toString(16).padStart(2, '0')).join(' ');
  const text = Array.from(head, (x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.')).join('');
  return `starts with ${hex} "${text}"`;
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
export function decodeError(err: unknown, format: ImageFormat, b: Uint8Array, maxPixels: number): Error {
  const msg = err instanceof Error ? err.message : String(err);
  const what = `${format} image (binData of ${b.byteLength} bytes)`;
  if (/premature end|end of stream|truncat|unexpected end/i.test(msg) || !hasTrailer(b, format)) {
    return invalidArgument(`${NAME}: truncated ${what}: ${msg}`, err);
  }
  if (/exceeds pixel limit/i.test(msg)) {
    return invalidArgument(
      `${NAME}: ${what} has more pixels than the limit of ${maxPixels} (parameter maxPixels)`,
      err,
    );
  }
  return invalidArgument(`${NAME}: corrupt ${what}: ${msg}`, err);
}

/** A RIFF container declares its length, so a cut-off WebP is recognisable before libvips says "unable to parse". */
export function webpTruncated(b: Uint8Array): boolean {
  const declared = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(4, true) + 8;
  return declared > b.byteLength;
}
