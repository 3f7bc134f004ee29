/**
 * The c=1 experiment of issue 23 with `runtime.placement: executor`: the ImageNet ensemble as five processes against
 * the same graph with the light nodes (ensemble combiner, top1 output transformer) inside the executor. Runs
 * alternate (A B A B …), each a full `infergraph bench` (its own warm-up) of one arm, so the machine's drift hits
 * both alike; the summary pools each arm's runs.
 *
 *   node dist/bench/placement.js [--graph graphs/imagenet-ensemble.yaml] [--place ensemble,top1] [--rounds 3]
 *     [--concurrency 1,8] [--duration 10] [--python /path/to/python3]
 *
 * The variant manifest is written beside the original (so its relative model paths hold) and removed afterwards.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml, stringify } from 'yaml';
import type { BenchReport } from '../src/bench/report';
import { REPO } from '../test/helpers/graph-process';

interface RawNode {
  name: string;
  runtime?: Record<string, unknown>;
  children?: RawNode[];
}

const { values } = parseArgs({
  options: {
    graph: { type: 'string', default: path.join(REPO, 'graphs/imagenet-ensemble.yaml') },
    place: { type: 'string', default: 'ensemble,top1' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1,8' },
    duration: { type: 'string', default: '10' },
    python: { type: 'string' },
  },
});
const place = values.place.split(',');
const original = path.resolve(values.graph);
const doc = parseYaml(readFileSync(original, 'utf8')) as { spec: { graph: RawNode } };
const seen: string[] = [];
const visit = (n: RawNode): void => {
  if (place.includes(n.name)) {
    n.runtime = { ...n.runtime, placement: 'executor' };
    seen.push(n.name);
  }
  n.children?.forEach(visit);
};
visit(doc.spec.graph);
const missing = place.filter((p) => !seen.includes(p));
if (missing.length) throw new Error(`--place: no node ${missing.join(', ')} in ${original}`);
const variant = path.join(path.dirname(original), `.${path.basename(original, '.yaml')}.placed.yaml`);
writeFileSync(variant, stringify(doc));

const cli = path.join(REPO, 'dist/src/cli/main.js');
const arms = [
  { name: 'five processes', file: original },
  { name: `${place.join(' + ')} in the executor`, file: variant },
];
const reports: Map<string, BenchReport[]> = new Map(arms.map((a) => [a.name, []]));
const out = path.join(os.tmpdir(), `infergraph-placement-${process.pid}`);
try {
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const a of r % 2 ? [...arms].reverse() : arms) {
      const dir = path.join(out, `${r}-${a === arms[0] ? 'a' : 'b'}`);
      const args = [cli, 'bench', '--graph', a.file, '--concurrency', values.concurrency];
      args.push('--duration', values.duration, '--warmup', '3', '--out', dir, '--no-progress');
      // The single-process arms ride along with the first arm only (they do not change between the two).
      if (a !== arms[0]) args.push('--no-baseline');
      else if (values.python) args.push('--python', values.python);
      process.stderr.write(`round ${r + 1}: ${a.name}\n`);
      execFileSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
      reports.get(a.name)?.push(JSON.parse(readFileSync(path.join(dir, 'bench-report.json'), 'utf8')) as BenchReport);
    }
  }
} finally {
  rmSync(variant, { force: true });
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const f = (x: number | undefined, d = 2): string => (x === undefined ? '–' : x.toFixed(d));
console.log(
  `load average at the end: ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
console.log('| arm | c | req/s | mean ms | p50 ms | p99 ms | overhead mean ms |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
const row = (name: string, levelsOf: (r: BenchReport) => BenchReport['levels'], rs: BenchReport[]): void => {
  const cs = [...new Set(rs.flatMap((r) => levelsOf(r).map((l) => l.concurrency)))];
  for (const c of cs) {
    const ls = rs.flatMap((r) => levelsOf(r).filter((l) => l.concurrency === c));
    if (!ls.length) continue;
    const o = ls.map((l) => l.overhead?.mean).filter((x): x is number => x !== undefined);
    console.log(
      `| ${name} | ${c} | ${f(mean(ls.map((l) => l.throughput)))} | ${f(mean(ls.map((l) => l.latency.mean)))} | ${f(mean(ls.map((l) => l.latency.p50)))} | ${f(mean(ls.map((l) => l.latency.p99)))} | ${o.length ? f(mean(o)) : '–'} |`,
    );
  }
};
for (const a of arms) row(a.name, (r) => r.levels, reports.get(a.name) ?? []);
const first = reports.get(arms[0]?.name as string) ?? [];
row('in-process (Node)', (r) => r.baseline?.levels ?? [], first);
row('python', (r) => r.python?.levels ?? [], first);
console.log(`(${values.rounds} runs per arm, alternating; reports under ${out})`);
