/**
 * Overload and drain figures of issue 11 on real processes (`infergraph up`): a closed loop of c=8 clients, then of
 * c=200 (no client deadline, the spec's 10 s deadline), each for --seconds; then 8 requests in flight at SIGTERM of
 * the runner. Reports successful throughput of both loops and their ratio, the refusal (RESOURCE_EXHAUSTED) times,
 * the slowest answer of any kind, the status codes seen, and whether every process was gone after the drain.
 *
 * The c=200 loop runs twice: with clients that wait the executor's pushback (grpc-retry-pushback-ms) after a refusal
 * and mark the next attempt as a retry (grpc-previous-rpc-attempts), as a gRPC client with a retry policy does, and
 * with clients that come straight back (--pushback honour,ignore), as a first script does. Each loop also reports the
 * executor's CPU per refusal: its CPU in the loop (from /proc) less the CPU per answer of the c=8 loop times the
 * answers, over the refusals; and the load generator's own CPU. Issue 22's targets are printed with the figures.
 *
 *   node dist/bench/overload.js [--graph graphs/imagenet-ensemble.yaml] [--seconds 20] [--high 200]
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultImage } from '../src/bench/input';
import { waitPushback } from '../src/bench/load';
import { sampleProcess } from '../src/bench/procstat';
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
  /** Refusals sent after the loop's first second, when the crowd's first wave (all clients at once) is over. */
  laterRefusalMs: number[];
  /** Time the clients spent waiting out pushbacks, summed over clients, s. */
  pushbackS: number;
  /** Clients that got at least one answer: how evenly the admitted slots went round. */
  servedClients: number;
  /**
   * Answers, and clients answered at least once, before the loop's time was up: the loop then waits for the calls
   * still out (held refusals, answers), which would otherwise stretch the time the goodput is taken over.
   */
  okInTime: number;
  servedInTime: number;
  /** CPU of the executor process and of this load generator during the loop, ms. */
  executorCpuMs: number;
  clientCpuMs: number;
}

/** After a refusal, a client either waits the server's pushback before its next request or comes straight back. */
export type PushbackMode = 'honour' | 'ignore';

