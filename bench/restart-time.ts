/**
 * Time to serve again after kill -9 (issue 22 item 2), per process kind, with where the time goes. Runs a graph
 * under `infergraph up --log-level info`, then for each process in turn: SIGKILL, and a fresh client every 25 ms
 * until a request is answered OK (a fresh client each time, so the probe never waits out its own reconnect backoff).
 * The breakdown comes from the runner's and the restarted child's log times (pino `time`), the child's start time
 * (/proc/<pid>/stat) and the child's own start-up marks (its `startup` log line, when it writes one):
 *
 *   detect    kill → the runner hears the exit          backoff   the runner's restart delay
 *   spawn     delay over → the new process exists         boot      process start → it logs that it listens
 *   health    listening → the runner saw SERVING          reach     runner saw SERVING → a request answered OK
 *
 *   node dist/bench/restart-time.js [--graph graphs/imagenet-ensemble.yaml] [--rounds 2] [--only resnet50,top1]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultImage } from '../src/bench/input';
import { SeldonClient } from '../src/client/seldon-client';
import { emptyMeta, type InferMessage } from '../src/message/message';
import { upGraph, REPO, type RunningGraph } from '../test/helpers/graph-process';

interface LogLine {
  proc: string;
  time: number;
  msg: string;
  obj: Record<string, unknown>;
}

/**
 * The pino JSON lines `up --log-format json` prints: the children's as they wrote them (their logger's `name` is the
 * process: the node, or `<graph>-executor`), the runner's own under the name `infergraph-up` (proc 'runner'). The
 * older `[name] {json}` form is read too.
 */
function parseLogs(lines: readonly string[]): LogLine[] {
  const out: LogLine[] = [];
  for (const l of lines) {
    const m = /^(?:\[([^\]]+)\] )?(\{.*\})$/.exec(l);
    if (!m) continue;
    try {
      const obj = JSON.parse(m[2] as string) as Record<string, unknown>;
      if (typeof obj.time !== 'number') continue;
      const named = typeof obj.name === 'string' && obj.name !== 'infergraph-up' ? obj.name : 'runner';
      out.push({ proc: m[1] ?? named, time: obj.time, msg: typeof obj.msg === 'string' ? obj.msg : '', obj });
    } catch {
      // not a log line
    }
  }
  return out;
}

const CLK_TCK = 100;
/** A process's start as epoch ms, from /proc (10 ms resolution). */
function processStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = Number(fields[19]);
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    return btime * 1000 + (startTicks * 1000) / CLK_TCK;
  } catch {
    return undefined;
  }
}

async function probeUntilOk(address: string, request: InferMessage, timeoutMs: number): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const c = new SeldonClient(address, { maxMessageBytes: 64 * 2 ** 20 });
    try {
      await c.predict(request, { timeoutMs: 2000 });
      return Date.now();
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    } finally {
      c.close();
    }
  }
  throw new Error(`not serving again within ${timeoutMs} ms`);
}

interface Row {
  name: string;
  total: number;
  detect?: number;
  backoff?: number;
  spawn?: number;
  boot?: number;
  health?: number;
  reach?: number;
  marks?: string;
}

async function killOnce(g: RunningGraph, name: string, request: InferMessage): Promise<Row> {
  const old = g.procs.get(name);
  if (!old) throw new Error(`no process ${name}`);
  const logFrom = g.stderr.length;
  const outFrom = g.stdout.length;
  const tKill = Date.now();
  process.kill(old.pid, 'SIGKILL');
  const tOk = await probeUntilOk(g.address, request, 60_000);
  // The runner prints `<role> <name> pid <pid> at ...` once the new process is SERVING.
  await g.waitFor(new RegExp(`^(node|executor) ${name.replace(/[#]/g, '\\$&')} pid (?!${old.pid}\\b)\\d+ at`), 30_000);
  await new Promise((r) => setTimeout(r, 100));
  const logs = parseLogs([...g.stderr.slice(logFrom), ...g.stdout.slice(outFrom)]);
  const row: Row = { name, total: tOk - tKill };
  const exit = logs.find((l) => l.proc === 'runner' && l.obj.process === name && /exited/.test(l.msg));
  const serving = logs.find((l) => l.proc === 'runner' && l.obj.process === name && l.msg === 'process serving');
  const pid = g.procs.get(name)?.pid;
  const startup = logs.find((l) => l.proc === name && l.msg === 'startup');
  // The child's own start (performance.timeOrigin) where it logs one, else /proc's (whole seconds of boot time).
  const started =
    typeof startup?.obj.origin === 'number' ? startup.obj.origin : pid !== undefined ? processStart(pid) : undefined;
  const listening = logs.find(
    (l) => l.proc === name && (l.msg === 'node serving' || l.msg === 'executor listening' || l.msg === 'startup'),
  );
  if (exit) {
    row.detect = exit.time - tKill;
    row.backoff = Number(exit.obj.restartInMs);
    if (started !== undefined) row.spawn = started - (exit.time + row.backoff);
  }
  if (started !== undefined && listening) row.boot = listening.time - started;
  if (listening && serving) row.health = serving.time - listening.time;
  if (serving) row.reach = tOk - serving.time;
  if (startup) row.marks = `${JSON.stringify(startup.obj.marks)} cpu ${String(startup.obj.cpuMs)} ms`;
  return row;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      graph: { type: 'string', default: 'graphs/imagenet-ensemble.yaml' },
      rounds: { type: 'string', default: '2' },
      only: { type: 'string' },
      settle: { type: 'string', default: '1500' },
    },
  });
  const g = await upGraph(path.resolve(REPO, values.graph), ['--log-level', 'info']);
  const input = await defaultImage();
  const request: InferMessage = { meta: emptyMeta(), payload: input.payload };
  const rows: Row[] = [];
  try {
    await probeUntilOk(g.address, request, 30_000);
    const names = values.only ? values.only.split(',') : [...g.procs.keys()];
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const name of names) {
        await new Promise((r) => setTimeout(r, Number(values.settle)));
        const row = await killOnce(g, name, request);
        rows.push(row);
        const f = (x: number | undefined): string => (x === undefined ? '   ?' : x.toFixed(0).padStart(4));
        console.log(
          `${name.padEnd(28)} total ${f(row.total)} ms = detect ${f(row.detect)} + backoff ${f(row.backoff)} + spawn ` +
            `${f(row.spawn)} + boot ${f(row.boot)} + health ${f(row.health)} + reach ${f(row.reach)}` +
            (row.marks ? `  boot marks ${row.marks}` : ''),
        );
      }
    }
  } finally {
    await g.stop().catch((err: Error) => console.error(err.message));
  }
}

if (require.main === module) void main();
