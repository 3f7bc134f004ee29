import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Component, ComponentDefinition, FeedbackInput } from '../../../src/components/api';
import {
  EpsilonGreedy,
  sampleBeta,
  sampleGamma,
  ThompsonSampling,
} from '../../../src/components/builtin/bandit-policy';
import { outcomes, rowsOf } from '../../../src/components/builtin/bandit-router';
import epsilonGreedy from '../../../src/components/builtin/epsilon-greedy';
import thompsonSampling from '../../../src/components/builtin/thompson-sampling';
import { Code, InferError } from '../../../src/errors';
import type { Payload } from '../../../src/message/message';
import { fromNumbers } from '../../../src/tensor/tensor';
import { Prng } from '../../../src/util/prng';
import { callContext, componentContext } from './helpers';

/** The learning routers' update rules (Seldon's, components/routers in Seldon Core v1.17.1) and their component glue. */

const shares = (route: () => number, n: number, k: number): number[] => {
  const c = new Array<number>(k).fill(0);
  for (let i = 0; i < n; i++) c[route()]!++;
  return c.map((v) => v / n);
};

describe('epsilon-greedy rule', () => {
  it('routes to the best branch with probability 1-ε, to the others uniformly otherwise', () => {
    const p = new EpsilonGreedy(3, 0.3, new Prng(1), 2);
    const s = shares(() => p.route(), 30_000, 3);
    assert.ok(Math.abs((s[2] as number) - 0.7) < 0.015, String(s));
    assert.ok(Math.abs((s[0] as number) - 0.15) < 0.015, String(s));
    assert.ok(Math.abs((s[1] as number) - 0.15) < 0.015, String(s));
    const always = new EpsilonGreedy(2, 0, new Prng(1), 1);
    assert.deepEqual(
      shares(() => always.route(), 1000, 2),
      [0, 1],
    );
    const never = new EpsilonGreedy(2, 1, new Prng(1), 1);
    assert.deepEqual(
      shares(() => never.route(), 1000, 2),
      [1, 0],
    );
  });

  it('value = successes / tries per branch; the best is the highest value', () => {
    const p = new EpsilonGreedy(3, 0.1, new Prng(5), 0);
    p.update(1, 3, 1); // 0.75
    assert.equal(p.best, 1);
    p.update(0, 4, 0); // 1.0
    assert.equal(p.best, 0);
    p.update(0, 0, 4); // 4/8 = 0.5 < 0.75
    assert.equal(p.best, 1);
    assert.deepEqual(p.counts(), { successes: [4, 3, 0], tries: [8, 4, 0] });
  });

  it('ties are broken at random, among the tied branches only', () => {
    const seen = new Set<number>();
    for (let seed = 0; seed < 40; seed++) {
      const p = new EpsilonGreedy(3, 0.1, new Prng(seed), 0);
      p.update(0, 1, 1); // 0.5
      p.update(2, 1, 1); // 0.5; branch 1 untried, 0
      seen.add(p.best);
    }
    assert.deepEqual([...seen].sort(), [0, 2]);
  });

  it('the same seed gives the same choices', () => {
    const run = (): number[] => {
      const p = new EpsilonGreedy(2, 0.2, new Prng(9));
      return Array.from(
        { length: 200 },
        (_, i) => (p.update(i % 2, i % 3 === 0 ? 1 : 0, i % 3 === 0 ? 0 : 1), p.route()),
      );
    };
    assert.deepEqual(run(), run());
  });
});

describe('Thompson sampling rule (Beta-Bernoulli)', () => {
  it('Gamma and Beta draws have the right mean and variance (Marsaglia-Tsang; shape < 1 boosted)', () => {
    const rng = new Prng(11);
    const n = 40_000;
    const stats = (draw: () => number): [number, number] => {
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < n; i++) {
        const v = draw();
        s += v;
        s2 += v * v;
      }
      const m = s / n;
      return [m, s2 / n - m * m];
    };
    const [bm, bv] = stats(() => sampleBeta(rng, 2, 5));
    assert.ok(Math.abs(bm - 2 / 7) < 0.005, `Beta(2,5) mean ${bm}`);
    assert.ok(Math.abs(bv - 10 / (49 * 8)) < 0.002, `Beta(2,5) variance ${bv}`);
    const [gm, gv] = stats(() => sampleGamma(rng, 0.5));
    assert.ok(Math.abs(gm - 0.5) < 0.02, `Gamma(0.5) mean ${gm}`);
    assert.ok(Math.abs(gv - 0.5) < 0.05, `Gamma(0.5) variance ${gv}`);
  });

  it('posterior Beta(alpha + successes, beta + failures): routes to the branch more likely best', () => {
    const p = new ThompsonSampling(2, 1, 1, new Prng(3));
    // no data: both Beta(1,1), an even split
    const even = shares(() => p.route(), 20_000, 2);
    assert.ok(Math.abs((even[0] as number) - 0.5) < 0.02, String(even));
    p.update(0, 8, 2);
    p.update(1, 3, 7);
    assert.deepEqual(p.counts(), { successes: [8, 3], tries: [10, 10] });
    // P(Beta(9,3) > Beta(4,8)) ≈ 0.99
    const s = shares(() => p.route(), 20_000, 2);
    assert.ok((s[0] as number) > 0.97 && (s[0] as number) < 0.999, String(s));
  });

  it('the prior counts: a strong prior for branch-free successes needs more evidence to move', () => {
    const weak = new ThompsonSampling(2, 1, 1, new Prng(4));
    const strong = new ThompsonSampling(2, 50, 50, new Prng(4));
    for (const p of [weak, strong]) {
      p.update(0, 6, 0);
      p.update(1, 0, 6);
    }
    const w = shares(() => weak.route(), 10_000, 2)[0] as number;
    const s = shares(() => strong.route(), 10_000, 2)[0] as number;
    assert.ok(w > 0.99 && s < 0.85 && s > 0.6, `weak ${w}, strong ${s}`);
  });
});

