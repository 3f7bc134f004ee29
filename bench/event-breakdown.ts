/**
 * Where one request's time goes across the graph's processes, from an event log (src/util/event-log.ts) taken
 * during a bench run at concurrency 1:
 *
 *   INFERGRAPH_EVENT_LOG=/tmp/ev node dist/src/cli/main.js bench --graph graphs/imagenet-ensemble.yaml \
 *     --hop-transport frames -c 1 -d 6 -w 3 --no-baseline --out /tmp/b
 *   node dist/bench/event-breakdown.js /tmp/ev /tmp/b/bench-report.json
 *
 * Events of all processes are put on one time line (CLOCK_MONOTONIC), cut into requests at each client send, and the
 * most common order of events is kept (others interleave differently: which model answered first). Prints every step
 * between consecutive events (mean and median ms over the requests, warm-up excluded) and the steps summed by kind:
 * the client's gRPC call to the executor, the executor's own work, the frame legs between processes, the nodes'
 * handlers (decode, compute, encode) and their writes. Then the tail: the kinds summed per request for the slowest 5 %
 * of all complete requests (by time outside the node handlers) against the middle 20 %, to tell a single slow step
 * (a pause in one process) from a request slow everywhere (the machine).
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

interface Ev {
  t: bigint;
  proc: string;
  event: string;
}

interface Report {
  options: { warmupS: number };
  levels: { processes: { pid: number; name: string; role: string }[] }[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor(s.length / 2)] as number) : NaN;
};
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** What a step between two consecutive events is, by where its ends are. */
function kind(a: Ev, b: Ev, executor: string): string {
  const ends = `${a.event}>${b.event}`;
  if (ends === 'b.send>e.in' || ends === 'e.out>b.recv') return 'client <-> executor, gRPC';
  if (a.proc === executor && b.proc === executor) return 'executor: between hops';
  if (a.proc === b.proc && ends === 's.start>s.reply') return 'node handlers: decode, compute, encode';
  if (a.proc === b.proc && ends === 's.reply>s.sent') return 'node: reply written';
  if (a.event === 'c.send' && b.event === 's.start') return 'frame leg, executor -> node';
  if (a.event === 's.sent' && b.event === 'c.resp') return 'frame leg, node -> executor';
  if (b.event === 's.reply') return 'node handlers: decode, compute, encode'; // the slower branch, still computing
  return 'overlapping (parallel branches)';
}

function main(): void {
  const [dir, reportFile] = process.argv.slice(2);
  if (!dir || !reportFile) {
    console.error('usage: node dist/bench/event-breakdown.js <event-log dir> <bench-report.json>');
    process.exit(2);
  }
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;
  const names = new Map<string, string>();
  let executor = '';
  for (const level of report.levels)
    for (const p of level.processes) {
      names.set(String(p.pid), p.name);
      if (p.role === 'executor') executor = p.name;
    }
  const events: Ev[] = [];
  for (const f of readdirSync(dir)) {
    for (const line of readFileSync(path.join(dir, f), 'utf8').split('\n')) {
      const [t, pid, event] = line.split(' ');
      if (!t || !pid || !event) continue;
      events.push({ t: BigInt(t), proc: names.get(pid) ?? pid, event });
    }
  }
  events.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
  const requests: Ev[][] = [];
  for (const e of events) {
    if (e.event === 'b.send') requests.push([e]);
    else requests.at(-1)?.push(e);
  }
  // The warm-up is the first --warmup seconds after the first request.
  const warmupEnd = (requests[0]?.[0]?.t ?? 0n) + BigInt(Math.round(report.options.warmupS * 1e9));
  const complete = requests.filter((r) => (r[0] as Ev).t >= warmupEnd && r.at(-1)?.event === 'b.recv');
  const signature = (r: Ev[]): string => r.map((e) => `${e.proc}:${e.event}`).join(' ');
  const counts = new Map<string, number>();
  for (const r of complete) counts.set(signature(r), (counts.get(signature(r)) ?? 0) + 1);
  const [top] = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  if (!top) throw new Error(`no complete request in ${dir}`);
  const kept = complete.filter((r) => signature(r) === top[0]);
  const first = kept[0] as Ev[];
  const ms = (a: Ev, b: Ev): number => Number(b.t - a.t) / 1e6;
  console.log(
    `${requests.length} requests logged; ${kept.length} of the ${complete.length} after warm-up in this order\n`,
  );
  console.log('| step | kind | mean ms | median ms |\n|---|---|---:|---:|');
  const byKind = new Map<string, number>();
  for (let i = 1; i < first.length; i++) {
    const a = first[i - 1] as Ev;
    const b = first[i] as Ev;
    const xs = kept.map((r) => ms(r[i - 1] as Ev, r[i] as Ev));
    const k = kind(a, b, executor);
    byKind.set(k, (byKind.get(k) ?? 0) + mean(xs));
    console.log(
      `| ${a.proc} ${a.event} → ${b.proc} ${b.event} | ${k} | ${mean(xs).toFixed(3)} | ${median(xs).toFixed(3)} |`,
    );
  }
  const total = mean(kept.map((r) => ms(r[0] as Ev, r.at(-1) as Ev)));
  console.log('\n| kind | mean ms |\n|---|---:|');
  for (const [k, v] of [...byKind.entries()].sort((a, b) => b[1] - a[1])) console.log(`| ${k} | ${v.toFixed(3)} |`);
  console.log(`| **end to end at the client** | **${total.toFixed(3)}** |`);
  tail(complete, executor);
}

/** Mean ms by kind per request: the slowest 5 % (time outside node handlers) against the middle 20 %. */
function tail(complete: Ev[][], executor: string): void {
  const HANDLER = 'node handlers: decode, compute, encode';
  const rows = complete.map((r) => {
    const k = new Map<string, number>();
    for (let i = 1; i < r.length; i++) {
      const d = Number((r[i] as Ev).t - (r[i - 1] as Ev).t) / 1e6;
      const name = kind(r[i - 1] as Ev, r[i] as Ev, executor);
      k.set(name, (k.get(name) ?? 0) + d);
    }
    const total = Number((r.at(-1) as Ev).t - (r[0] as Ev).t) / 1e6;
    return { k, outside: total - (k.get(HANDLER) ?? 0), total };
  });
  rows.sort((a, b) => a.outside - b.outside);
  const slow = rows.slice(Math.floor(rows.length * 0.95));
  const middle = rows.slice(Math.floor(rows.length * 0.4), Math.floor(rows.length * 0.6));
  if (slow.length === 0 || middle.length === 0) return;
  const avg = (rs: typeof rows, f: (r: (typeof rows)[number]) => number): string => mean(rs.map(f)).toFixed(3);
  const kinds = [...new Set(rows.flatMap((r) => [...r.k.keys()]))];
  console.log(
    `\nThe tail: ${slow.length} slowest of ${rows.length} requests by time outside node handlers, against the middle 20 %` +
      '\n\n| per request, mean ms | middle 20 % | slowest 5 % |\n|---|---:|---:|',
  );
  console.log(`| outside node handlers | ${avg(middle, (r) => r.outside)} | ${avg(slow, (r) => r.outside)} |`);
  for (const k of kinds)
    console.log(`| ${k} | ${avg(middle, (r) => r.k.get(k) ?? 0)} | ${avg(slow, (r) => r.k.get(k) ?? 0)} |`);
}

main();
