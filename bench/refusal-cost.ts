/**
 * What one admission refusal costs (issue 22): a graph whose one slot is held by a slow call, then a burst of
 * requests carrying the ImageNet ensemble's JPEG (the bench's default image), from closed-loop clients that come
 * straight back after each refusal. Reports the executor's CPU per refusal (utime + stime of its process, from
 * /proc), the load generator's own CPU per refusal (process.cpuUsage), the refusal rate and the refusal times.
 *
 *   node dist/bench/refusal-cost.js [--refusals 3000] [--clients 32] [--channels 4]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultImage } from '../src/bench/input';
import { sampleProcess } from '../src/bench/procstat';
import { ExecutorTarget } from '../src/bench/target';
import { upGraph } from '../test/helpers/graph-process';

const MANIFEST = `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: refusal-cost}
spec:
  deadlineMs: 60000
  maxInFlight: 1
  drainTimeoutMs: 500
  graph: {name: slow, type: MODEL, implementation: sleep, parameters: {ms: 60000}}
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      refusals: { type: 'string', default: '3000' },
      clients: { type: 'string', default: '32' },
      channels: { type: 'string', default: '4' },
    },
  });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'refusal-cost-'));
  writeFileSync(path.join(dir, 'g.yaml'), MANIFEST);
  const g = await upGraph(path.join(dir, 'g.yaml'));
  const input = await defaultImage();
  const channels = Array.from(
    { length: Number(values.channels) },
    () => new ExecutorTarget(g.address, input.payload, { timeoutMs: 60_000, timeline: false }),
  );
  const executor = [...g.procs.values()].find((p) => p.role === 'executor');
  const cpuMs = (pid: number): number => (sampleProcess(pid)?.cpuSeconds ?? NaN) * 1000;
  try {
    if (!executor) throw new Error('no executor pid in the runner output');
    const hold = (channels[0] as ExecutorTarget).send(); // takes the one slot for the whole burst
    await new Promise((r) => setTimeout(r, 500));
    const burst = async (n: number): Promise<number[]> => {
      const times: number[] = [];
      let left = n;
      await Promise.all(
        Array.from({ length: Number(values.clients) }, async (_, i) => {
          const c = channels[i % channels.length] as ExecutorTarget;
          while (left-- > 0) {
            const s = await c.send();
            if (s.ok) throw new Error('a burst request was answered: the slot was not held');
            times.push(s.ms);
          }
        }),
      );
      return times;
    };
    await burst(300); // warm-up: JIT, connections
    const n = Number(values.refusals);
    const server0 = cpuMs(executor.pid);
    const client0 = process.cpuUsage();
    const t0 = performance.now();
    const times = await burst(n);
    const wall = performance.now() - t0;
    const server = cpuMs(executor.pid) - server0;
    const c = process.cpuUsage(client0);
    const client = (c.user + c.system) / 1000;
    times.sort((a, b) => a - b);
    const pct = (p: number): number => times[Math.min(times.length - 1, Math.floor((times.length * p) / 100))] ?? 0;
    console.log(
      `${n} refusals of ${input.description} from ${values.clients} clients on ${values.channels} channels in ` +
        `${(wall / 1000).toFixed(1)} s (${((n * 1000) / wall).toFixed(0)}/s): executor CPU ` +
        `${((server * 1000) / n).toFixed(0)} µs per refusal, client CPU ${((client * 1000) / n).toFixed(0)} µs per ` +
        `refusal; refusal p50 ${pct(50).toFixed(1)} / p90 ${pct(90).toFixed(1)} / p99 ${pct(99).toFixed(1)} ms`,
    );
    void hold;
  } finally {
    await Promise.all(channels.map((c) => c.close()));
    await g.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) void main();
