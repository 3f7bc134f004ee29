/**
 * JPEG decoding with libjpeg-turbo's TurboJPEG API, the system's libturbojpeg.so.0 (Debian: libturbojpeg0), called
 * through koffi (a foreign-function interface with prebuilt binaries; no compiler at install).
 *
 * Why (issue 23): Pillow decodes with libjpeg-turbo's accurate integer IDCT and fancy upsampling. sharp's libvips
 * runs the same decoding code (mozjpeg), but the dev images took 2.8 ms median through it against Pillow's 1.5 ms;
 * the same 500x375 photo 4.7 ms against 1.2 ms. TurboJPEG with flags 0 is exactly Pillow's decode (accurate DCT,
 * fancy upsampling: never TJFLAG_FASTDCT or TJFLAG_FASTUPSAMPLE) and takes ~1.1 ms for that photo.
 *
 * Only a clean decode is used. tjDecompress2 returns -1 on errors and, since libjpeg-turbo 2.1, also on warnings
 * (corrupt data, a premature end), having decoded what it could. Any such image, and any image that is not plain
 * 8-bit grey or YCbCr/RGB (CMYK, YCCK), is left to libvips, whose handling of it is what jpeg-input did before: the
 * caller gets `undefined` and decodes as before. Errors therefore keep their wording, and bad input costs one failed
 * attempt of a fraction of a millisecond.
 *
 * When koffi or the library is missing (a machine without libturbojpeg0), `turboJpeg()` is undefined and jpeg-input
 * decodes with libvips alone: the same pixels, slower. `turboJpegStatus()` says which, and why.
 */
/** TurboJPEG pixel formats and colourspaces (turbojpeg.h, stable since 1.x). */
const TJPF_RGB = 0;
const TJPF_GRAY = 6;
const TJCS_RGB = 0;
const TJCS_YCbCr = 1;
const TJCS_GRAY = 2;
/** Refuse progressive JPEGs with an unreasonable number of scans (a known CPU exhaustion), libjpeg-turbo >= 2.1. */
const TJFLAG_LIMITSCANS = 32768;

/** Images at or below this many pixels decode on the calling thread (~1 ms per 200 kpx); larger ones on a worker. */
export const SYNC_MAX_PIXELS = 2_000_000;

type Handle = unknown;

interface AsyncFn {
  (...args: unknown[]): unknown;
  async: (...args: unknown[]) => void;
}

interface Binding {
  init: () => Handle;
  destroy: (h: Handle) => number;
  header: (h: Handle, buf: Uint8Array, size: number, w: number[], hh: number[], ss: number[], cs: number[]) => number;
  decompress: AsyncFn;
  errorStr: (h: Handle) => string;
}

export interface TurboStatus {
  available: boolean;
  /** Why not, when not available. */
  reason?: string;
  library?: string;
  /** Images this process decoded with TurboJPEG, and images it left to libvips (not plain, or not clean). */
  decoded: number;
  declined: number;
}

/** What the JPEG holds, from its header: the pixel format to decode to and the bytes per pixel. */
interface Layout {
  format: number;
  channels: 1 | 3;
}

export interface TurboDecoded {
  /** width x height x channels, interleaved. */
  data: Uint8Array;
  channels: 1 | 3;
}

export interface TurboJpeg {
  /**
   * Decodes a whole JPEG whose header says width x height, to RGB (or grey for grey JPEGs: 1 byte per pixel), or
   * undefined when the image is not a plain 8-bit grey/YCbCr/RGB JPEG or did not decode cleanly.
   */
  decode(jpeg: Uint8Array, width: number, height: number): Promise<TurboDecoded | undefined>;
}

const LIBRARY = 'libturbojpeg.so.0';
let status: Omit<TurboStatus, 'decoded' | 'declined'> | undefined;
const counts = { decoded: 0, declined: 0 };
let decoder: TurboJpeg | undefined;

