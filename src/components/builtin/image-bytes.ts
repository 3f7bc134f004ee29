/**
 * What jpeg-input can tell from the bytes alone, before and after a decoder has looked at them: the format (by
 * signature), whether a file is cut off, and a libvips failure turned into INVALID_ARGUMENT naming the problem.
 */
import { invalidArgument } from '../../errors';
import { plainHeader, type JpegHeader } from './jpeg-header';
import { walkJpeg } from './jpeg-structure';

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
 * Turns a libvips/sharp failure into INVALID_ARGUMENT saying what is wrong with the bytes. A JPEG that reaches the
 * decoder is not cut off (inspect() walked its structure first), so its failure is "not a decodable JPEG" with
 * libvips' reason. PNG and WebP decoders word truncation differently (libspng often just says "read error"), so a
 * failed file without its end marker counts as truncated.
 */
export function decodeError(err: unknown, format: ImageFormat, b: Uint8Array, maxPixels: number): Error {
  const msg = oneLine(err instanceof Error ? err.message : String(err));
  const what = `${format} image (binData of ${b.byteLength} bytes)`;
  if (/exceeds pixel limit/i.test(msg)) {
    return invalidArgument(
      `${NAME}: ${what} has more pixels than the limit of ${maxPixels} (parameter maxPixels)`,
      err,
    );
  }
  if (format === 'JPEG') return notDecodable(msg, b, err);
  if (/premature end|end of stream|truncat|unexpected end/i.test(msg) || !hasTrailer(b, format)) {
    return invalidArgument(`${NAME}: truncated ${what}: ${msg}`, err);
  }
  return invalidArgument(`${NAME}: corrupt ${what}: ${msg}`, err);
}

export function notDecodable(reason: string, b: Uint8Array, cause?: unknown): Error {
  return invalidArgument(`${NAME}: not a decodable JPEG: ${reason} (binData of ${b.byteLength} bytes)`, cause);
}

/** A RIFF container declares its length, so a cut-off WebP is recognisable before libvips says "unable to parse". */
export function webpTruncated(b: Uint8Array): boolean {
  const declared = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(4, true) + 8;
  return declared > b.byteLength;
}

const PNG_IEND = [0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82];
/** How far from the end a trailer is looked for: files may carry padding or junk after it. */
const TRAILER_SEARCH = 64 * 1024;

/** Native search (a 5 MB photo is scanned in microseconds, not a JS loop per byte). */
function lastIndexOf(b: Uint8Array, seq: readonly number[], from: number): number {
  const i = Buffer.from(b.buffer, b.byteOffset, b.byteLength).lastIndexOf(Buffer.from(seq));
  return i >= from ? i : -1;
}

export interface Inspection {
  /** Why the file is cut off, when it is. */
  truncated?: string;
  /** Why a JPEG is not one, when its structure is broken and no end-of-image marker follows its last scan. */
  undecodable?: string;
  /** A plain 8-bit JPEG's size and components, from the same walk (jpeg-header.ts), so no second read is needed. */
  jpeg?: JpegHeader;
}

/**
 * What the structure alone says, before decoding. Decoding only the rows a centre crop needs would otherwise accept a
 * file whose missing rows fall outside the crop (issue 11: 86 of 1,500 cut files were answered). JPEG: the marker
 * walk (jpeg-structure.ts) tells a cut file from bytes that are not a JPEG's structure (issue 22); the latter go to
 * the decoder for its reason, and are refused even if it copes, unless an end-of-image marker follows the last scan.
 * PNG: the complete IEND chunk (with its CRC). WebP: the RIFF length (webpTruncated).
 */
export function inspect(b: Uint8Array, format: ImageFormat): Inspection {
  if (format === 'JPEG') {
    const { structure: s, frame } = walkJpeg(b);
    if (s.kind === 'truncated') return { truncated: s.reason };
    const jpeg = plainHeader(frame);
    const facts = jpeg ? { jpeg } : {};
    if (s.kind === 'malformed' && !endsAfterLastScan(b)) return { undecodable: s.reason, ...facts };
    return facts;
  }
  if (format === 'PNG') {
    const from = Math.max(0, b.length - TRAILER_SEARCH);
    return lastIndexOf(b, PNG_IEND, from) < 0 ? { truncated: 'no complete IEND chunk at the end' } : {};
  }
  return webpTruncated(b) ? { truncated: 'the RIFF header declares more bytes than were sent' } : {};
}

export function truncation(b: Uint8Array, format: ImageFormat): string | undefined {
  return inspect(b, format).truncated;
}

/** An end-of-image marker after the last start-of-scan: entropy-coded data cannot hold FF D9, so it is the real end. */
function endsAfterLastScan(b: Uint8Array): boolean {
  const eoi = lastIndexOf(b, [0xff, 0xd9], 2);
  const sos = lastIndexOf(b, [0xff, 0xda], 2);
  return eoi >= 0 && eoi > sos;
}

/**
 * libvips reports a failure as several lines (the loader's complaint, then "VipsJpeg: ..." / "vips2png: ..." echoes
 * and empty lines). Clients get one line: the first that says something, with libvips's own prefix kept short.
 */
export function oneLine(msg: string): string {
  const lines = msg
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^(unknown error|vips_[a-z_]+: |vips2[a-z]+: )$/i.test(l));
  const first = lines.find((l) => !/^(vips|VipsImage): /.test(l)) ?? lines[0] ?? msg.trim();
  return first.length > 300 ? `${first.slice(0, 300)}...` : first;
}
