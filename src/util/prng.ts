// Seeded pseudo-random numbers for the synthetic weights. Math.random cannot be seeded, and the same seed must give
// a byte-identical model file, so the generator owns its PRNG: mulberry32 (32-bit state, fast, good enough for
// weight init) with Box-Muller for normals. Box-Muller uses Math.log/Math.cos/Math.sqrt; V8 implements these with
// its fdlibm port on every platform, so the stream is the same wherever Node runs.

const TWO_PI = 2 * Math.PI;
const UINT32_RANGE = 4294967296;

export function isSeed(seed: number): boolean {
  return Number.isInteger(seed) && seed >= 0 && seed < UINT32_RANGE;
}

export class Prng {
  private state: number;
  /** Second normal of the last Box-Muller pair, kept so no draw is wasted. */
  private spare: number | undefined;

  /** `seed` is a uint32, so distinct seeds are distinct streams. */
  constructor(seed: number) {
    if (!isSeed(seed)) throw new RangeError(`seed must be an integer in [0, 4294967295], got ${seed}`);
    this.state = seed;
  }

  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in (0, 1): never exactly 0, so log() in Box-Muller stays finite. */
  nextOpenUnit(): number {
    return (this.nextUint32() + 0.5) / UINT32_RANGE;
  }

  /** Standard normal N(0, 1). */
  normal(): number {
    const spare = this.spare;
    if (spare !== undefined) {
      this.spare = undefined;
      return spare;
    }
    const r = Math.sqrt(-2 * Math.log(this.nextOpenUnit()));
    const theta = TWO_PI * this.nextOpenUnit();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** Fill `out` with N(mean, std^2) draws. */
  fillNormal(out: Float32Array, std: number, mean = 0): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /** Fill `out` with U(low, high) draws. */
  fillUniform(out: Float32Array, low: number, high: number): Float32Array {
    const span = high - low;
    for (let i = 0; i < out.length; i++) out[i] = low + span * this.nextOpenUnit();
    return out;
  }
}
