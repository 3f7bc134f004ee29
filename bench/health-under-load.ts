/**
 * How fast a model node answers grpc.health.v1 Check while it is saturated: starts a graph with `infergraph up`
 * (real processes), keeps `--concurrency` requests in flight through the executor, and probes one model node's
 * health every `--every` ms on a persistent channel (as a Kubernetes gRPC probe would, minus the reconnects).
 *
 *   node dist/bench/health-under-load.js [--graph graphs/imagenet-ensemble.yaml] [--node resnet50] [-c 8]
 *     [--seconds 15]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultImage } from '../src/bench/input';
import { SeldonClient } from '../src/client/seldon-client';
import { emptyMeta } from '../src/message/message';
import { upGraph, REPO } from '../test/helpers/graph-process';
import { HealthProbe } from '../test/helpers/health-probe';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      graph: { type: 'string', default: 'graphs/imagenet-ensemble.yaml' },
      node: { type: 'string', default: 'resnet50' },
      concurrency: { type: 'string', short: 'c', default: '8' },
      seconds: { type: 'string', default: '15' },
      every: { type: 'string', default: '20' },
    },
  });
  const g = await upGraph(path.resolve(REPO, values.graph));
  const client = new SeldonClient(g.address);
  try {
    const node = g.procs.get(values.node);
    if (!node)
      throw new Error(`no node '${values.node}' in ${values.graph} (nodes: ${[...g.procs.keys()].join(', ')})`);
    const input = await defaultImage();
    const request = { meta: emptyMeta(), payload: input.payload };
    for (let i = 0; i < 3; i++) await client.predict(request); // warm-up
    let stop = false;
    let served = 0;
    let failed = 0;
    const loops = Array.from({ length: Number(values.concurrency) }, async () => {
      while (!stop) {
        await client.predict(request).then(
          () => served++,
          () => failed++,
        );
      }
    });
    const probe = new HealthProbe(node.address);
    const t0 = performance.now();
    const until = t0 + Number(values.seconds) * 1000;
    await probe.run(Number(values.every), () => performance.now() > until);
    const seconds = (performance.now() - t0) / 1000;
    stop = true;
    await Promise.all(loops);
    probe.close();
    const f = (x: number): string => x.toFixed(1);
    console.log(
      `${values.graph} c=${values.concurrency}: ${(served / seconds).toFixed(1)} req/s (${failed} failed); ` +
        `health of '${values.node}': ${probe.latenciesMs.length} checks, p50 ${f(probe.percentile(50))} ms, ` +
        `p99 ${f(probe.percentile(99))} ms, max ${f(Math.max(...probe.latenciesMs))} ms, ` +
        `${probe.errors.length} errors, all SERVING: ${probe.statuses.every((s) => s === 'SERVING')}`,
    );
  } finally {
    client.close();
    await g.stop();
  }
}

void main();
