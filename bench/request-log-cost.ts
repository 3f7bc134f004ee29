/**
 * What payload logging costs (issue 21), in one run so the machine's drift hits both sides alike.
 *
 * 1. The ImageNet ensemble twice under `infergraph up`: as written (logging off), and with `logger: {mode: all}` on
 *    the graph and on every node (Seldon's per-unit logging: every hop's tensors, the 602 KB input tensor included)
 *    sending to a fast local CloudEvents receiver (a child process answering 202). Rounds alternate: c=1 off, c=1 on,
 *    c=8 off, c=8 on, repeated; the median round per side and level is reported, with the ratio.
 * 2. The logger alone (this process, a PayloadLogger on a 2-node graph's spec) against the same receiver: events
 *    offered at rising rates for a few seconds each (a 4 KB tensor payload); what was sent per second and what was
 *    dropped. The highest offered rate with no drops is what it sustains.
 *
 * The receiver runs on the same machine: its CPU (reading every event) is part of the measured cost here.
 *
 *   node dist/bench/request-log-cost.js [--rounds 3] [--seconds 8] [--graph-only] [--logger-only]
 *     [--image ../shared/imagenet/dev/n01440764_tench.JPEG]
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parse, stringify } from 'yaml';
import { SeldonClient } from '../src/client/seldon-client';
import { loadManifestFile } from '../src/graph/manifest';
import { message, emptyMeta } from '../src/message/message';
import { PayloadLogger } from '../src/request-log/request-logger';
import { fromNumbers } from '../src/tensor/tensor';
import { createLogger } from '../src/util/logger';
import { REPO, SHARED, upGraph, type RunningGraph } from '../test/helpers/graph-process';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const ROUNDS = Number(arg('--rounds', '3'));
const SECONDS = Number(arg('--seconds', '8'));
const IMAGE = arg('--image', path.join(SHARED, 'imagenet/dev/n01440764_tench.JPEG'));
const GRAPH = path.join(REPO, 'graphs/imagenet-ensemble.yaml');

/** A CloudEvents sink that answers 202 at once and counts, in a process of its own. */
async function receiver(): Promise<{ url: string; stop: () => void }> {
  const code = `
    let n = 0;
    const s = require('node:http').createServer((req, res) => { req.resume(); req.on('end', () => { n++; res.writeHead(202).end(); }); });
    s.listen(0, '127.0.0.1', () => console.log('http://127.0.0.1:' + s.address().port + '/'));
    process.on('SIGTERM', () => process.exit(0));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
  return { url, stop: () => child.kill('SIGTERM') };
}

interface Obj {
  [k: string]: unknown;
}
function withLoggers(node: Obj, url: string): void {
  node.logger = { mode: 'all', url };
  for (const c of (node.children as Obj[] | undefined) ?? []) withLoggers(c, url);
}

async function closedLoop(
  g: RunningGraph,
  jpeg: Buffer,
  c: number,
  seconds: number,
): Promise<{ rps: number; ms: number }> {
  const clients = Array.from({ length: c }, () => new SeldonClient(g.address));
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  let done = 0;
  let ms = 0;
  await Promise.all(
    clients.map(async (cl) => {
      while (performance.now() < end) {
        const s = performance.now();
        await cl.predict({ kind: 'bin', data: jpeg }, { timeoutMs: 60_000 });
        ms += performance.now() - s;
        done++;
      }
    }),
  );
  clients.forEach((cl) => cl.close());
  return { rps: done / ((performance.now() - t0) / 1000), ms: ms / done };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function graphCost(url: string): Promise<void> {
  const doc = parse(readFileSync(GRAPH, 'utf8')) as { metadata: Obj; spec: Obj & { graph: Obj } };
  doc.metadata.name = 'imagenet-ensemble-logged';
  doc.spec.logger = { mode: 'all', url };
  // --graph-only: the graph's own logger (the request JPEG and the answer), not every hop's tensors.
  if (!process.argv.includes('--graph-only')) withLoggers(doc.spec.graph, url);
  const logged = path.join(path.dirname(GRAPH), '.request-log-bench.yaml');
  writeFileSync(logged, stringify(doc));
  const jpeg = readFileSync(IMAGE);
  let off: RunningGraph | undefined;
  let on: RunningGraph | undefined;
  try {
    off = await upGraph(GRAPH);
    on = await upGraph(logged);
    for (const g of [off, on]) await closedLoop(g, jpeg, 2, 3); // warm both
    const res: Record<string, { rps: number[]; ms: number[] }> = {};
    for (let r = 0; r < ROUNDS; r++)
      for (const c of [1, 8])
        for (const [side, g] of [
          ['off', off],
          ['on', on],
        ] as const) {
          const x = await closedLoop(g, jpeg, c, SECONDS);
          const k = `c=${c} ${side}`;
          (res[k] ??= { rps: [], ms: [] }).rps.push(x.rps);
          res[k].ms.push(x.ms);
          console.log(`round ${r + 1} ${k}: ${x.rps.toFixed(2)} req/s, mean ${x.ms.toFixed(1)} ms`);
        }
    const what = process.argv.includes('--graph-only') ? 'the graph only' : 'graph + every node';
    console.log(`\nImageNet ensemble, logging mode all (${what}) vs off, median of rounds:`);
    for (const c of [1, 8]) {
      const a = res[`c=${c} off`]!;
      const b = res[`c=${c} on`]!;
      console.log(
        `  c=${c}: off ${median(a.rps).toFixed(2)} req/s ${median(a.ms).toFixed(1)} ms | on ${median(b.rps).toFixed(2)} req/s ` +
          `${median(b.ms).toFixed(1)} ms | throughput ratio on/off ${(median(b.rps) / median(a.rps)).toFixed(3)}, ` +
          `latency ratio ${(median(b.ms) / median(a.ms)).toFixed(3)}`,
      );
    }
  } finally {
    await Promise.all([off?.stop(), on?.stop()]);
    rmSync(logged, { force: true });
  }
}

async function loggerRate(url: string): Promise<void> {
  const graph = loadManifestFile(path.join(REPO, 'graphs/test-ensemble.yaml'));
  graph.logger = { mode: 'all', url, maxPayloadBytes: 1 << 20 };
  const logger = createLogger('bench', 'error');
  const req = message(
    {
      kind: 'tensor',
      tensor: fromNumbers(
        'float32',
        [1, 1000],
        Array.from({ length: 1000 }, (_, i) => i / 1000),
      ),
    },
    emptyMeta('bench'),
  );
  console.log('\nThe logger alone (queue 1000, 4 senders, 4 KB tensor events, 2 events a request):');
  for (const rate of [250, 500, 1000, 2000, 4000, 8000]) {
    const pl = new PayloadLogger({ graph, logger });
    const seconds = 4;
    const t0 = performance.now();
    let offered = 0;
    // Offer `rate` events/s in 10 ms ticks (as requests would arrive), then let the queue drain.
    while (performance.now() - t0 < seconds * 1000) {
      const due = Math.floor(((performance.now() - t0) / 1000) * rate);
      while (offered < due) {
        pl.log({ door: { service: '/seldon.protos.Seldon/Predict' }, request: req, reply: req, ms: 1 });
        offered += 2;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await pl.close(10_000);
    const s = pl.stats()[0]!;
    const took = (performance.now() - t0) / 1000;
    console.log(
      `  offered ${rate}/s: sent ${s.sent} (${(s.sent / took).toFixed(0)}/s incl. drain), dropped ${s.dropped}, failed ${s.failed}`,
    );
  }
}

async function main(): Promise<void> {
  const rx = await receiver();
  try {
    if (!process.argv.includes('--logger-only')) await graphCost(rx.url);
    await loggerRate(rx.url);
  } finally {
    rx.stop();
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
