import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SeldonClient } from '../../src/client/seldon-client';
import { emptyMeta, type InferMessage } from '../../src/message/message';
import { fromNumbers } from '../../src/tensor/tensor';
import { Prng } from '../../src/util/prng';
import { REPO, upGraph, type RunningGraph } from '../helpers/graph-process';

/**
 * The whole feedback loop through real processes (issue 21): `infergraph up` runs a learning router over two models
 * (the test component `identity`, hops over frames, a one-number request); a simulated client sends a prediction,
 * reads which branch answered from meta.routing, draws a reward — 1 with p = 0.8 for branch A (model-a), p = 0.3 for
 * B — from its own seeded PRNG and sends it back with Seldon SendFeedback. Calls are sequential, so the router's
 * draws and updates come in one order and the run is deterministic for its seeds.
 *
 * Checked for each router: the share of the last half of the traffic sent to A, and the cumulative pseudo-regret
 * R(T) = Δ·(requests sent to B), Δ = 0.8 - 0.3, against the textbook bound for its algorithm (stated below).
 * BANDIT_REQUESTS overrides T (default 1500: the test stays under a minute on a loaded 2-core machine) for a longer measurement.
 */

const T = Number(process.env.BANDIT_REQUESTS ?? 1500);
const P = [0.8, 0.3] as const;
const DELTA = P[0] - P[1];
const kl = (p: number, q: number): number => p * Math.log(p / q) + (1 - p) * Math.log((1 - p) / (1 - q));

/**
 * Thompson sampling, Beta-Bernoulli, two arms. Agrawal & Goyal (COLT 2012, "Analysis of Thompson Sampling for the
 * Multi-armed Bandit Problem", Theorem 1): E[R(T)] = O(ln T / Δ + 1 / Δ³); the test takes the constant as 1. TS is
 * asymptotically optimal (Kaufmann, Korda & Munos 2012), so the Lai-Robbins rate Δ·ln T / KL(μ_B, μ_A) is printed
 * next to it for scale.
 */
const thompsonBound = (t: number): number => Math.log(t) / DELTA + 1 / DELTA ** 3;

/**
 * Epsilon-greedy with a constant ε, two arms, Seldon's variant (explores only the branches other than the current
 * best). Regret is linear in T (Sutton & Barto 2018, §2.2–2.3; Auer, Cesa-Bianchi & Fischer 2002, §3): once the best
 * arm leads, the worse one gets an ε share of the traffic, ε·Δ regret per request. Before that, by Hoeffding, the
 * chance that B's running mean is above A's after each has n ≥ ε·t/2 draws is at most exp(-n·Δ²/2), whose sum over t
 * is ≤ 4/(ε·Δ²) mistaken requests. Bound: R(T) ≤ ε·Δ·T + 4/(ε·Δ).
 */
const epsilonBound = (t: number, eps: number): number => eps * DELTA * t + 4 / (eps * DELTA);

interface Run {
  toA: number;
  lateToA: number;
  late: number;
  regret: number;
  ms: number;
}

async function loop(client: SeldonClient, seed: number): Promise<Run> {
  const rng = new Prng(seed);
  const x = fromNumbers('float32', [1, 1], [1]);
  let toA = 0;
  let lateToA = 0;
  const t0 = performance.now();
  for (let t = 0; t < T; t++) {
    const request: InferMessage = { meta: emptyMeta(), payload: { kind: 'tensor', tensor: x } };
    const response = await client.predict(request);
    const branch = response.meta.routing.router;
    assert.ok(branch === 0 || branch === 1, `meta.routing.router is ${String(branch)}`);
    // the routing and the model that answered agree
    assert.equal(response.meta.tags.model, branch === 0 ? 'model-a' : 'model-b');
    if (branch === 0) {
      toA++;
      if (t >= T / 2) lateToA++;
    }
    const reward = rng.nextOpenUnit() < P[branch] ? 1 : 0;
    await client.sendFeedback({ request, response, reward });
  }
  return { toA, lateToA, late: T - Math.floor(T / 2), regret: DELTA * (T - toA), ms: performance.now() - t0 };
}

describe(`learning routers over two models through real processes: ${T} requests, rewards p=0.8 (A) / 0.3 (B)`, () => {
  const graphs = new Map<string, RunningGraph>();
  const runs = new Map<string, Run>();
  const algos = ['epsilon-greedy', 'thompson-sampling'] as const;

  before(async () => {
    // Both graphs at once and both loops at once: each loop is sequential (deterministic), they only share the CPU.
    await Promise.all(
      algos.map(async (a) =>
        graphs.set(a, await upGraph(path.join(REPO, `graphs/examples/bandit-${a}.yaml`), ['--rest-address', 'none'])),
      ),
    );
    await Promise.all(
      algos.map(async (a, i) => {
        const client = new SeldonClient((graphs.get(a) as RunningGraph).address);
        try {
          runs.set(a, await loop(client, 1000 + i));
        } finally {
          client.close();
        }
      }),
    );
    for (const [a, r] of runs) {
      console.log(
        `${a}: ${r.toA}/${T} requests to A; last half ${r.lateToA}/${r.late} = ${((100 * r.lateToA) / r.late).toFixed(1)} %; ` +
          `regret ${r.regret.toFixed(1)}; ${(r.ms / T).toFixed(2)} ms per predict+feedback`,
      );
    }
  });
  after(async () => {
    await Promise.all([...graphs.values()].map((g) => g.stop()));
  });

  it('epsilon-greedy (ε = 0.1): ≥ 85 % of the last half to A; regret ≤ ε·Δ·T + 4/(ε·Δ)', () => {
    const r = runs.get('epsilon-greedy') as Run;
    assert.ok(r.lateToA / r.late >= 0.85, `last half to A: ${r.lateToA}/${r.late}`);
    const bound = epsilonBound(T, 0.1);
    assert.ok(r.regret <= bound, `regret ${r.regret} > bound ${bound}`);
  });

  it('thompson-sampling (Beta(1,1) prior): ≥ 85 % of the last half to A; regret ≤ ln T/Δ + 1/Δ³', () => {
    const r = runs.get('thompson-sampling') as Run;
    assert.ok(r.lateToA / r.late >= 0.85, `last half to A: ${r.lateToA}/${r.late}`);
    const bound = thompsonBound(T);
    const laiRobbins = (DELTA * Math.log(T)) / kl(P[1], P[0]);
    assert.ok(r.regret <= bound, `regret ${r.regret} > bound ${bound} (Lai-Robbins rate ${laiRobbins.toFixed(1)})`);
  });
});