/** `concurrency` clients, each sending its next request as soon as the previous one is answered. */
export async function closedLoop(
  clients: ExecutorTarget[],
  concurrency: number,
  ms: number,
  pushback: PushbackMode = 'honour',
  executorPid?: number,
): Promise<LoopResult> {
  const r: LoopResult = {
    concurrency,
    seconds: 0,
    ok: 0,
    codes: {},
    maxRefusalMs: 0,
    maxAnswerMs: 0,
    maxOkMs: 0,
    refusalMs: [],
    laterRefusalMs: [],
    pushbackS: 0,
    servedClients: 0,
    okInTime: 0,
    servedInTime: 0,
    executorCpuMs: 0,
    clientCpuMs: 0,
  };
  const cpu0 = executorPid === undefined ? NaN : (sampleProcess(executorPid)?.cpuSeconds ?? NaN);
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  const until = t0 + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, i) => {
      const client = clients[i % clients.length] as ExecutorTarget;
      let served = false;
      let servedInTime = false;
      let refusedBefore = 0;
      while (performance.now() < until) {
        const sentAt = performance.now();
        const sample = await client.send(pushback === 'honour' ? refusedBefore : 0);
        const code = sample.ok ? 'OK' : ((sample.error ?? 'UNKNOWN').split(':')[0] as string);
        if (sample.ok) {
          r.ok++;
          if (!served) r.servedClients++;
          served = true;
          if (performance.now() <= until) {
            r.okInTime++;
            if (!servedInTime) r.servedInTime++;
            servedInTime = true;
          }
        }
        const took = sample.ms;
        r.codes[code] = (r.codes[code] ?? 0) + 1;
        r.maxAnswerMs = Math.max(r.maxAnswerMs, took);
        if (code === 'OK') r.maxOkMs = Math.max(r.maxOkMs, took);
        if (code === 'RESOURCE_EXHAUSTED') {
          r.maxRefusalMs = Math.max(r.maxRefusalMs, took);
          r.refusalMs.push(took);
          if (sentAt - t0 > 1000) r.laterRefusalMs.push(took);
        }
        refusedBefore = code === 'RESOURCE_EXHAUSTED' ? refusedBefore + 1 : 0;
        if (pushback === 'honour') r.pushbackS += (await waitPushback(sample, until)) / 1000;
      }
    }),
  );
  r.seconds = (performance.now() - t0) / 1000;
  if (executorPid !== undefined) r.executorCpuMs = ((sampleProcess(executorPid)?.cpuSeconds ?? NaN) - cpu0) * 1000;
  const c = process.cpuUsage(client0);
  r.clientCpuMs = (c.user + c.system) / 1000;
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
      pushback: { type: 'string', default: 'honour,ignore' },
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
    `${r.refusalMs.filter((x) => x <= 10).length} of ${r.refusalMs.length} within 10 ms; after the first second p50 ` +
    `${pct(r.laterRefusalMs, 50).toFixed(1)} / p99 ${pct(r.laterRefusalMs, 99).toFixed(1)} ms, ` +
    `${r.laterRefusalMs.filter((x) => x <= 10).length} of ${r.laterRefusalMs.length} within 10 ms; ` +
    `slowest answer ${r.maxAnswerMs.toFixed(0)} ms; ${(r.refusalMs.length / r.seconds).toFixed(0)} refusals/s; ` +
    `${r.servedClients} of ${r.concurrency} clients answered at least once` +
    (r.pushbackS > 0
      ? `, clients waited out pushbacks ${((100 * r.pushbackS) / r.seconds / r.concurrency).toFixed(0)} % of the time`
      : '');
  try {
    const executorPid = [...g.procs.values()].find((p) => p.role === 'executor')?.pid;
    await closedLoop(clients, Number(values.low), 3000); // warm-up
    const low = await closedLoop(clients, Number(values.low), ms, 'honour', executorPid);
    console.log(line(low));
    const cpuPerOk = low.executorCpuMs / Math.max(1, low.ok);
    console.log(
      `c=${low.concurrency} CPU per answer: executor ${cpuPerOk.toFixed(1)} ms, load generator ` +
        `${(low.clientCpuMs / Math.max(1, low.ok)).toFixed(1)} ms`,
    );
    for (const mode of values.pushback.split(',') as PushbackMode[]) {
      if (mode !== 'honour' && mode !== 'ignore') throw new Error(`--pushback: honour or ignore, got ${String(mode)}`);
      const high = await closedLoop(clients, Number(values.high), ms, mode, executorPid);
      console.log(`${mode === 'honour' ? 'clients wait the pushback' : 'clients ignore the pushback'}: ${line(high)}`);
      const ratio = high.okInTime / (low.okInTime || 1);
      const refusals = Math.max(1, high.refusalMs.length);
      const perRefusal = (high.executorCpuMs - cpuPerOk * high.ok) / refusals;
      const lowClientPerOk = low.clientCpuMs / Math.max(1, low.ok);
      const clientPerRefusal = (high.clientCpuMs - lowClientPerOk * high.ok) / refusals;
      console.log(
        `${mode}: goodput ratio c=${values.high} / c=${values.low} ${ratio.toFixed(3)} (target >= ` +
          `${mode === 'honour' ? '0.9' : '0.8'}; answers within ${values.seconds} s: ${high.okInTime} vs ` +
          `${low.okInTime}); ${high.servedInTime} of ${high.concurrency} clients answered within ${values.seconds} s ` +
          `(target >= 150 of 200); refusals after the first second p50 ${pct(high.laterRefusalMs, 50).toFixed(1)} / ` +
          `p90 ${pct(high.laterRefusalMs, 90).toFixed(1)} ms (target p90 <= 20); CPU per refusal: executor ` +
          `${(perRefusal * 1000).toFixed(0)} µs, load generator ${(clientPerRefusal * 1000).toFixed(0)} µs ` +
          `(${high.refusalMs.length} refusals, executor CPU ${(high.executorCpuMs / high.seconds / 10).toFixed(0)} % ` +
          `of a core)`,
      );
    }

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
