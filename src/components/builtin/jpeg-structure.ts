/**
 * Whether a JPEG's bytes are a whole file, a file that ends early, or not a JPEG's structure at all, judged by walking
 * its markers from the start. "Truncated" must mean what it says: the bytes are a well-formed JPEG up to the point
 * where they stop. The JPEG magic followed by anything else breaks that structure within a few bytes (a marker byte
 * that is no marker, a segment whose length or fields are impossible, a byte that should start the next marker but
 * does not), and is "not a decodable JPEG" (issue 22: 610 such fuzzed inputs were reported as truncated because
 * they lacked an end-of-image marker).
 *
 * The walk reads segment headers and fields only; entropy-coded scan data is skipped to the next marker (a scan cannot
 * hold FF followed by anything but 00 or a restart marker). A segment that runs past the end is a cut when what is
 * there of it is valid; for APPn and COM segments, whose payload is free-form, only when it starts with a known
 * signature (JFIF, Exif, ICC_PROFILE, …) or is text, so random bytes after the magic are not taken for a cut APPn
 * (nor for a cut DAC, DHP or EXP, segments a real file seldom has and never long).
 */

/** The frame header (SOFn) as the walk found it: what the decoder will be told about the image. */
export interface FrameHeader {
  precision: number;
  height: number;
  width: number;
  components: number;
}

export type JpegStructure =
  { kind: 'whole' } | { kind: 'truncated'; reason: string } | { kind: 'malformed'; reason: string };

const SOS = 0xda;
const EOI = 0xd9;
const SOI = 0xd8;
const DHT = 0xc4;
const DAC = 0xcc;
const DQT = 0xdb;
const DNL = 0xdc;
const DRI = 0xdd;
const COM = 0xfe;

const isSof = (m: number): boolean => m >= 0xc0 && m <= 0xcf && m !== DHT && m !== 0xc8 && m !== DAC;
const isApp = (m: number): boolean => m >= 0xe0 && m <= 0xef;
const isRst = (m: number): boolean => m >= 0xd0 && m <= 0xd7;
/** Markers with a length field that libjpeg reads (DHP/EXP included: it skips them). */
const hasSegment = (m: number): boolean =>
  isSof(m) || isApp(m) || [DHT, DAC, DQT, DNL, DRI, SOS, COM, 0xde, 0xdf].includes(m);

const APP_SIGNATURES = [
  'JFIF\0',
  'JFXX\0',
  'Exif\0',
  'http://ns.adobe.com/',
  'ICC_PROFILE\0',
  'Photoshop 3.0\0',
  'Adobe',
  'Ducky',
  'MPF\0',
  'FPXR\0',
].map((s) => Buffer.from(s, 'latin1'));

const hex = (m: number): string => m.toString(16).toUpperCase().padStart(2, '0');

/** What is wrong with a segment's payload (only the bytes present when it is cut), or undefined. */
function segmentProblem(m: number, d: Uint8Array, declared: number): string | undefined {
  const at = (i: number): number | undefined => d[i];
  if (isSof(m)) {
    const nc = at(5);
    if (at(0) !== undefined && ((at(0) as number) < 2 || (at(0) as number) > 16)) return `sample precision ${at(0)}`;
    if (nc !== undefined && (nc < 1 || nc > 10)) return `${nc} components`;
    if (nc !== undefined && declared !== 6 + 3 * nc) return `frame header of ${declared} bytes for ${nc} components`;
    for (let c = 0; nc !== undefined && c < nc; c++) {
      const hv = at(7 + 3 * c);
      if (hv !== undefined && (hv >> 4 < 1 || hv >> 4 > 4 || (hv & 15) < 1 || (hv & 15) > 4))
        return `sampling factors 0x${hex(hv)}`;
    }
    return undefined;
  }
  if (m === SOS) {
    const ns = at(0);
    if (ns !== undefined && (ns < 1 || ns > 4)) return `scan of ${ns} components`;
    if (ns !== undefined && declared !== 4 + 2 * ns) return `scan header of ${declared} bytes for ${ns} components`;
    return undefined;
  }
  if (m === DQT) {
    let i = 0;
    while (i < declared) {
      const pq = at(i);
      if (pq === undefined) return undefined;
      if (pq >> 4 > 1 || (pq & 15) > 3) return `quantisation table 0x${hex(pq)}`;
      i += 1 + 64 * ((pq >> 4) + 1);
    }
    return i === declared ? undefined : `quantisation tables do not fill the ${declared}-byte segment`;
  }
  if (m === DHT) {
    let i = 0;
    while (i < declared) {
      const tc = at(i);
      if (tc === undefined) return undefined;
      if (tc >> 4 > 1 || (tc & 15) > 3) return `Huffman table 0x${hex(tc)}`;
      let codes = 0;
      for (let k = 1; k <= 16; k++) {
        const count = at(i + k);
        if (count === undefined) return undefined;
        codes += count;
      }
      if (codes > 256) return `Huffman table of ${codes} codes`;
      i += 17 + codes;
    }
    return i === declared ? undefined : `Huffman tables do not fill the ${declared}-byte segment`;
  }
  if ((m === DRI || m === DNL) && declared !== 2) return `${declared}-byte ${m === DRI ? 'DRI' : 'DNL'} segment`;
  return undefined;
}

