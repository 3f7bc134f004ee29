/**
 * Overload and drain figures of issue 11 on real processes (`infergraph up`): a closed loop of c=8 clients, then of
 * c=200 (no client deadline, the spec's 10 s deadline), each for --seconds; then 8 requests in flight at SIGTERM of
 * the runner. Reports successful throughput of both loops and their ratio, the slowest refusal (RESOURCE_EXHAUSTED),
 * the slowest answer of any kind, the status codes seen, and whether every process was gone after the drain.
 *
 *   node dist/bench/overload.js [--graph graphs/imagenet-ensemble.yaml] [--seconds 20] [--high 200]
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultImage } from '../src/bench/input';
import { ExecutorTarget } from '../src/bench/target';
import { SeldonClient } from '../src/client/seldon-client';
import { codeName, toInferError } from '../src/errors';
import { emptyMeta, type InferMessage } from '../src/message/message';
import { alive, upGraph, REPO } from '../test/helpers/graph-process';

interface LoopResult {
  concurrency: number;
  seconds: number;
  ok: number;
  codes: Record<string, number>;
  maxRefusalMs: number;
  maxAnswerMs: number;
  maxOkMs: number;
  refusalMs: number[];
}

/** `concurrency` clients, each sending its next request as soon as the previous one is answered. */
export async function closedLoop(clients: ExecutorTarget[], concurrency: number, ms: number): Promise<LoopResult> {
  const r: LoopResult = {
    concurrency,
    seconds: 0,
    ok: 0,
    codes: {},
    maxRefusalMs: 0,
    maxAnswerMs: 0,
    maxOkMs: 0,
    refusalMs: [],
  };
  const t0 = performance.now();
  const until = t0 + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, i) => {
      const client = clients[i % clients.length] as ExecutorTarget;
      while (performance.now() < until) {
        const sample = await client.send();
        const code = sample.ok ? 'OK' : ((sample.error ?? 'UNKNOWN').split(':')[0] as string);
        if (sample.ok) r.ok++;
        const took = sample.ms;
        r.codes[code] = (r.codes[code] ?? 0) + 1;
        r.maxAnswerMs = Math.max(r.maxAnswerMs, took);
        if (code === 'OK') r.maxOkMs = Math.max(r.maxOkMs, took);
        if (code === 'RESOURCE_EXHAUSTED') {
          r.maxRefusalMs = Math.max(r.maxRefusalMs, took);
          r.refusalMs.push(took);
        }
      }
    }),
  );
  r.seconds = (performance.now() - t0) / 1000;
  return r;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      graph: { type: 'string', default: 'graphs/imagenet-ensemble.yaml' },
      seconds: { type: 'string', default: '20' },
      high: { type: 'string', default: '200' },
      low: { type: 'string', default: '8' },
      channels: { type: 'string', default: '8' },
      // The load generator shares the two cores with the graph; real clients run elsewhere. --nice 10 lowers the
      // bench's own priority (after the graph is started) so a refusal storm on this machine takes less from it.
      nice: { type: 'string', default: '0' },
    },
  });
  const g = await upGraph(path.resolve(REPO, values.graph));
  if (Number(values.nice) > 0) os.setPriority(0, Number(values.nice));
  const input = await defaultImage();
  // Encoded once, as `infergraph bench` does: the load generator shares the two cores with the graph.
  const target = (): ExecutorTarget =>
    new ExecutorTarget(g.address, input.payload, { timeoutMs: 60_000, timeline: false });
  const clients = Array.from({ length: Number(values.channels) }, target);
  const request: InferMessage = { meta: emptyMeta(), payload: input.payload };
  const drainClient = new SeldonClient(g.address);
  const ms = Number(values.seconds) * 1000;
  const pct = (xs: number[], p: number): number =>
    xs.length
      ? ([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] as number)
      : 0;
  const line = (r: LoopResult): string =>
    `c=${r.concurrency}: ${(r.ok / r.seconds).toFixed(2)} ok/s over ${r.seconds.toFixed(1)} s; ` +
    `codes ${JSON.stringify(r.codes)}; slowest OK ${r.maxOkMs.toFixed(0)} ms; refusals p50 ` +
    `${pct(r.refusalMs, 50).toFixed(1)} / p99 ${pct(r.refusalMs, 99).toFixed(1)} / max ${r.maxRefusalMs.toFixed(1)} ms, ` +
    `${r.refusalMs.filter((x) => x <= 10).length} of ${r.refusalMs.length} within 10 ms; ` +
    `slowest answer ${r.maxAnswerMs.toFixed(0)} ms`;
  try {
    await closedLoop(clients, Number(values.low), 3000); // warm-up
    const low = await closedLoop(clients, Number(values.low), ms);
    console.log(line(low));
    const high = await closedLoop(clients, Number(values.high), ms);
    console.log(line(high));
    const ratio = high.ok / high.seconds / (low.ok / low.seconds);
    console.log(`goodput ratio c=${values.high} / c=${values.low}: ${ratio.toFixed(3)} (target >= 0.9)`);

    // Drain: 8 requests in flight when the runner gets SIGTERM.
    const pids = [...g.procs.values()].map((p) => p.pid);
    const inFlight = Array.from({ length: 8 }, () =>
      drainClient.predict(request, { timeoutMs: 60_000 }).then(
        () => 'OK',
        (err: unknown) => codeName(toInferError(err).code),
      ),
    );
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    await g.stop();
    const outcomes = await Promise.all(inFlight);
    const left = pids.filter(alive);
    console.log(
      `drain: ${outcomes.filter((o) => o === 'OK').length} of 8 in-flight requests OK (${outcomes.join(', ')}); ` +
        `stopped in ${(performance.now() - t0).toFixed(0)} ms; processes left: ${left.length}`,
    );
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    drainClient.close();
    await g.stop().catch(() => undefined);
  }
}

if (require.main === module) void main();
