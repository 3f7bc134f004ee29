import type { LevelResult } from './analysis';
import type { BenchReport, WarmupCurve } from './report';
import { CHART_CSS, esc, lineChart, stackedBars, type BarRow, type Series } from './svg';

/** The bench report as one self-contained HTML page (inline SVG, inline CSS, no scripts) and as Markdown. */

const f2 = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(2));
const f1 = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(1));

const METHOD: Record<string, string> = {
  predict: 'Predict',
  transformInput: 'TransformInput',
  transformOutput: 'TransformOutput',
  route: 'Route',
  aggregate: 'Aggregate',
};

function levelRow(l: LevelResult, who: string): string {
  const cells = [
    who,
    String(l.concurrency),
    f1(l.throughput),
    f2(l.latency.p50),
    f2(l.latency.p90),
    f2(l.latency.p99),
    f2(l.latency.mean),
    f2(l.overhead?.mean),
    f2(l.overhead?.p99),
    f2(l.criticalCompute?.mean),
    f2(l.external?.mean),
    `${l.requests}${l.errors ? ` (${l.errors} errors)` : ''}`,
    l.stable ? 'yes' : 'no',
  ];
  return `<tr>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
}

function hopRows(l: LevelResult): BarRow[] {
  const rows: BarRow[] = l.hops.map((h) => ({
    label: `${h.node} ${METHOD[h.method] ?? h.method}`,
    segments: [
      { name: 'compute (node)', value: h.computeMean },
      { name: 'transport', value: Math.max(0, h.transportMean) },
    ],
    note: `${h.duration.mean.toFixed(2)} ms`,
  }));
  if (l.overhead && l.criticalCompute) {
    rows.push({
      label: 'end to end (client)',
      segments: [
        { name: 'critical-path compute', value: l.criticalCompute.mean },
        { name: 'graph overhead', value: Math.max(0, l.overhead.mean) },
      ],
      note: `${l.latency.mean.toFixed(2)} ms`,
    });
  }
  return rows;
}

const COLORS = {
  'compute (node)': '#1f77b4',
  transport: '#ff7f0e',
  'critical-path compute': '#2ca02c',
  'graph overhead': '#d62728',
};

function processTable(r: BenchReport): string {
  const names = [...new Set(r.levels.flatMap((l) => l.processes.map((p) => p.name)))];
  if (!names.length) return '<p>No process statistics (not Linux, or no /proc).</p>';
  const head = `<tr><th>process</th>${r.levels.map((l) => `<th>c=${l.concurrency}<br>CPU %</th><th>RSS MB</th>`).join('')}<th>peak RSS MB</th></tr>`;
  const rows = names.map((n) => {
    const cells = r.levels.map((l) => {
      const p = l.processes.find((x) => x.name === n);
      return `<td>${p ? f1(p.cpuPercent) : '–'}</td><td>${p ? f1(p.rssMB) : '–'}</td>`;
    });
    const peak = Math.max(...r.levels.flatMap((l) => l.processes.filter((x) => x.name === n).map((x) => x.peakRssMB)));
    return `<tr><td>${esc(n)}</td>${cells.join('')}<td>${f1(peak)}</td></tr>`;
  });
  const totals = r.levels.map(
    (l) =>
      `<td><b>${f1(l.processes.reduce((a, p) => a + p.cpuPercent, 0))}</b></td><td><b>${f1(l.processes.reduce((a, p) => a + p.rssMB, 0))}</b></td>`,
  );
  return `<table>${head}${rows.join('')}<tr><td><b>all</b></td>${totals.join('')}<td></td></tr></table><p class="note">CPU is % of one core over the level's measurement (${r.machine.cpus} cores = ${r.machine.cpus * 100} %).</p>`;
}

/** max / min of the series' y values: a log axis when they differ by orders of magnitude. */
const spread = (series: Series[]): number => {
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter((y) => y > 0);
  return ys.length ? Math.max(...ys) / Math.min(...ys) : 1;
};

