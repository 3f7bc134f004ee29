/**
 * Which single-process configuration of a graph is fastest: the in-process baseline of `infergraph bench`
 * (src/bench/inprocess.ts) built with each combination of onnx-model intra-op threads and models in parallel or
 * one at a time, all loaded at once and taking turns (a time slice each per round, at each concurrency level), so
 * machine drift hits all alike. Prints requests/s and mean latency per configuration and level; the best throughput
 * becomes BEST_BASELINE.
 *
 *   node dist/bench/baseline-configs.js [--graph graphs/imagenet-ensemble.yaml] [--threads 1,2] [--levels 1,8]
 *     [--slice 5] [--rounds 3]
 */
import { loadManifestFile } from '../src/graph/manifest';
import { defaultImage } from '../src/bench/input';
import { describeBaseline, InProcessTarget, type BaselineModels } from '../src/bench/inprocess';
import { createLogger } from '../src/util/logger';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

interface Tally {
  done: number;
  ms: number;
  seconds: number;
  errors: number;
}

/** Closed loop: `c` clients each keep one request in flight for `seconds`. */
async function slice(t: InProcessTarget, c: number, seconds: number, into: Tally): Promise<void> {
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (performance.now() < end) {
        const s = await t.send();
        if (!s.ok) into.errors++;
        else {
          into.done++;
          into.ms += s.ms;
        }
      }
    }),
  );
  into.seconds += (performance.now() - t0) / 1000;
}

async function main(): Promise<void> {
  const graph = loadManifestFile(arg('--graph', 'graphs/imagenet-ensemble.yaml'));
  const threads = arg('--threads', '1,2').split(',').map(Number);
  const levels = arg('--levels', '1,8').split(',').map(Number);
  const sliceS = Number(arg('--slice', '5'));
  const rounds = Number(arg('--rounds', '3'));
  const input = await defaultImage();
  const logger = createLogger('baseline-configs', 'warn');
  const configs: { label: string; target: InProcessTarget }[] = [];
  for (const onnxThreads of threads) {
    for (const models of ['parallel', 'serial'] as BaselineModels[]) {
      const target = await InProcessTarget.create(graph, input.payload, 60_000, { onnxThreads, models, logger });
      configs.push({ label: describeBaseline({ onnxThreads, models }), target });
    }
  }
  const tallies = configs.map(() => levels.map((): Tally => ({ done: 0, ms: 0, seconds: 0, errors: 0 })));
  for (const { target } of configs) await slice(target, 1, 1, { done: 0, ms: 0, seconds: 0, errors: 0 }); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (let l = 0; l < levels.length; l++) {
      for (let k = 0; k < configs.length; k++) {
        const j = (k + r) % configs.length;
        await slice(
          (configs[j] as (typeof configs)[number]).target,
          levels[l] as number,
          sliceS,
          tallies[j]?.[l] as Tally,
        );
      }
    }
  }
  console.log(
    `${arg('--graph', 'graphs/imagenet-ensemble.yaml')}, ${input.description}; ${rounds} rounds of ${sliceS} s per configuration and level`,
  );
  configs.forEach((c, k) => {
    const cells = levels.map((lv, l) => {
      const t = tallies[k]?.[l] as Tally;
      return `c=${lv}: ${(t.done / t.seconds).toFixed(2)} req/s, mean ${(t.ms / Math.max(1, t.done)).toFixed(1)} ms${t.errors ? `, ${t.errors} errors` : ''}`;
    });
    console.log(`  ${c.label.padEnd(48)} ${cells.join('   ')}`);
  });
  for (const c of configs) await c.target.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
