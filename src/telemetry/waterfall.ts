import type { JsonValue } from '../message/message';
import type { Timeline, TimelineHop } from './timeline';

/**
 * Renders a request's hop timeline (src/telemetry/timeline.ts) as a terminal waterfall:
 *
 *   hop                          start   duration  compute  transport
 *   preprocess TransformInput     0.05 ms   0.92 ms  0.11 ms   0.81 ms  |░░█░                 |
 *
 * Bars share one time axis (the walk); █ is the node's compute, ░ the transport around it (the compute is drawn in
 * the middle of the hop since the node's clock is not the executor's).
 */

export function parseTimeline(tag: JsonValue | undefined): Timeline | undefined {
  if (!tag || typeof tag !== 'object' || Array.isArray(tag)) return undefined;
  const t = tag as Record<string, JsonValue>;
  if (typeof t.total_ms !== 'number' || !Array.isArray(t.hops)) return undefined;
  const hops: TimelineHop[] = [];
  for (const h of t.hops) {
    if (!h || typeof h !== 'object' || Array.isArray(h)) return undefined;
    const o = h as Record<string, JsonValue>;
    if (
      typeof o.node !== 'string' ||
      typeof o.method !== 'string' ||
      typeof o.start_ms !== 'number' ||
      typeof o.duration_ms !== 'number'
    )
      return undefined;
    const hop: TimelineHop = {
      node: o.node,
      method: o.method as TimelineHop['method'],
      start_ms: o.start_ms,
      duration_ms: o.duration_ms,
    };
    if (typeof o.compute_ms === 'number') hop.compute_ms = o.compute_ms;
    if (typeof o.transport_ms === 'number') hop.transport_ms = o.transport_ms;
    if (typeof o.status === 'string') hop.status = o.status;
    hops.push(hop);
  }
  return { total_ms: t.total_ms, hops };
}

const METHOD_NAMES: Record<string, string> = {
  predict: 'Predict',
  transformInput: 'TransformInput',
  transformOutput: 'TransformOutput',
  route: 'Route',
  aggregate: 'Aggregate',
};

const f = (x: number | undefined): string => (x === undefined ? '-' : `${x.toFixed(2)} ms`);

export function renderWaterfall(
  t: Timeline,
  opts: { width?: number; roundTripMs?: number; traceId?: string } = {},
): string {
  const width = opts.width ?? 40;
  const span = Math.max(t.total_ms, ...t.hops.map((h) => h.start_ms + h.duration_ms), 1e-6);
  const rows = t.hops.map((h) => {
    const label = `${h.node} ${METHOD_NAMES[h.method] ?? h.method}${h.status ? ` [${h.status}]` : ''}`;
    const from = Math.min(width - 1, Math.floor((h.start_ms / span) * width));
    const len = Math.max(1, Math.round((h.duration_ms / span) * width));
    const computeLen = h.compute_ms === undefined ? 0 : Math.min(len, Math.round((h.compute_ms / span) * width));
    const pad = Math.floor((len - computeLen) / 2);
    const bar = ' '.repeat(from) + '░'.repeat(pad) + '█'.repeat(computeLen) + '░'.repeat(len - pad - computeLen);
    return {
      label,
      cells: [f(h.start_ms), f(h.duration_ms), f(h.compute_ms), f(h.transport_ms)],
      bar: bar.slice(0, width).padEnd(width),
    };
  });
  const head = ['hop', 'start', 'duration', 'compute', 'transport'];
  const lw = Math.max(head[0]!.length, ...rows.map((r) => r.label.length));
  const cw = [0, 1, 2, 3].map((i) => Math.max(head[i + 1]!.length, ...rows.map((r) => r.cells[i]!.length)));
  const line = (label: string, cells: string[], bar: string): string =>
    `${label.padEnd(lw)}  ${cells.map((c, i) => c.padStart(cw[i]!)).join('  ')}  ${bar}`;
  const out: string[] = [];
  const compute = t.hops.reduce((a, h) => a + (h.compute_ms ?? 0), 0);
  const transport = t.hops.reduce((a, h) => a + (h.transport_ms ?? 0), 0);
  const summary = [
    `walk ${f(t.total_ms)}`,
    `${t.hops.length} hops`,
    `compute ${f(compute)}`,
    `transport ${f(transport)}`,
  ];
  if (opts.roundTripMs !== undefined) summary.unshift(`round trip ${f(opts.roundTripMs)}`);
  out.push(summary.join(', ') + (opts.traceId ? `; trace ${opts.traceId}` : ''));
  const axisEnd = f(span);
  out.push(line(head[0]!, head.slice(1), ` 0${' '.repeat(Math.max(1, width - 1 - axisEnd.length))}${axisEnd}`));
  for (const r of rows) out.push(line(r.label, r.cells, `|${r.bar}|`));
  out.push(
    '█ compute (node)  ░ transport (serialization, the wire: gRPC or frames, event loops); compute and transport are summed over hops, parallel hops overlap',
  );
  return out.join('\n');
}
