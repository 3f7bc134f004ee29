/**
 * How long a freshly started graph takes to reach its steady cost: `infergraph up` of a manifest, closed-loop load
 * from a gRPC client in this process (the first dev image, as `infergraph bench` sends it), and each process's CPU
 * per request (user + system from /proc) window by window. V8 compiles a function with TurboFan only after it has run
 * enough, and a graph's processes run each of their functions a few times per request, so at tens of requests per
 * second the executor and the light nodes take tens of seconds to get there (docs/performance.md, "JIT warm-up").
 * Linux only.
 *
 *   node dist/bench/warmup-curve.js [--graph graphs/imagenet-ensemble.yaml] [--concurrency 8] [--windows 6]
 *     [--window 10] [--timeline] [--idle 20 --windows-after 3] [-- up flags…]
 *
 * With --idle, the load stops for that long after the windows and resumes for --windows-after more: what a graph
 * that sat idle pays when traffic comes back.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { SeldonClient } from '../src/client/seldon-client';
import { defaultImage } from '../src/bench/input';
import { sampleProcess } from '../src/bench/procstat';
import { TIMELINE_HEADER } from '../src/telemetry/timeline';
import { REPO, upGraph } from '../test/helpers/graph-process';

const { values: a, positionals } = parseArgs({
  options: {
    graph: { type: 'string', default: path.join(REPO, 'graphs/imagenet-ensemble.yaml') },
    concurrency: { type: 'string', default: '8' },
    windows: { type: 'string', default: '6' },
    window: { type: 'string', default: '10' },
    // ask for the hop timeline on every request, as `infergraph bench` does
    timeline: { type: 'boolean', default: false },
    // then no requests for this many seconds, and --windows-after windows more
    idle: { type: 'string', default: '0' },
    'windows-after': { type: 'string', default: '3' },
  },
  allowPositionals: true,
});

const cpuSeconds = (pid: number): number => sampleProcess(pid)?.cpuSeconds ?? NaN;
const selfSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function main(): Promise<void> {
  const input = await defaultImage();
  const g = await upGraph(a.graph, positionals);
  const client = new SeldonClient(g.address);
  let stop = false;
  let paused = false;
  let resume: () => void = () => undefined;
  let resumed = Promise.resolve();
  let done = 0;
  let failed = 0;
  const metadata = (): grpc.Metadata => {
    const md = new grpc.Metadata();
    if (a.timeline) md.set(TIMELINE_HEADER, '1');
    return md;
  };
  const workers = Array.from({ length: Number(a.concurrency) }, async () => {
    while (!stop) {
      if (paused) {
        await resumed;
        continue;
      }
      try {
        await client.predict(input.payload, { metadata: metadata() });
        done++;
      } catch {
        failed++;
      }
    }
  });
  const procs = [...g.procs.values()];
  const measure = async (label: string): Promise<void> => {
    const before = procs.map((p) => cpuSeconds(p.pid));
    const self0 = selfSeconds();
    const n0 = done;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, Number(a.window) * 1000));
    const n = done - n0;
    const secs = (performance.now() - t0) / 1000;
    const per = (s: number): string => (n > 0 ? ((s * 1000) / n).toFixed(2) : '–');
    const cells = procs.map((p, i) => per(cpuSeconds(p.pid) - (before[i] as number)));
    console.log([label, ...cells, per(selfSeconds() - self0), (n / secs).toFixed(2)].join('\t'));
  };
  try {
    console.log(
      `${path.relative(process.cwd(), a.graph)} c=${a.concurrency}, ${input.description}; CPU ms per request by window`,
    );
    console.log(['window', ...procs.map((p) => p.name), 'client', 'req/s'].join('\t'));
    for (let w = 0; w < Number(a.windows); w++) await measure(String(w));
    if (Number(a.idle) > 0) {
      paused = true;
      resumed = new Promise<void>((r) => (resume = r));
      await new Promise((r) => setTimeout(r, Number(a.idle) * 1000));
      console.log(`(no requests for ${a.idle} s)`);
      paused = false;
      resume();
      for (let w = 0; w < Number(a['windows-after']); w++) await measure(`after ${w}`);
    }
    if (failed > 0) console.log(`${failed} requests failed`);
  } finally {
    stop = true;
    resume();
    await Promise.all(workers);
    client.close();
    await g.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