export function renderHtml(r: BenchReport): string {
  const bl = r.baseline?.levels ?? [];
  const xs = r.levels.map((l) => l.concurrency);
  const tput: Series[] = [{ name: 'graph', points: r.levels.map((l) => [l.concurrency, l.throughput]) }];
  if (bl.length)
    tput.push({
      name: 'in-process',
      points: bl.map((l) => [l.concurrency, l.throughput]),
      dashed: true,
      markers: true,
    });
  const latency: Series[] = [
    { name: 'graph p50', points: r.levels.map((l) => [l.concurrency, l.latency.p50]) },
    { name: 'graph p99', points: r.levels.map((l) => [l.concurrency, l.latency.p99]) },
  ];
  if (bl.length) {
    latency.push({
      name: 'in-process p50',
      points: bl.map((l) => [l.concurrency, l.latency.p50]),
      dashed: true,
      markers: true,
    });
    latency.push({
      name: 'in-process p99',
      points: bl.map((l) => [l.concurrency, l.latency.p99]),
      dashed: true,
      markers: true,
    });
  }
  const cdf: Series[] = r.levels.map((l) => ({
    name: `graph c=${l.concurrency}`,
    points: l.cdf.map((v, i) => [v, i + 1] as [number, number]),
    markers: false,
  }));
  const py = r.python?.levels ?? [];
  if (py.length) {
    tput.push({ name: 'python', points: py.map((l) => [l.concurrency, l.throughput]), dashed: true, markers: true });
    latency.push({
      name: 'python p50',
      points: py.map((l) => [l.concurrency, l.latency.p50]),
      dashed: true,
      markers: true,
    });
  }
  for (const l of bl)
    cdf.push({
      name: `in-process c=${l.concurrency}`,
      points: l.cdf.map((v, i) => [v, i + 1] as [number, number]),
      dashed: true,
      markers: false,
    });

  const targets = r.targets
    .map(
      (t) =>
        `<tr><td>${esc(t.name)}</td><td>${esc(t.target)}</td><td>${t.value === null ? '–' : t.value.toFixed(3)}</td><td class="${t.met ? 'ok' : t.met === false ? 'bad' : ''}">${t.met === null ? 'n/a' : t.met ? 'met' : 'not met'}</td></tr>`,
    )
    .join('');
  const ratios = r.ratios
    ? `<ul>${r.ratios.latency ? `<li>latency at c=${r.ratios.latency.concurrency}: graph ${f2(r.ratios.latency.graphMeanMs)} ms / in-process ${f2(r.ratios.latency.inProcessMeanMs)} ms (means) = <b>${r.ratios.latency.ratio.toFixed(3)}</b></li>` : ''}${r.ratios.throughput ? `<li>throughput at c=${r.ratios.throughput.concurrency}: graph ${f1(r.ratios.throughput.graph)} / in-process ${f1(r.ratios.throughput.inProcess)} req/s = <b>${r.ratios.throughput.ratio.toFixed(3)}</b></li>` : ''}</ul>`
    : '<p>No in-process baseline in this run.</p>';
  const hopCharts = r.levels
    .filter((l) => l.hops.length)
    .map((l) =>
      stackedBars({
        title: `Per hop at concurrency ${l.concurrency} (means)`,
        unit: 'ms',
        rows: hopRows(l),
        colors: COLORS,
      }),
    )
    .join('\n');
  const blHop = bl
    .filter((l) => l.hops.length)
    .map((l) =>
      stackedBars({
        title: `In-process baseline, per component call at concurrency ${l.concurrency} (means)`,
        unit: 'ms',
        rows: hopRows(l),
        colors: COLORS,
      }),
    )
    .join('\n');

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>infergraph bench: ${esc(r.graph?.name ?? r.target.address)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; padding: 0 16px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
.ok { color: #1a7f37; font-weight: 600; } .bad { color: #cf222e; font-weight: 600; }
code, pre { background: #f6f8fa; padding: 2px 4px; } pre { padding: 8px; overflow-x: auto; }
.note { color: #666; font-size: 12px; } .empty { color: #999; }
${CHART_CSS}
</style></head><body>
<h1>infergraph bench${r.graph ? `: ${esc(r.graph.name)}` : ''}</h1>
<p>${esc(r.startedAt)} · ${r.machine.cpus} × ${esc(r.machine.cpuModel)} · Node ${esc(r.machine.node)} · ${esc(r.machine.platform)} · load average at the end ${r.machine.loadavg.join(' ')}</p>
<pre>${esc(r.command)}</pre>
<p class="note">Node/V8 flags of the bench and the graph's processes: ${r.options.nodeFlags.length ? r.options.nodeFlags.map((f) => `<code>${esc(f)}</code>`).join(' ') : 'none'}</p>
<p>Target: ${r.target.mode === 'graph' ? `graph started by the bench (hops over ${esc(r.hopRuns?.map((x) => x.hopTransport).join(' and then ') ?? r.target.hopTransport ?? "the manifest's transport")}, ${esc(r.target.transport ?? '')} sockets; charts: the first), executor at` : 'running executor at'} <code>${esc(r.target.address)}</code>${r.graph ? ` · hop codec <code>${esc(r.graph.codec)}</code>` : ''}<br>
Input: ${esc(r.input)}${r.answer ? `<br>Answer: ${esc(r.answer)}` : ''}</p>
${r.graph ? `<p class="note">Nodes: ${r.graph.nodes.map(esc).join(' · ')}</p>` : ''}
<h2>Targets</h2>
<table><tr><th>what</th><th>target</th><th>this run</th><th></th></tr>${targets}</table>
<h2>Graph versus in-process</h2>
${ratios}
${r.python ? `<p class="note">Python arm: ${esc(r.python.note)} (${esc(r.python.versions)}).</p>` : ''}
${(r.warmups ?? []).map((w) => `<p class="note">Warm-up, ${esc(describeWarmup(w))}</p>`).join('\n')}
${r.baseline ? `<p class="note">In-process baseline: the same components from the same manifest in the bench process, called through the real GraphExecutor without gRPC; ${esc(r.baseline.note)}.${r.baseline.error ? ` <b>Baseline failed:</b> ${esc(r.baseline.error)}` : ''}</p>` : ''}
<h2>Results</h2>
<table><tr><th></th><th>concurrency</th><th>req/s</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>mean ms</th><th>overhead mean ms</th><th>overhead p99 ms</th><th>critical compute ms</th><th>client↔executor ms</th><th>requests</th><th>stable</th></tr>
${graphRuns(r)
  .flatMap(([who, levels]) => levels.map((l) => levelRow(l, who)))
  .join('\n')}
${bl.map((l) => levelRow(l, 'in-process')).join('\n')}
</table>
<p class="note">Each level: closed loop, one request in flight per client; windows of ${(r.options.windowMs / 1000).toFixed(1)} s until ${r.options.stableWindows} consecutive windows agree within ±${Math.round(r.options.stability * 100)} % on throughput and median latency (at most ${r.options.maxWindows}); statistics over those last windows. Overhead = end-to-end − compute on the critical path (per request). client↔executor = end-to-end − the executor's walk.</p>
${lineChart({ title: 'Throughput versus concurrency', xLabel: 'concurrency (requests in flight)', yLabel: 'requests / s', series: tput, xTicks: xs, xLog: xs.length > 1 && Math.max(...xs) / Math.min(...xs) >= 4, yLog: spread(tput) > 20 })}
${lineChart({ title: 'Latency versus concurrency', xLabel: 'concurrency (requests in flight)', yLabel: 'ms', series: latency, xTicks: xs, xLog: xs.length > 1 && Math.max(...xs) / Math.min(...xs) >= 4, yLog: true })}
${lineChart({ title: 'Latency distribution (CDF)', xLabel: 'end-to-end latency, ms (log)', yLabel: 'percentile', series: cdf, xLog: true, yMin: 0 })}
<h2>Where the time goes</h2>
<p class="note">Each hop as the executor saw it: the node's own compute (its infergraph-compute-us trailer) and transport, the rest of the hop (encoding on both sides, the wire: HTTP/2 or frames, the event loops of both processes). The last bar splits the client's end-to-end time into critical-path compute and graph overhead. At concurrency above 1 a request also waits while its node computes another one (a node runs its component one request at a time: onnxruntime-node runs on the node's JS thread), and that wait lands in transport.</p>
${hopCharts}
${blHop}
<h2>Processes</h2>
${processTable(r)}
<h2>Measurement windows</h2>
<table><tr><th>level</th><th>windows: req/s (p50 ms)</th></tr>
${r.levels.map((l) => `<tr><td>graph c=${l.concurrency}</td><td>${l.windows.map((w) => `${w.throughput.toFixed(1)} (${w.p50.toFixed(2)})`).join(' · ')}</td></tr>`).join('\n')}
${bl.map((l) => `<tr><td>in-process c=${l.concurrency}</td><td>${l.windows.map((w) => `${w.throughput.toFixed(1)} (${w.p50.toFixed(2)})`).join(' · ')}</td></tr>`).join('\n')}
</table>
${r.levels.some((l) => l.errorExamples.length) ? `<h2>Errors</h2><ul>${r.levels.flatMap((l) => l.errorExamples.map((e) => `<li>c=${l.concurrency}: ${esc(e)}</li>`)).join('')}</ul>` : ''}
</body></html>
`;
}

/** "graph: 48 s; CPU per request while settling 131.2, 118.4, 116.9 ms (settled)" */
function describeWarmup(w: WarmupCurve): string {
  const curve = w.windows.map((x) => x.cpuMsPerRequest.toFixed(1)).join(', ');
  if (!curve) return `${w.arm}: ${w.seconds} s`;
  return `${w.arm}: ${Math.round(w.seconds)} s; CPU per request while settling ${curve} ms (${w.settled ? 'settled' : 'still falling at --warmup-max'})`;
}

/** [label, levels] per graph sweep: one per hop transport when the run compared them. */
function graphRuns(r: BenchReport): [string, LevelResult[]][] {
  if (r.apiRuns?.length) return r.apiRuns.map((x) => [`graph ${x.api}`, x.levels]);
  return r.hopRuns?.length ? r.hopRuns.map((x) => [`graph ${x.hopTransport}`, x.levels]) : [['graph', r.levels]];
}

/** The summary table in Markdown (README's Performance section, terminal output). */
export function renderMarkdown(r: BenchReport): string {
  const out: string[] = [];
  out.push(
    '| | concurrency | req/s | p50 ms | p90 ms | p99 ms | mean ms | overhead mean ms | overhead p99 ms | critical compute ms |',
  );
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const row = (who: string, l: LevelResult): string =>
    `| ${who} | ${l.concurrency} | ${f1(l.throughput)} | ${f2(l.latency.p50)} | ${f2(l.latency.p90)} | ${f2(l.latency.p99)} | ${f2(l.latency.mean)} | ${f2(l.overhead?.mean)} | ${f2(l.overhead?.p99)} | ${f2(l.criticalCompute?.mean)} |`;
  for (const [who, levels] of graphRuns(r)) for (const l of levels) out.push(row(who, l));
  for (const l of r.baseline?.levels ?? []) out.push(row('in-process', l));
  for (const l of r.python?.levels ?? []) out.push(row('python', l));
  if (r.baseline) out.push(`- in-process baseline: ${r.baseline.note}`);
  if (r.python) out.push(`- python: ${r.python.note} (${r.python.versions})`);
  for (const w of r.warmups ?? []) out.push(`- warm-up, ${describeWarmup(w)}`);
  for (const x of r.hopRuns ?? [])
    if (x.throughputRatio !== undefined)
      out.push(
        `- throughput graph (${x.hopTransport} hops) / in-process at the highest concurrency: ${x.throughputRatio.toFixed(3)}`,
      );
  if (r.ratios?.latency || r.ratios?.throughput) {
    out.push('');
    if (r.ratios.latency)
      out.push(
        `- latency graph / in-process at c=${r.ratios.latency.concurrency} (means): ${r.ratios.latency.ratio.toFixed(3)}`,
      );
    if (r.ratios.throughput)
      out.push(
        `- throughput graph / in-process at c=${r.ratios.throughput.concurrency}: ${r.ratios.throughput.ratio.toFixed(3)}`,
      );
  }
  out.push('');
  for (const t of r.targets)
    out.push(
      `- ${t.name}: ${t.value === null ? 'n/a' : t.value.toFixed(3)} (target ${t.target}: ${t.met === null ? 'n/a' : t.met ? 'met' : 'not met'})`,
    );
  return out.join('\n');
}
