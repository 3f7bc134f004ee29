import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { SeldonClient } from '../../src/client/seldon-client';
import { codeName, toInferError } from '../../src/errors';
import type { Payload } from '../../src/message/message';
import { fromNumbers, toNumbers } from '../../src/tensor/tensor';
import { alive, REPO, upGraph, type RunningGraph } from '../helpers/graph-process';

/**
 * Issue 22 item 1 with real processes: SIGTERM to every process of a graph at once (docker stop of a compose set,
 * a systemd stop, a node shutdown) must cost none of the requests in flight, over frame hops and gRPC hops; and a
 * node replica that drains alone must cost no request.
 */

const vec = (xs: number[]): Payload => ({ kind: 'tensor', tensor: fromNumbers('float32', [1, xs.length], xs) });

type Outcome = { code: string; message: string; value?: number };
const outcome = async (p: Promise<{ payload: Payload }>): Promise<Outcome> => {
  try {
    const r = await p;
    const value = r.payload.kind === 'tensor' ? toNumbers(r.payload.tensor)[0] : undefined;
    return { code: 'OK', message: '', ...(value === undefined ? {} : { value }) };
  } catch (err) {
    const e = toInferError(err);
    return { code: codeName(e.code), message: e.message };
  }
};

interface Ensemble {
  spec: { drainTimeoutMs?: number; graph: EnsembleNode };
  metadata: { name: string };
}
interface EnsembleNode {
  name: string;
  implementation: string;
  parameters?: Record<string, unknown>;
  runtime?: Record<string, unknown>;
  children?: EnsembleNode[];
}
const walk = (n: EnsembleNode): EnsembleNode[] => [n, ...(n.children ?? []).flatMap(walk)];

/**
 * graphs/test-ensemble.yaml with its two models made slow (`sleep`, which answers its input): a request spends most
 * of its time there, and after them still needs the combiner and top1, which are being stopped too.
 * top1(preprocess(x)) = 2x + 1.
 */
function slowEnsemble(dir: string, modelMs: number, edit: (g: Ensemble) => void = () => undefined): string {
  const g = parse(readFileSync(path.join(REPO, 'graphs/test-ensemble.yaml'), 'utf8')) as Ensemble;
  for (const n of walk(g.spec.graph)) {
    if (n.name === 'model-a' || n.name === 'model-b') {
      n.implementation = 'sleep';
      n.parameters = { ms: modelMs };
    }
  }
  edit(g);
  const file = path.join(dir, `${g.metadata.name}.yaml`);
  writeFileSync(file, stringify(g));
  return file;
}

/** Every process of the graph, the runner included, gets SIGTERM in one go, as from outside. */
function signalAll(g: RunningGraph): number[] {
  const pids = [g.runner.pid as number, ...[...g.procs.values()].map((p) => p.pid)];
  for (const pid of pids) process.kill(pid, 'SIGTERM');
  return pids;
}

async function allGone(pids: number[], ms: number): Promise<number[]> {
  const until = Date.now() + ms;
  while (pids.some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
  return pids.filter(alive);
}

describe('SIGTERM to every process at once (issue 22)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-drain-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const hops of ['frames', 'grpc'] as const) {
    it(`answers every request in flight OK over ${hops} hops, then every process exits`, async () => {
      const manifest = slowEnsemble(dir, 500);
      const g = await upGraph(manifest, ['--hop-transport', hops]);
      const client = new SeldonClient(g.address);
      try {
        assert.deepEqual(await outcome(client.predict(vec([1]))), { code: 'OK', message: '', value: 3 });
        // 8 requests, 40 ms apart: at the signal they are at different points of the models' 500 ms.
        const inFlight: Promise<Outcome>[] = [];
        for (let i = 0; i < 8; i++) {
          inFlight.push(outcome(client.predict(vec([i + 10]), { timeoutMs: 20_000 })));
          await new Promise((r) => setTimeout(r, 40));
        }
        const pids = signalAll(g);
        const outs = await Promise.all(inFlight);
        assert.deepEqual(
          outs,
          outs.map((_, i) => ({ code: 'OK', message: '', value: 2 * (i + 10) + 1 })),
          JSON.stringify(outs),
        );
        assert.deepEqual(await allGone(pids, 15_000), [], 'processes left after the drain');
      } finally {
        client.close();
        await g.stop().catch(() => undefined);
      }
    });
  }

  const alone = [
    { what: 'a node replica drained alone (replicas: 2, gRPC hops)', replicas: 2, victim: 'model-a#0' },
    {
      what: 'a single node drained alone (frames hops, its calls wait for its successor)',
      replicas: 1,
      victim: 'model-a',
    },
  ];
  for (const { what, replicas, victim: name } of alone) {
    it(`${what} costs no request, and it is replaced`, async () => {
      const manifest = slowEnsemble(dir, 100, (g) => {
        g.metadata.name = `drain-alone-${replicas}`;
        g.spec.drainTimeoutMs = 1000;
        // Long enough for the calls that wait for a restarted node on a loaded machine.
        (g.spec as { deadlineMs?: number }).deadlineMs = 30_000;
        for (const n of walk(g.spec.graph)) if (n.name === 'model-a') n.runtime = { replicas };
      });
      const g = await upGraph(manifest);
      const client = new SeldonClient(g.address);
      try {
        const victim = g.procs.get(name);
        assert.ok(victim, `no process ${name} among ${[...g.procs.keys()].join(', ')}`);
        const outs: Outcome[] = [];
        let stop = false;
        const loop = async (k: number): Promise<void> => {
          for (let i = 0; !stop; i++) {
            const x = k * 1000 + i;
            const o = await outcome(client.predict(vec([x]), { timeoutMs: 30_000 }));
            outs.push(o.code === 'OK' && o.value !== 2 * x + 1 ? { code: 'WRONG', message: JSON.stringify(o) } : o);
          }
        };
        const loops = [0, 1, 2, 3].map(loop);
        await new Promise((r) => setTimeout(r, 500));
        process.kill(victim.pid, 'SIGTERM');
        // It serves its callers for drainTimeoutMs (1 s), then refuses new calls, exits, and the runner restarts it.
        await g.waitFor(new RegExp(`^node ${name} pid (?!${victim.pid}\\b)\\d+ at`), 30_000);
        await new Promise((r) => setTimeout(r, 700));
        stop = true;
        await Promise.all(loops);
        assert.equal(alive(victim.pid), false, 'the drained node is still running');
        const failed = outs.filter((o) => o.code !== 'OK');
        assert.deepEqual(failed, [], `${failed.length} of ${outs.length} failed`);
        assert.ok(outs.length > 20, `only ${outs.length} requests answered`);
      } finally {
        client.close();
        await g.stop().catch(() => undefined);
      }
    });
  }
});
