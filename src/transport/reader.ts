import { parseFrame, parsePrefix, PREFIX_BYTES, type Frame, type FramePrefix } from './frame';

/**
 * Turns a byte stream (socket 'data' chunks of any size) into frames. Chunks are kept as a list and each body is
 * taken out once: a body inside one chunk is a view of it (no copy), a body spread over chunks is copied once into
 * a buffer of its exact size — never the quadratic concatenation of growing buffers.
 *
 * A frame whose body is over `maxBodyBytes` is refused from its prefix alone: `oversized` hears of it and its bytes
 * are skipped as they arrive, never buffered, and the stream goes on. A frame that cannot be parsed throws
 * FrameFormatError out of push(): the caller closes the connection (its framing can no longer be trusted).
 */
export interface FrameSink {
  frame(f: Frame): void;
  oversized(p: FramePrefix): void;
}

export class FrameReader {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private prefix: FramePrefix | undefined;
  private skipping = 0;

  constructor(
    private readonly maxBodyBytes: number,
    private readonly sink: FrameSink,
  ) {}

  /** Bytes received but not yet part of a delivered frame (a truncated frame at close shows up here). */
  get pending(): number {
    return this.buffered + (this.prefix ? PREFIX_BYTES : 0) + this.skipping;
  }

  push(chunk: Buffer): void {
    if (this.skipping > 0) {
      const n = Math.min(this.skipping, chunk.length);
      this.skipping -= n;
      if (n === chunk.length) return;
      chunk = chunk.subarray(n);
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.skipping > 0) {
        this.drop(Math.min(this.skipping, this.buffered));
        if (this.skipping > 0) return;
      }
      if (!this.prefix) {
        if (this.buffered < PREFIX_BYTES) return;
        const p = parsePrefix(this.take(PREFIX_BYTES));
        if (p.bodyLength > this.maxBodyBytes) {
          this.skipping = p.headLength + p.bodyLength;
          this.sink.oversized(p);
          continue;
        }
        this.prefix = p;
      }
      const p = this.prefix;
      if (this.buffered < p.headLength + p.bodyLength) return;
      const head = this.take(p.headLength);
      const body = this.take(p.bodyLength);
      this.prefix = undefined;
      this.sink.frame(parseFrame(p, head, body));
    }
  }

  /** n bytes from the front: a view when one chunk holds them, else one copy. */
  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0];
    if (n === 0) return EMPTY;
    if (first && first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let o = 0;
    while (o < n) {
      const c = this.chunks[0] as Buffer;
      const k = Math.min(c.length, n - o);
      c.copy(out, o, 0, k);
      o += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }

  private drop(n: number): void {
    this.skipping -= n;
    this.buffered -= n;
    while (n > 0) {
      const c = this.chunks[0] as Buffer;
      if (c.length <= n) {
        n -= c.length;
        this.chunks.shift();
      } else {
        this.chunks[0] = c.subarray(n);
        n = 0;
      }
    }
  }
}

const EMPTY = Buffer.alloc(0);
