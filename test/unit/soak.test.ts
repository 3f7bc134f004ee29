import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseDuration, soak } from '../../bench/soak';
import { plateau, type Point } from '../../src/soak/plateau';

const MB = 2 ** 20;
/** A series of `n` samples over `seconds`, value f(t). */
const series = (n: number, seconds: number, f: (t: number) => number): Point[] =>
  Array.from({ length: n }, (_, i) => {
    const t = (i * seconds) / (n - 1);
    return { t, v: f(t) };
  });

describe('soak: the plateau verdict', () => {
  it('a series that rises then levels off passes; one that keeps rising fails', () => {
    // Warm-up growth in the first two thirds does not count.
    const levels = series(120, 1800, (t) => (t < 600 ? 100 * MB + (t / 600) * 80 * MB : 180 * MB));
    assert.equal(plateau(levels).ok, true);
    assert.ok(Math.abs(plateau(levels).growth) < 0.001);
    // +10 %/10 min linear creep, as the issue saw.
    const creeps = series(120, 1800, (t) => 100 * MB * (1 + t / 6000));
    const v = plateau(creeps);
    assert.equal(v.ok, false);
    assert.ok(v.growth > 0.08 && v.growth < 0.12, `growth ${v.growth}`);
  });

  it('noise and one spike do not decide it: a line through the samples, not the end points', () => {
    let seed = 1;
    const noise = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 10 * MB;
    const noisy = series(90, 900, () => 150 * MB + noise());
    noisy[noisy.length - 1] = { t: 900, v: 190 * MB }; // a burst in the last sample: +27 % end to end
    const v = plateau(noisy);
    assert.equal(v.ok, true, `growth ${v.growth}`);
    // Growth just above and below the limit.
    assert.equal(plateau(series(30, 300, (t) => 100 * MB * (1 + (0.07 * 3 * t) / 300))).ok, false);
    assert.equal(plateau(series(30, 300, (t) => 100 * MB * (1 + (0.03 * 3 * t) / 300))).ok, true);
  });

  it('refuses too few samples', () => {
    assert.throws(() => plateau(series(2, 10, () => 1)), /at least 3 samples/);
    assert.throws(
      () =>
        plateau([
          { t: 0, v: 1 },
          { t: 1, v: 1 },
          { t: 100, v: 1 },
        ]),
      /last third holds 1 samples/,
    );
  });

  it('parses durations', () => {
    assert.equal(parseDuration('30m'), 1_800_000);
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('2'), 2000);
    assert.throws(() => parseDuration('soon'), /expected e\.g\. 30m/);
  });

  it('a short real soak samples every process of a running graph and judges each', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-soak-'));
    const manifest = path.join(dir, 'g.yaml');
    writeFileSync(
      manifest,
      `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: soak}
spec:
  graph:
    name: sum
    type: COMBINER
    implementation: sum-combiner
    children:
      - {name: a, type: MODEL, implementation: identity}
      - {name: b, type: MODEL, implementation: identity}
`,
    );
    try {
      const r = await soak({ manifest, durationMs: 8000, concurrency: 4, everyMs: 500, limit: 0.05 });
      assert.ok(r.requests > 100, `${r.requests} requests`);
      assert.equal(r.errors, 0);
      assert.deepEqual(Object.keys(r.verdicts).sort(), ['a', 'b', 'runner', 'soak-executor', 'sum']);
      for (const [name, s] of Object.entries(r.series)) {
        assert.ok(s.length >= 12, `${name}: ${s.length} samples`);
        assert.ok(
          s.every((p) => p.v > 10 * MB && p.v < 2048 * MB),
          `${name}: implausible RSS`,
        );
      }
      assert.equal(
        r.ok,
        Object.values(r.verdicts).every((v) => v.ok),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
