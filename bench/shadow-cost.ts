/**
 * What a shadow predictor costs the caller (issue 19): the same live graph twice under `infergraph up`, once alone
 * and once with a shadow predictor that is slow (sleeps --shadow-ms per call) or failing (--shadow fail), and
 * alternating rounds of requests against each so that the machine's load drifts over both alike. Prints each
 * side's p50/p90/p99 and the with/without ratios, and what the shadow did (copies walked, dropped at
 * spec.shadowMaxInFlight) from the executor's metrics. Report ratios: they hold within one run on a loaded machine.
 *
 *   node dist/bench/shadow-cost.js [--rounds 20] [--block 50] [--concurrency 1] [--shadow slow|fail]
 *     [--shadow-ms 200] [--live-ms 0] [--transport grpc|rest]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SeldonClient } from '../src/client/seldon-client';
import { fromNumbers } from '../src/tensor/tensor';
import { percentile } from '../src/util/stats';
import { upGraph, type RunningGraph } from '../test/helpers/graph-process';
import { parseExposition, total } from '../test/helpers/prom-text';

const { values: a } = parseArgs({
  options: {
    rounds: { type: 'string', default: '20' },
    block: { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '1' },
    shadow: { type: 'string', default: 'slow' },
    'shadow-ms': { type: 'string', default: '200' },
    'live-ms': { type: 'string', default: '0' },
    transport: { type: 'string', default: 'grpc' },
  },
});
const ROUNDS = Number(a.rounds);
const BLOCK = Number(a.block);
const CONCURRENCY = Number(a.concurrency);
const SHADOW_MS = Number(a['shadow-ms']);
const LIVE_MS = Number(a['live-ms']);
if (a.shadow !== 'slow' && a.shadow !== 'fail') throw new Error(`--shadow slow|fail, got ${a.shadow}`);
if (a.transport !== 'grpc' && a.transport !== 'rest') throw new Error(`--transport grpc|rest, got ${a.transport}`);

const unit = (name: string, live: boolean): string => {
  if (!live)
    return a.shadow === 'fail'
      ? `{name: ${name}, type: MODEL, implementation: fail, parameters: {code: 13}}`
      : `{name: ${name}, type: MODEL, implementation: sleep, parameters: {ms: ${SHADOW_MS}}}`;
  return LIVE_MS > 0
    ? `{name: ${name}, type: MODEL, implementation: sleep, parameters: {ms: ${LIVE_MS}}}`
    : `{name: ${name}, type: MODEL, implementation: identity}`;
};

const manifest = (name: string, shadow: boolean): string => `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: ${name}}
spec:
  predictors:
    - {name: main, graph: ${unit(`${name}-model`, true)}}
${shadow ? `    - {name: shadow, shadow: true, graph: ${unit(`${name}-shadow`, false)}}\n` : ''}`;

interface Side {
  name: string;
  g: RunningGraph;
  rest: string;
  metrics: string;
  client: SeldonClient;
  ms: number[];
}

async function start(dir: string, name: string, shadow: boolean): Promise<Side> {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, manifest(name, shadow));
  const g = await upGraph(file);
  const line = (re: RegExp): string => {
    const m = g.stdout.map((l) => re.exec(l)).find((x) => x);
    if (!m) throw new Error(`no ${re} in up's output`);
    return m[1] as string;
  };
  return {
    name,
    g,
    rest: line(new RegExp(`^rest ${name}-executor at (\\S+)$`)),
    metrics: line(new RegExp(`^metrics ${name}-executor at (\\S+)$`)),
    client: new SeldonClient(g.address),
    ms: [],
  };
}

const payload = { kind: 'tensor' as const, tensor: fromNumbers('float32', [1, 4], [1, 2, 3, 4]) };
const BODY = JSON.stringify({ data: { ndarray: [[1, 2, 3, 4]] } });

async function once(s: Side): Promise<void> {
  const t0 = performance.now();
  if (a.transport === 'grpc') await s.client.predict(payload);
  else {
    const res = await fetch(`${s.rest}/api/v1.0/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: BODY,
    });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${s.name}: HTTP ${res.status}`);
  }
  s.ms.push(performance.now() - t0);
}

async function block(s: Side): Promise<void> {
  let left = BLOCK;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (left-- > 0) await once(s);
    }),
  );
}

const fmt = (x: number): string => x.toFixed(2).padStart(8);

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shadow-cost-'));
  const without = await start(dir, 'without', false);
  const withShadow = await start(dir, 'with', true);
  try {
    for (let i = 0; i < 20; i++) await Promise.all([once(without), once(withShadow)]); // warm both
    without.ms.length = 0;
    withShadow.ms.length = 0;
    for (let r = 0; r < ROUNDS; r++)
      for (const s of r % 2 ? [withShadow, without] : [without, withShadow]) await block(s);
    const stats = (s: Side): number[] => {
      const xs = [...s.ms].sort((x, y) => x - y);
      return [50, 90, 99].map((q) => percentile(xs, q));
    };
    const w = stats(without);
    const s = stats(withShadow);
    const m = parseExposition(await (await fetch(withShadow.metrics)).text());
    const shadowCalls = total(m, 'seldon_api_executor_server_requests_seconds_count', { predictor_name: 'shadow' });
    const dropped = total(m, 'infergraph_shadow_dropped_total', { predictor_name: 'shadow' });
    console.log(
      `shadow-cost: ${a.transport}, ${ROUNDS} alternating rounds of ${BLOCK} requests at concurrency ${CONCURRENCY}; ` +
        `live model ${LIVE_MS > 0 ? `sleep ${LIVE_MS} ms` : 'identity'}; shadow ${a.shadow === 'fail' ? 'fails every copy (INTERNAL)' : `sleeps ${SHADOW_MS} ms`}; ${os.cpus().length} CPUs, load ${os.loadavg()[0]?.toFixed(2)}`,
    );
    console.log(
      `${'side'.padEnd(16)}${'n'.padStart(6)}${'p50 ms'.padStart(9)}${'p90 ms'.padStart(9)}${'p99 ms'.padStart(9)}`,
    );
    console.log(`${'without shadow'.padEnd(16)}${String(without.ms.length).padStart(6)} ${w.map(fmt).join(' ')}`);
    console.log(`${'with shadow'.padEnd(16)}${String(withShadow.ms.length).padStart(6)} ${s.map(fmt).join(' ')}`);
    console.log(
      `ratio with/without: p50 ${(s[0]! / w[0]!).toFixed(3)}, p90 ${(s[1]! / w[1]!).toFixed(3)}, p99 ${(s[2]! / w[2]!).toFixed(3)}`,
    );
    console.log(
      `shadow: ${shadowCalls} copies the shadow had answered or failed by then, ${dropped} dropped at spec.shadowMaxInFlight`,
    );
  } finally {
    without.client.close();
    withShadow.client.close();
    await Promise.all([without.g.stop(), withShadow.g.stop()]);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
