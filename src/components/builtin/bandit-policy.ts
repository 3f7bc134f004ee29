import type { Prng } from '../../util/prng';

/**
 * The two learning routers' rules, free of the component API so unit tests drive them directly. Both follow Seldon
 * Core's Python routers (components/routers/epsilon-greedy and thompson-sampling, v1.17.1): Bernoulli rewards, a
 * feedback of reward r on a request of n rows counts as round(r·n) successes and the rest failures (Seldon truncates,
 * int(r·n), which turns 0.29·100 into 28; rounding does not). All randomness comes from one seeded PRNG, so a
 * router's choices are a function of its seed and the order of the calls it gets.
 */

export interface BanditCounts {
  successes: number[];
  tries: number[];
}

export interface BanditPolicy {
  readonly nBranches: number;
  route(): number;
  /** Counts `successes` and `failures` for `branch`. */
  update(branch: number, successes: number, failures: number): void;
  /** Learned state as plain JSON (for snapshot files); `restore` reads it back. */
  snapshot(): Record<string, unknown>;
  restore(state: Record<string, unknown>): void;
  counts(): BanditCounts;
}

/** Seldon's epsilon-greedy: the best branch with probability 1-ε, else one of the *other* branches uniformly. */
export class EpsilonGreedy implements BanditPolicy {
  private readonly successes: number[];
  private readonly tries: number[];
  private readonly values: number[];
  best: number;

  constructor(
    readonly nBranches: number,
    readonly epsilon: number,
    private readonly rng: Prng,
    bestBranch?: number,
  ) {
    this.successes = new Array<number>(nBranches).fill(0);
    this.tries = new Array<number>(nBranches).fill(0);
    this.values = new Array<number>(nBranches).fill(0);
    this.best = bestBranch ?? this.pick(nBranches);
  }

  route(): number {
    const x = this.rng.nextOpenUnit();
    if (x > this.epsilon || this.nBranches === 1) return this.best;
    const other = this.pick(this.nBranches - 1);
    return other >= this.best ? other + 1 : other;
  }

  update(branch: number, successes: number, failures: number): void {
    this.successes[branch] = (this.successes[branch] ?? 0) + successes;
    this.tries[branch] = (this.tries[branch] ?? 0) + successes + failures;
    const tries = this.tries[branch] ?? 0;
    this.values[branch] = tries > 0 ? (this.successes[branch] ?? 0) / tries : 0;
    // the best value, ties broken at random (as Seldon does)
    const top = Math.max(...this.values);
    const tied = this.values.flatMap((v, i) => (v === top ? [i] : []));
    this.best = tied.length === 1 ? (tied[0] as number) : (tied[this.pick(tied.length)] as number);
  }

  snapshot(): Record<string, unknown> {
    return { successes: [...this.successes], tries: [...this.tries], best: this.best };
  }

  restore(state: Record<string, unknown>): void {
    const s = counts(state, this.nBranches);
    for (let i = 0; i < this.nBranches; i++) {
      this.successes[i] = s.successes[i] as number;
      this.tries[i] = s.tries[i] as number;
      this.values[i] = (s.tries[i] as number) > 0 ? (s.successes[i] as number) / (s.tries[i] as number) : 0;
    }
    const best = state.best;
    if (typeof best === 'number' && Number.isInteger(best) && best >= 0 && best < this.nBranches) this.best = best;
  }

  counts(): BanditCounts {
    return { successes: [...this.successes], tries: [...this.tries] };
  }

  private pick(n: number): number {
    return Math.min(n - 1, Math.floor(this.rng.nextOpenUnit() * n));
  }
}

/** Thompson sampling, Beta-Bernoulli: a draw from each branch's Beta posterior; the largest draw wins. */
export class ThompsonSampling implements BanditPolicy {
  private readonly successes: number[];
  private readonly tries: number[];

  constructor(
    readonly nBranches: number,
    /** Beta prior Beta(alpha, beta) of every branch; Seldon's is Beta(1, 1), uniform. */
    readonly alpha: number,
    readonly beta: number,
    private readonly rng: Prng,
  ) {
    this.successes = new Array<number>(nBranches).fill(0);
    this.tries = new Array<number>(nBranches).fill(0);
  }

  route(): number {
    let best = 0;
    let top = -1;
    for (let i = 0; i < this.nBranches; i++) {
      const s = this.successes[i] as number;
      const f = (this.tries[i] as number) - s;
      const draw = sampleBeta(this.rng, this.alpha + s, this.beta + f);
      if (draw > top) [top, best] = [draw, i];
    }
    return best;
  }

  update(branch: number, successes: number, failures: number): void {
    this.successes[branch] = (this.successes[branch] ?? 0) + successes;
    this.tries[branch] = (this.tries[branch] ?? 0) + successes + failures;
  }

  snapshot(): Record<string, unknown> {
    return { successes: [...this.successes], tries: [...this.tries] };
  }

  restore(state: Record<string, unknown>): void {
    const s = counts(state, this.nBranches);
    for (let i = 0; i < this.nBranches; i++) {
      this.successes[i] = s.successes[i] as number;
      this.tries[i] = s.tries[i] as number;
    }
  }

  counts(): BanditCounts {
    return { successes: [...this.successes], tries: [...this.tries] };
  }
}

function counts(state: Record<string, unknown>, n: number): BanditCounts {
  const list = (k: string): number[] => {
    const v = state[k];
    if (!Array.isArray(v) || v.length !== n || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0))
      throw new Error(`'${k}' must be ${n} counts (one per branch), got ${JSON.stringify(v)}`);
    return v as number[];
  };
  const out = { successes: list('successes'), tries: list('tries') };
  out.successes.forEach((s, i) => {
    if (s > (out.tries[i] as number)) throw new Error(`branch ${i} has more successes (${s}) than tries`);
  });
  return out;
}

/**
 * Gamma(shape, 1) by Marsaglia and Tsang (2000), "A simple method for generating gamma variables"; shape < 1 by
 * their boost Gamma(shape + 1)·U^(1/shape). Beta(a, b) = X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b).
 */
export function sampleGamma(rng: Prng, shape: number): number {
  if (shape < 1) return sampleGamma(rng, shape + 1) * Math.pow(rng.nextOpenUnit(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.nextOpenUnit();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

export function sampleBeta(rng: Prng, a: number, b: number): number {
  const x = sampleGamma(rng, a);
  const y = sampleGamma(rng, b);
  return x / (x + y);
}
