/**
 * A strict parser of the Prometheus text exposition format (0.0.4): every line must be a HELP, a TYPE or a sample;
 * names, label names and escapes are checked; each sample belongs to a family declared by a TYPE line before it;
 * histograms have _bucket (with le), _sum and _count, cumulative buckets ending in +Inf == _count; no duplicate series.
 * It throws with the line number on the first problem.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help?: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];
const SUFFIXES: Record<string, string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
  counter: [''],
  gauge: [''],
  untyped: [''],
};

export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  text
    .slice(0, -1)
    .split('\n')
    .forEach((line, i) => {
      const at = `line ${i + 1} (${JSON.stringify(line.slice(0, 80))})`;
      if (line === '') return;
      if (line.startsWith('#')) {
        const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
        if (!m) {
          if (/^# (HELP|TYPE)/.test(line)) throw new Error(`${at}: malformed ${line.slice(2, 6)}`);
          return; // a comment
        }
        const [, kind, name, rest] = m as unknown as [string, string, string, string];
        if (!NAME.test(name)) throw new Error(`${at}: bad metric name`);
        const f = families.get(name) ?? { name, type: '', samples: [] };
        if (kind === 'TYPE') {
          if (f.type) throw new Error(`${at}: second TYPE for ${name}`);
          if (!TYPES.includes(rest)) throw new Error(`${at}: unknown type ${rest}`);
          if (f.samples.length) throw new Error(`${at}: TYPE after samples`);
          f.type = rest;
        } else {
          if (f.help !== undefined) throw new Error(`${at}: second HELP for ${name}`);
          f.help = rest;
        }
        families.set(name, f);
        return;
      }
      const s = parseSample(line, at);
      const fam = familyOf(s.name, families);
      if (!fam) throw new Error(`${at}: sample of no declared family`);
      const key = `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;
      if (seen.has(key)) throw new Error(`${at}: duplicate series`);
      seen.add(key);
      if (fam.type === 'histogram' && s.name.endsWith('_bucket') && s.labels.le === undefined)
        throw new Error(`${at}: bucket without le`);
      fam.samples.push(s);
    });
  for (const f of families.values()) {
    if (!f.type) throw new Error(`family ${f.name} has HELP but no TYPE`);
    if (f.type === 'histogram') checkHistogram(f);
  }
  return families;
}

function familyOf(sample: string, families: Map<string, Family>): Family | undefined {
  for (const [name, f] of families) {
    if ((SUFFIXES[f.type] ?? ['']).some((suf) => sample === name + suf)) return f;
  }
  return undefined;
}

function parseSample(line: string, at: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( -?\d+)?$/.exec(line);
  if (!m) throw new Error(`${at}: not a sample line`);
  const labels: Record<string, string> = {};
  const body = m[2] ? m[2].slice(1, -1) : '';
  let i = 0;
  while (i < body.length) {
    const lm = /^([^=]+)="/.exec(body.slice(i));
    if (!lm) throw new Error(`${at}: bad label at ${i}`);
    const lname = lm[1] as string;
    if (!LABEL.test(lname)) throw new Error(`${at}: bad label name ${lname}`);
    if (lname in labels) throw new Error(`${at}: label ${lname} twice`);
    i += lm[0].length;
    let v = '';
    for (;;) {
      const ch = body[i];
      if (ch === undefined) throw new Error(`${at}: unterminated label value`);
      if (ch === '"') break;
      if (ch === '\\') {
        const e = body[i + 1];
        if (e === 'n') v += '\n';
        else if (e === '\\' || e === '"') v += e;
        else throw new Error(`${at}: bad escape \\${e}`);
        i += 2;
      } else {
        v += ch;
        i++;
      }
    }
    labels[lname] = v;
    i++;
    if (body[i] === ',') i++;
    else if (i < body.length) throw new Error(`${at}: expected ',' between labels`);
  }
  const raw = m[3] as string;
  // Prometheus parses values with Go's ParseFloat, which takes NaN in any case (prom-client writes 'Nan').
  const nan = /^nan$/i.test(raw);
  const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : nan ? NaN : Number(raw);
  if (Number.isNaN(value) && !nan) throw new Error(`${at}: bad value ${raw}`);
  return { name: m[1] as string, labels, value };
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const g = groups.get(key) ?? { buckets: [] };
    if (s.name.endsWith('_bucket')) g.buckets.push([le === '+Inf' ? Infinity : Number(le), s.value]);
    else if (s.name.endsWith('_count')) g.count = s.value;
    else g.sum = s.value;
    groups.set(key, g);
  }
  for (const [key, g] of groups) {
    const where = `${f.name}${key}`;
    if (g.count === undefined || g.sum === undefined) throw new Error(`${where}: histogram without _count or _sum`);
    const last = g.buckets[g.buckets.length - 1];
    if (!last || last[0] !== Infinity) throw new Error(`${where}: no +Inf bucket`);
    if (last[1] !== g.count) throw new Error(`${where}: +Inf bucket ${last[1]} != _count ${g.count}`);
    g.buckets.forEach(([le, v], i) => {
      const prev = g.buckets[i - 1];
      if (prev && (prev[0] >= le || prev[1] > v)) throw new Error(`${where}: buckets not increasing at le=${le}`);
    });
  }
}

/** Sum of the samples named `name` whose labels include `match`. */
export function total(families: Map<string, Family>, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)) sum += s.value;
    }
  }
  return sum;
}