function bind(): Binding {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi = require('koffi') as {
    load: (name: string) => { func: (decl: string) => AsyncFn };
  };
  const lib = koffi.load(LIBRARY);
  const f = (decl: string): AsyncFn => lib.func(decl);
  return {
    init: f('void* tjInitDecompress()'),
    destroy: f('int tjDestroy(void* h)') as (h: Handle) => number,
    header: f(
      'int tjDecompressHeader3(void* h, const uint8_t* buf, unsigned long size, _Out_ int* w, _Out_ int* hh, ' +
        '_Out_ int* ss, _Out_ int* cs)',
    ) as unknown as Binding['header'],
    decompress: f(
      'int tjDecompress2(void* h, const uint8_t* buf, unsigned long size, uint8_t* dst, int w, int pitch, int hh, ' +
        'int pf, int flags)',
    ),
    errorStr: f('const char* tjGetErrorStr2(void* h)') as (h: Handle) => string,
  };
}

class Decoder implements TurboJpeg {
  /** The calling thread's handle (TurboJPEG handles are not thread-safe; worker decodes get their own). */
  private readonly main: Handle;

  constructor(private readonly b: Binding) {
    this.main = b.init();
    if (!this.main) throw new Error(`tjInitDecompress failed: ${b.errorStr(null)}`);
  }

  /** The pixel layout to decode to, or undefined when the header is not a plain 8-bit grey/YCbCr/RGB JPEG. */
  private layout(jpeg: Uint8Array, width: number, height: number): Layout | undefined {
    const w = [0];
    const h = [0];
    const ss = [0];
    const cs = [0];
    if (this.b.header(this.main, jpeg, jpeg.byteLength, w, h, ss, cs) !== 0) return undefined;
    if (w[0] !== width || h[0] !== height) return undefined;
    if (cs[0] === TJCS_GRAY) return { format: TJPF_GRAY, channels: 1 };
    if (cs[0] === TJCS_YCbCr || cs[0] === TJCS_RGB) return { format: TJPF_RGB, channels: 3 };
    return undefined;
  }

  async decode(jpeg: Uint8Array, width: number, height: number): Promise<TurboDecoded | undefined> {
    const out = await this.attempt(jpeg, width, height);
    if (out) counts.decoded++;
    else counts.declined++;
    return out;
  }

  private async attempt(jpeg: Uint8Array, width: number, height: number): Promise<TurboDecoded | undefined> {
    const layout = this.layout(jpeg, width, height);
    if (!layout) return undefined;
    // Not zero-filled: a clean decode writes every byte, and any other outcome discards the buffer.
    const data: Uint8Array = Buffer.allocUnsafe(width * height * layout.channels);
    const args = [jpeg, jpeg.byteLength, data, width, 0, height, layout.format, TJFLAG_LIMITSCANS] as const;
    if (width * height <= SYNC_MAX_PIXELS) {
      return this.b.decompress(this.main, ...args) === 0 ? { data, channels: layout.channels } : undefined;
    }
    const handle = this.b.init();
    if (!handle) return undefined;
    try {
      // A failure of the call itself (not of the decode) also leaves the image to libvips.
      const rc = await new Promise<number>((resolve) =>
        this.b.decompress.async(handle, ...args, (err: unknown, r: number) => resolve(err ? -1 : r)),
      );
      return rc === 0 ? { data, channels: layout.channels } : undefined;
    } finally {
      this.b.destroy(handle);
    }
  }
}

/** The decoder, loaded on first use; undefined where koffi or libturbojpeg.so.0 cannot be loaded. */
export function turboJpeg(): TurboJpeg | undefined {
  if (status) return decoder;
  try {
    decoder = new Decoder(bind());
    status = { available: true, library: LIBRARY };
  } catch (err) {
    decoder = undefined;
    status = { available: false, reason: err instanceof Error ? err.message.split('\n')[0] : String(err) };
  }
  return decoder;
}

export function turboJpegStatus(): TurboStatus {
  turboJpeg();
  return { ...(status as TurboStatus), ...counts };
}