/** A cut free-form segment is believed only if what is there of it looks like a real one. */
function believableCut(m: number, d: Uint8Array): boolean {
  if (isApp(m)) {
    return APP_SIGNATURES.some((sig) => {
      const n = Math.min(sig.length, d.length);
      return Buffer.from(d.buffer, d.byteOffset, n).equals(sig.subarray(0, n));
    });
  }
  if (m === COM) return d.every((x) => x === 0 || x === 9 || x === 10 || x === 13 || (x >= 0x20 && x !== 0x7f));
  // DAC is a few bytes long; DHP and EXP belong to hierarchical JPEG, which decoders do not support.
  return m !== DAC && m !== 0xde && m !== 0xdf;
}

/** Walks the markers of bytes that start with FF D8 FF (sniffed). */
export function jpegStructure(b: Uint8Array): JpegStructure {
  return walk(b, {});
}

/** The structure and, when the walk got that far (a cut or broken file may still have one), the frame header. */
export function walkJpeg(b: Uint8Array): { structure: JpegStructure; frame?: FrameHeader } {
  const seen: { frame?: FrameHeader } = {};
  const structure = walk(b, seen);
  return { structure, ...seen };
}

function walk(b: Uint8Array, seen: { frame?: FrameHeader }): JpegStructure {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const n = buf.length;
  const malformed = (reason: string): JpegStructure => ({ kind: 'malformed', reason });
  const truncated = (reason: string): JpegStructure => ({ kind: 'truncated', reason });
  let frame = false;
  let scans = 0;
  let p = 2;
  for (;;) {
    if (p >= n)
      return truncated(scans ? 'ends after a scan, with no end-of-image marker' : 'ends before any image data');
    if (buf[p] !== 0xff) return malformed(`byte 0x${hex(buf[p] as number)} at offset ${p} where a marker should start`);
    const start = p;
    while (p < n && buf[p] === 0xff) p++; // fill bytes
    if (p >= n) return truncated(`ends inside the marker at offset ${start}`);
    const m = buf[p] as number;
    p++;
    if (m === EOI)
      return scans > 0 ? { kind: 'whole' } : malformed(`end-of-image marker at offset ${start} before any scan`);
    if (m === SOI) return malformed(`a second start-of-image marker at offset ${start}`);
    if (isRst(m) || m === 0x01) continue; // standalone markers, ignored by decoders outside a scan
    if (!hasSegment(m)) return malformed(`unknown marker FF ${hex(m)} at offset ${start}`);
    if (p + 2 > n) return truncated(`ends inside the FF ${hex(m)} segment's length at offset ${start}`);
    const length = ((buf[p] as number) << 8) | (buf[p + 1] as number);
    if (length < 2) return malformed(`FF ${hex(m)} segment at offset ${start} declares ${length} bytes`);
    const end = p + length;
    const present = buf.subarray(p + 2, Math.min(end, n));
    const problem = segmentProblem(m, present, length - 2);
    if (problem) return malformed(`FF ${hex(m)} segment at offset ${start}: ${problem}`);
    if (isSof(m) && present.length >= 6 && !seen.frame) {
      const u16 = (i: number): number => ((present[i] as number) << 8) | (present[i + 1] as number);
      seen.frame = { precision: present[0] as number, height: u16(1), width: u16(3), components: present[5] as number };
    }
    if (end > n) {
      return believableCut(m, present)
        ? truncated(
            `ends inside the FF ${hex(m)} segment at offset ${start} (${length} bytes declared, ${n - p} there)`,
          )
        : malformed(
            `FF ${hex(m)} segment at offset ${start} declares ${length} bytes, more than there are, and is not a known kind`,
          );
    }
    p = end;
    if (isSof(m)) frame = true;
    if (m !== SOS) continue;
    if (!frame) return malformed(`scan at offset ${start} before any frame header`);
    scans++;
    // Entropy-coded data: the next FF not followed by 00 (stuffing), a restart marker or another FF is a marker.
    for (;;) {
      const i = buf.indexOf(0xff, p);
      if (i < 0 || i + 1 >= n) return truncated('ends inside scan data, with no end-of-image marker');
      const next = buf[i + 1] as number;
      if (next === 0 || isRst(next) || next === 0xff) {
        p = i + 1;
        continue;
      }
      p = i;
      break;
    }
  }
}
