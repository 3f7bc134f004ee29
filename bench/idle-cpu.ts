/**
 * What a graph costs doing nothing: `infergraph up` of a manifest, then each process's CPU time (user + system, from
 * /proc/<pid>/stat) over --seconds with no request sent, as % of one core. An idle graph's CPU is taken from the
 * requests of a busy one too (timers that wake every process, whatever the load), so it counts against c=1 latency
 * and throughput on a small machine. Linux only.
 *
 *   node dist/bench/idle-cpu.js [--graph graphs/imagenet-ensemble.yaml] [--seconds 20] [--settle 5] [-- up flags…]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO, upGraph } from '../test/helpers/graph-process';

const { values: a, positionals } = parseArgs({
  options: {
    graph: { type: 'string', default: path.join(REPO, 'graphs/imagenet-ensemble.yaml') },
    seconds: { type: 'string', default: '20' },
    settle: { type: 'string', default: '5' },
  },
  allowPositionals: true,
});
const SECONDS = Number(a.seconds);
const TICKS_PER_S = 100; // USER_HZ on Linux

/** utime + stime of a process, in clock ticks. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

async function main(): Promise<void> {
  const g = await upGraph(a.graph, positionals);
  try {
    await new Promise((r) => setTimeout(r, Number(a.settle) * 1000));
    const procs = [...g.procs.values()];
    const before = procs.map((p) => cpuTicks(p.pid));
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const after = procs.map((p) => cpuTicks(p.pid));
    let total = 0;
    console.log(`idle CPU over ${SECONDS} s, ${path.relative(process.cwd(), a.graph)} ${positionals.join(' ')}`);
    procs.forEach((p, i) => {
      const pct = ((after[i]! - before[i]!) / TICKS_PER_S / SECONDS) * 100;
      total += pct;
      console.log(`  ${p.role.padEnd(8)} ${p.name.padEnd(28)} ${pct.toFixed(2)} % of a core`);
    });
    console.log(`  all processes                         ${total.toFixed(2)} % of a core`);
  } finally {
    await g.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
