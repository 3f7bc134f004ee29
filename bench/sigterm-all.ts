/**
 * SIGTERM to every process of a graph at once, as `docker stop` of a compose set, a systemd stop or a machine
 * shutting down does (issue 22 item 1): starts `infergraph up`, answers one warm-up request, puts --inflight requests
 * in flight (--spacing ms apart), sends SIGTERM to the runner and every child in one go, and counts the outcomes and
 * the processes left.
 *
 *   node dist/bench/sigterm-all.js [--graph graphs/imagenet-ensemble.yaml] [--inflight 8] [--hop-transport frames]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultImage } from '../src/bench/input';
import { SeldonClient } from '../src/client/seldon-client';
import { codeName, toInferError } from '../src/errors';
import { emptyMeta, type InferMessage } from '../src/message/message';
import { alive, upGraph, REPO } from '../test/helpers/graph-process';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      graph: { type: 'string', default: 'graphs/imagenet-ensemble.yaml' },
      inflight: { type: 'string', default: '8' },
      spacing: { type: 'string', default: '20' },
      'hop-transport': { type: 'string' },
      rounds: { type: 'string', default: '1' },
    },
  });
  const args = values['hop-transport'] ? ['--hop-transport', values['hop-transport']] : [];
  const input = await defaultImage();
  const request: InferMessage = { meta: emptyMeta(), payload: input.payload };
  for (let round = 0; round < Number(values.rounds); round++) {
    const g = await upGraph(path.resolve(REPO, values.graph), args);
    const client = new SeldonClient(g.address, { maxMessageBytes: 64 * 2 ** 20 });
    try {
      await client.predict(request, { timeoutMs: 60_000 });
      const inFlight: Promise<string>[] = [];
      for (let i = 0; i < Number(values.inflight); i++) {
        inFlight.push(
          client.predict(request, { timeoutMs: 60_000 }).then(
            () => 'OK',
            (err: unknown) => {
              const e = toInferError(err);
              return `${codeName(e.code)} (${e.message.slice(0, 160)})`;
            },
          ),
        );
        await new Promise((r) => setTimeout(r, Number(values.spacing)));
      }
      const pids = [g.runner.pid as number, ...[...g.procs.values()].map((p) => p.pid)];
      const t0 = performance.now();
      for (const pid of pids) process.kill(pid, 'SIGTERM');
      const outcomes = await Promise.all(inFlight);
      const answeredMs = performance.now() - t0;
      while (pids.some(alive) && performance.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 20));
      const ok = outcomes.filter((o) => o === 'OK').length;
      const failed = [...new Set(outcomes.filter((o) => o !== 'OK'))];
      console.log(
        `SIGTERM to all ${pids.length} processes with ${outcomes.length} in flight: ${ok} of ${outcomes.length} OK` +
          (failed.length ? `; failures: ${failed.join(' | ')}` : '') +
          `; all answered ${answeredMs.toFixed(0)} ms after the signal; every process gone after ` +
          `${(performance.now() - t0).toFixed(0)} ms; processes left: ${pids.filter(alive).length}`,
      );
    } finally {
      client.close();
      await g.stop().catch(() => undefined);
    }
  }
}

if (require.main === module) void main();
