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
 * The child's marks are printed as steps (ms between marks): cli (Node and the CLI's first modules), manifest (the
 * serve command's modules, the manifest), code (the node or executor server's modules), telemetry, and for an
 * onnx-model node worker (its worker thread started), ort (onnxruntime-node loaded in it), session (the
 * InferenceSession made), component (the rest of the component's load), then serving (servers bound); and the CPU
 * time the child used to get there, which moves much less with the machine's load than the wall times do.
 *
 * onnx-model's optimised-graph cache (INFERGRAPH_ONNX_CACHE, a fresh folder per run unless --onnx-cache is given) is
 * warm for a restart once the graph has started. A process whose start made an ONNX session is killed twice per
 * round: once warm, and once after its cache was emptied (cold: the session is made from the .onnx file and the cache
 * written again, as before the cache existed), so the two arms alternate under the same load. The summary gives
 * medians per process and arm.
 *
 *   node dist/bench/restart-time.js [--graph graphs/imagenet-ensemble.yaml] [--rounds 2] [--only resnet50,top1]
 *     [--onnx-cache DIR|off]
 */
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultImage } from '../src/bench/input';
import { SeldonClient } from '../src/client/seldon-client';
import { loadManifestFile } from '../src/graph/manifest';
import { findNode } from '../src/graph/spec';
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
  /** warm: the ONNX cache as the last start left it; cold: emptied before the kill; '' for processes without ONNX */
  arm: string;
  total: number;
  detect?: number;
  backoff?: number;
  spawn?: number;
  boot?: number;
  health?: number;
  reach?: number;
  marks?: string;
  /** the child's session step (ms), when it made an ONNX session */
  session?: number;
  cpuMs?: number;
}

/** The marks as steps: each mark minus the one before it. */
function steps(marks: Record<string, number>): string {
  let last = 0;
  return Object.entries(marks)
    .sort((a, b) => a[1] - b[1])
    .map(([k, v]) => {
      const d = v - last;
      last = v;
      return `${k} ${d}`;
    })
    .join(', ');
}

async function killOnce(g: RunningGraph, name: string, request: InferMessage, arm: string): Promise<Row> {
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
  const row: Row = { name, arm, total: tOk - tKill };
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
  if (startup) {
    const marks = startup.obj.marks as Record<string, number>;
    row.marks = steps(marks);
    row.cpuMs = Number(startup.obj.cpuMs);
    if (marks.session !== undefined && marks.ort !== undefined) row.session = marks.session - marks.ort;
  }
  return row;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      graph: { type: 'string', default: 'graphs/imagenet-ensemble.yaml' },
      rounds: { type: 'string', default: '2' },
      only: { type: 'string' },
      settle: { type: 'string', default: '1500' },
      'onnx-cache': { type: 'string' },
    },
  });
  const cacheDir = values['onnx-cache'] ?? mkdtempSync(path.join(os.tmpdir(), 'infergraph-bench-ortcache-'));
  const spec = loadManifestFile(path.resolve(REPO, values.graph));
  /** Removes the cache entries of one node's model (their meta.json names the model file). */
  const emptyCache = (name: string): void => {
    const model = findNode(spec, name.replace(/#\d+$/, ''))?.parameters.model;
    if (cacheDir === 'off' || typeof model !== 'string') return;
    const source = realpathSync(path.resolve(spec.baseDir, model));
    for (const e of readdirSync(cacheDir)) {
      try {
        const meta = JSON.parse(readFileSync(path.join(cacheDir, e, 'meta.json'), 'utf8')) as { source?: string };
        if (meta.source === source) rmSync(path.join(cacheDir, e), { recursive: true, force: true });
      } catch {
        // not an entry
      }
    }
  };
  const g = await upGraph(path.resolve(REPO, values.graph), ['--log-level', 'info'], {
    INFERGRAPH_ONNX_CACHE: cacheDir,
  });
  const input = await defaultImage();
  const request: InferMessage = { meta: emptyMeta(), payload: input.payload };
  const rows: Row[] = [];
  try {
    await probeUntilOk(g.address, request, 30_000);
    const names = values.only ? values.only.split(',') : [...g.procs.keys()];
    const onnx = new Set<string>();
    const f = (x: number | undefined): string => (x === undefined ? '   ?' : x.toFixed(0).padStart(4));
    const report = (row: Row): void => {
      rows.push(row);
      console.log(
        `${`${row.name}${row.arm ? ` (${row.arm})` : ''}`.padEnd(34)} total ${f(row.total)} ms = detect ${f(row.detect)} + ` +
          `backoff ${f(row.backoff)} + spawn ${f(row.spawn)} + boot ${f(row.boot)} + health ${f(row.health)} + ` +
          `reach ${f(row.reach)}` +
          (row.marks ? `  boot steps: ${row.marks}; cpu ${row.cpuMs} ms` : ''),
      );
    };
    const kill = async (name: string, arm: string): Promise<Row> => {
      await new Promise((r) => setTimeout(r, Number(values.settle)));
      if (arm === 'cold') emptyCache(name);
      const row = await killOnce(g, name, request, arm);
      report(row);
      return row;
    };
    const arms = cacheDir === 'off' ? ['cache off'] : ['warm', 'cold'];
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const name of names) {
        if (!onnx.has(name)) {
          // Until a process shows it makes an ONNX session, it has one arm; a model's first kill is warm.
          const row = await kill(name, '');
          if (row.session === undefined) continue;
          onnx.add(name);
          row.arm = arms[0] as string;
          if (arms.length > 1) await kill(name, arms[1] as string);
          continue;
        }
        // Odd rounds run the arms the other way round: neither always follows the other.
        for (const arm of round % 2 ? [...arms].reverse() : arms) await kill(name, arm);
      }
    }
    summarise(rows);
  } finally {
    await g.stop().catch((err: Error) => console.error(err.message));
    if (values['onnx-cache'] === undefined) rmSync(cacheDir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number | undefined => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** Medians per process and arm: total, boot, the ONNX session step, health + reach, and CPU to serving. */
function summarise(rows: readonly Row[]): void {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const k = `${r.name}${r.arm ? ` (${r.arm})` : ''}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  console.log('\nmedians, ms (kills): total | boot | ONNX session | health + reach | CPU to serving');
  const num = (xs: (number | undefined)[]): number[] => xs.filter((x): x is number => x !== undefined);
  const f = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(0));
  for (const [k, rs] of groups) {
    const hr = num(rs.map((r) => (r.health !== undefined && r.reach !== undefined ? r.health + r.reach : undefined)));
    console.log(
      `${k.padEnd(34)} (${rs.length}) ${f(median(rs.map((r) => r.total)))} | ${f(median(num(rs.map((r) => r.boot))))} | ` +
        `${f(median(num(rs.map((r) => r.session))))} | ${f(median(hr))} | ${f(median(num(rs.map((r) => r.cpuMs))))}`,
    );
  }
}

if (require.main === module) void main();
