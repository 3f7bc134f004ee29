/**
 * Tiny inline-SVG chart primitives for the bench report: line charts (linear or log axes) and horizontal stacked
 * bars. The report must be one self-contained file (no CDN, no scripts), so the charts are plain SVG strings.
 */

export const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];

export const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const fmt = (v: number): string => {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1000) return `${Math.round(v / 100) / 10}k`.replace('.0k', 'k');
  if (a >= 10) return String(Math.round(v));
  if (a >= 1) return String(Math.round(v * 10) / 10);
  return String(Math.round(v * 100) / 100);
};

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
  return out;
}

function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  }
  return out.length >= 2 ? out : [lo, hi];
}

export interface Series {
  name: string;
  points: [number, number][];
  color?: string;
  dashed?: boolean;
  markers?: boolean;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  xLog?: boolean;
  yLog?: boolean;
  width?: number;
  height?: number;
  /** categorical x values shown as ticks (e.g. concurrency levels) */
  xTicks?: number[];
  yMin?: number;
}

export function lineChart(o: LineChartOptions): string {
  const W = o.width ?? 640;
  const H = o.height ?? 340;
  const m = { l: 62, r: 150, t: 34, b: 46 };
  const pts = o.series
    .flatMap((s) => s.points)
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.xLog || x > 0) && (!o.yLog || y > 0));
  if (pts.length === 0) return `<p class="empty">${esc(o.title)}: no data</p>`;
  let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [y0, y1] = [o.yMin ?? Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (!o.yLog && o.yMin === undefined) y0 = Math.min(0, y0);
  if (x1 === x0) [x0, x1] = o.xLog ? [x0 / 2, x1 * 2] : [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = o.yLog ? [y0 / 2, y1 * 2] : [y0, y1 + 1];
  if (!o.yLog) y1 += (y1 - y0) * 0.05;
  const tx = (x: number): number =>
    m.l + (W - m.l - m.r) * (o.xLog ? Math.log(x / x0) / Math.log(x1 / x0) : (x - x0) / (x1 - x0));
  const ty = (y: number): number =>
    H - m.b - (H - m.t - m.b) * (o.yLog ? Math.log(y / y0) / Math.log(y1 / y0) : (y - y0) / (y1 - y0));
  const xt = o.xTicks ?? (o.xLog ? logTicks(x0, x1) : niceTicks(x0, x1));
  const yt = o.yLog ? logTicks(y0, y1) : niceTicks(y0, y1);
  const parts: string[] = [];
  parts.push(`<text x="${W / 2 - m.r / 2}" y="20" class="title">${esc(o.title)}</text>`);
  for (const v of yt) {
    const y = ty(v);
    parts.push(
      `<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" class="grid"/><text x="${m.l - 6}" y="${y + 4}" class="tick" text-anchor="end">${fmt(v)}</text>`,
    );
  }
  for (const v of xt) {
    const x = tx(v);
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${m.t}" y2="${H - m.b}" class="grid"/><text x="${x}" y="${H - m.b + 16}" class="tick" text-anchor="middle">${fmt(v)}</text>`,
    );
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" class="frame"/>`);
  parts.push(
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 8}" class="label" text-anchor="middle">${esc(o.xLabel)}</text>`,
  );
  parts.push(
    `<text transform="translate(14 ${(m.t + H - m.b) / 2}) rotate(-90)" class="label" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  o.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const p = s.points.filter(
      ([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.xLog || x > 0) && (!o.yLog || y > 0),
    );
    if (p.length) {
      const d = p.map(([x, y], k) => `${k ? 'L' : 'M'}${tx(x).toFixed(1)},${ty(y).toFixed(1)}`).join('');
      parts.push(
        `<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      );
      if (s.markers ?? p.length < 20)
        for (const [x, y] of p)
          parts.push(`<circle cx="${tx(x).toFixed(1)}" cy="${ty(y).toFixed(1)}" r="3.5" fill="${color}"/>`);
    }
    const ly = m.t + 8 + i * 18;
    parts.push(
      `<line x1="${W - m.r + 12}" x2="${W - m.r + 34}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="3"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/><text x="${W - m.r + 40}" y="${ly + 4}" class="legend">${esc(s.name)}</text>`,
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">${parts.join('')}</svg>`;
}

export interface BarRow {
  label: string;
  segments: { value: number; name: string }[];
  note?: string;
}

/** Horizontal stacked bars; segment names share colours across rows (compute, transport, ...). */
export function stackedBars(o: {
  title: string;
  unit: string;
  rows: BarRow[];
  colors?: Record<string, string>;
  width?: number;
}): string {
  const W = o.width ?? 760;
  const rowH = 24;
  const m = { l: 210, r: 200, t: 34, b: 34 };
  const H = m.t + m.b + rowH * o.rows.length;
  const names = [...new Set(o.rows.flatMap((r) => r.segments.map((s) => s.name)))];
  const color = (n: string): string => o.colors?.[n] ?? PALETTE[names.indexOf(n) % PALETTE.length] ?? '#888';
  const max = Math.max(1e-9, ...o.rows.map((r) => r.segments.reduce((a, s) => a + Math.max(0, s.value), 0)));
  const ticks = niceTicks(0, max);
  const top = Math.max(max, ticks[ticks.length - 1] ?? max);
  const sx = (v: number): number => ((W - m.l - m.r) * v) / top;
  const parts: string[] = [`<text x="${(W - m.r) / 2}" y="20" class="title">${esc(o.title)}</text>`];
  for (const v of ticks) {
    const x = m.l + sx(v);
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${m.t}" y2="${H - m.b}" class="grid"/><text x="${x}" y="${H - m.b + 16}" class="tick" text-anchor="middle">${fmt(v)}</text>`,
    );
  }
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 4}" class="label" text-anchor="middle">${esc(o.unit)}</text>`);
  o.rows.forEach((r, i) => {
    const y = m.t + i * rowH + 3;
    parts.push(`<text x="${m.l - 8}" y="${y + rowH / 2 + 1}" class="tick" text-anchor="end">${esc(r.label)}</text>`);
    let x = m.l;
    for (const s of r.segments) {
      const w = sx(Math.max(0, s.value));
      if (w > 0)
        parts.push(
          `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${color(s.name)}"><title>${esc(`${r.label}: ${s.name} ${s.value.toFixed(3)} ${o.unit}`)}</title></rect>`,
        );
      x += w;
    }
    const total = r.segments.reduce((a, s) => a + s.value, 0);
    parts.push(`<text x="${x + 5}" y="${y + rowH / 2 + 1}" class="tick">${esc(r.note ?? total.toFixed(2))}</text>`);
  });
  names.forEach((n, i) => {
    const ly = m.t + 8 + i * 18;
    parts.push(
      `<rect x="${W - m.r + 40}" y="${ly - 6}" width="14" height="12" fill="${color(n)}"/><text x="${W - m.r + 60}" y="${ly + 4}" class="legend">${esc(n)}</text>`,
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">${parts.join('')}</svg>`;
}

export const CHART_CSS = `
svg { font-family: system-ui, sans-serif; background: #fff; margin: 8px 0; }
svg .title { font-size: 14px; font-weight: 600; text-anchor: middle; }
svg .tick { font-size: 11px; fill: #444; }
svg .label { font-size: 12px; fill: #222; }
svg .legend { font-size: 12px; fill: #222; }
svg .grid { stroke: #e5e5e5; stroke-width: 1; }
svg .frame { fill: none; stroke: #999; stroke-width: 1; }
`;
