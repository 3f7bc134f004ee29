/**
 * Soak (issue 11): a graph under a closed loop of --concurrency clients for --duration, the RSS of every process
 * sampled every --every seconds; fails (exit 1) when any process's RSS grew by --limit or more over the last third
 * (src/soak/plateau.ts). Prints one line per sample and a table at the end; --json writes the series.
 *
 *   node dist/bench/soak.js [--graph graphs/imagenet-ensemble.yaml] [--duration 30m] [--concurrency 4] [--every 10]
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultImage, graphTakesImage } from '../src/bench/input';
import { sampleProcess } from '../src/bench/procstat';
import { ExecutorTarget } from '../src/bench/target';
import { loadManifestFile } from '../src/graph/manifest';
import { fromNumbers } from '../src/tensor/tensor';
import { plateau, type Plateau, type Point } from '../src/soak/plateau';
import { upGraph, REPO } from '../test/helpers/graph-process';

/** "30m", "90s", "2h" or plain seconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new Error(`--duration ${s}: expected e.g. 30m, 90s, 2h`);
  const n = Number(m[1]);
  return n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] as number);
}

export interface SoakResult {
  requests: number;
  errors: number;
  series: Record<string, Point[]>;
  verdicts: Record<string, Plateau>;
  ok: boolean;
}

export async function soak(o: {
  manifest: string;
  durationMs: number;
  concurrency: number;
  everyMs: number;
  limit: number;
  log?: (line: string) => void;
}): Promise<SoakResult> {
  const graph = loadManifestFile(o.manifest);
  const g = await upGraph(o.manifest);
  const payload = graphTakesImage(graph)
    ? (await defaultImage()).payload
    : { kind: 'tensor' as const, tensor: fromNumbers('float32', [1, 4], [1, 2, 3, 4]) };
  const target = new ExecutorTarget(g.address, payload, { timeoutMs: 60_000, timeline: false });
  const series: Record<string, Point[]> = {};
  let requests = 0;
  let errors = 0;
  const t0 = performance.now();
  const until = t0 + o.durationMs;
  const sample = (): void => {
    const t = (performance.now() - t0) / 1000;
    const parts: string[] = [];
    for (const p of [...g.procs.values(), { name: 'runner', pid: g.runner.pid ?? 0 }]) {
      const s = sampleProcess(p.pid);
      if (!s) continue;
      (series[p.name] ??= []).push({ t, v: s.rssBytes });
      parts.push(`${p.name} ${(s.rssBytes / 2 ** 20).toFixed(0)}`);
    }
    o.log?.(`t=${t.toFixed(0)}s requests ${requests} errors ${errors} RSS MB: ${parts.join(', ')}`);
  };
  const timer = setInterval(sample, o.everyMs);
  try {
    sample();
    await Promise.all(
      Array.from({ length: o.concurrency }, async () => {
        while (performance.now() < until) {
          const s = await target.send();
          requests++;
          if (!s.ok) errors++;
        }
      }),
    );
    sample();
  } finally {
    clearInterval(timer);
    await target.close();
    await g.stop();
  }
  const verdicts = Object.fromEntries(Object.entries(series).map(([k, v]) => [k, plateau(v, o.limit)]));
  return { requests, errors, series, verdicts, ok: Object.values(verdicts).every((v) => v.ok) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      graph: { type: 'string', default: 'graphs/imagenet-ensemble.yaml' },
      duration: { type: 'string', default: '30m' },
      concurrency: { type: 'string', short: 'c', default: '4' },
      every: { type: 'string', default: '10' },
      limit: { type: 'string', default: '0.05' },
      json: { type: 'string' },
    },
  });
  const r = await soak({
    manifest: path.resolve(REPO, values.graph),
    durationMs: parseDuration(values.duration),
    concurrency: Number(values.concurrency),
    everyMs: Number(values.every) * 1000,
    limit: Number(values.limit),
    log: (l) => console.log(l),
  });
  if (values.json) writeFileSync(values.json, JSON.stringify(r, null, 1));
  console.log(`${r.requests} requests, ${r.errors} errors; RSS over the last third (Theil-Sen line):`);
  for (const [name, v] of Object.entries(r.verdicts)) {
    const mb = (x: number): string => (x / 2 ** 20).toFixed(1);
    console.log(
      `  ${name.padEnd(28)} ${mb(v.from)} -> ${mb(v.to)} MB  ${(v.growth * 100).toFixed(2)} %  ${v.ok ? 'ok' : 'GROWING'}`,
    );
  }
  console.log(r.ok ? 'soak: every process levelled off' : 'soak: FAILED, a process kept growing');
  if (!r.ok) process.exitCode = 1;
}

if (require.main === module) void main();