describe('reward to successes and failures', () => {
  it("rows are a tensor's first dimension (Seldon's features.shape[0]), 1 for other payloads", () => {
    const t = (shape: number[]): Payload => ({
      kind: 'tensor',
      tensor: fromNumbers('float32', shape, new Array<number>(shape.reduce((a, b) => a * b, 1)).fill(0)),
    });
    assert.equal(rowsOf(t([4, 3])), 4);
    assert.equal(rowsOf(t([])), 1);
    assert.equal(rowsOf({ kind: 'str', data: 'x' }), 1);
    assert.equal(rowsOf({ kind: 'none' }), 1);
  });

  it('round(r·n) successes (Seldon truncates: 0.29 of 100 rows would be 28); out of 0..1 is INVALID_ARGUMENT', () => {
    assert.deepEqual(outcomes('r', 0.29, 100), [29, 71]);
    assert.deepEqual(outcomes('r', 1, 1), [1, 0]);
    assert.deepEqual(outcomes('r', 0, 3), [0, 3]);
    for (const bad of [-0.1, 1.01, NaN]) {
      assert.throws(
        () => outcomes('r', bad, 1),
        (e: unknown) => e instanceof InferError && e.code === Code.INVALID_ARGUMENT && /outside 0\.\.1/.test(e.message),
      );
    }
  });
});

describe('learning routers as components', () => {
  const tensor = (rows: number): Payload => ({
    kind: 'tensor',
    tensor: fromNumbers('float32', [rows, 1], new Array<number>(rows).fill(1)),
  });
  const fb = (routing: number | undefined, reward: number, rows = 1): FeedbackInput => ({
    request: tensor(rows),
    response: tensor(rows),
    reward,
    ...(routing === undefined ? {} : { routing }),
  });
  const make = async (
    def: ComponentDefinition,
    params: Record<string, string | number | boolean>,
  ): Promise<Component> => {
    const c = await def.create(params, componentContext('ROUTER', 'r'));
    await c.load?.();
    return c;
  };

  it('refuse a branch they do not have, naming the node and n_branches', async () => {
    for (const def of [epsilonGreedy, thompsonSampling]) {
      const c = await make(def, { n_branches: 2, seed: 1 });
      for (const branch of [undefined, -1, 2]) {
        await assert.rejects(
          Promise.resolve().then(() => c.sendFeedback?.(fb(branch, 1), callContext())),
          (e: unknown) =>
            e instanceof InferError &&
            e.code === Code.INVALID_ARGUMENT &&
            /r: feedback for branch .* has n_branches 2/.test(e.message),
        );
      }
      await c.close?.();
    }
  });

  it('stateFile: written on close, resumed at start; a file of another router or branch count is refused', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bandit-'));
    try {
      const file = path.join(dir, 'state.json');
      const first = await make(thompsonSampling, { n_branches: 2, seed: 2, stateFile: file });
      await first.sendFeedback?.(fb(0, 0.75, 4), callContext()); // 3 successes, 1 failure
      await first.sendFeedback?.(fb(1, 0, 2), callContext());
      await first.close?.();
      const saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      assert.equal(saved.algorithm, 'thompson-sampling');
      assert.deepEqual(saved.successes, [3, 0]);
      assert.deepEqual(saved.tries, [4, 2]);

      const second = await make(thompsonSampling, { n_branches: 2, seed: 2, stateFile: file });
      await second.sendFeedback?.(fb(1, 1), callContext());
      await second.close?.();
      const resumed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      assert.deepEqual(resumed.successes, [3, 1]);
      assert.deepEqual(resumed.tries, [4, 3]);

      await assert.rejects(
        make(epsilonGreedy, { n_branches: 2, stateFile: file }),
        /cannot resume from stateFile .*holds thompson-sampling with n_branches 2, this node is epsilon-greedy/,
      );
      await assert.rejects(
        make(thompsonSampling, { n_branches: 3, stateFile: file }),
        /n_branches 2, this node is thompson-sampling with 3/,
      );
      writeFileSync(file, '{"algorithm":"thompson-sampling","n_branches":2,"successes":[5,0],"tries":[1,0]}');
      await assert.rejects(
        make(thompsonSampling, { n_branches: 2, stateFile: file }),
        /branch 0 has more successes \(5\) than tries/,
      );

      // the periodic snapshot: written within snapshotMs once the state changed
      const other = path.join(dir, 'periodic.json');
      const live = await make(epsilonGreedy, { n_branches: 2, seed: 1, stateFile: other, snapshotMs: 20 });
      await live.sendFeedback?.(fb(1, 1), callContext());
      const until = Date.now() + 5000;
      while (!existsSync(other) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual((JSON.parse(readFileSync(other, 'utf8')) as { tries: number[] }).tries, [0, 1]);
      await live.close?.();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
