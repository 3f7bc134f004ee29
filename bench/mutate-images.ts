/**
 * Hostile input for jpeg-input (issue 11): dev JPEGs plus generated PNG (8- and 16-bit) and WebP images, cut at many
 * points and mutated (bit flips, overwritten runs, zeroed runs), fed to the component. Counts outcomes by status; a
 * crash (an error that is not an InferError, or INTERNAL) or a truncated file answered OK fails the run.
 *
 *   node dist/bench/mutate-images.js [--count 10000] [--seed 1]
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import jpegInput from '../src/components/builtin/jpeg-input';
import type { CallContext, Component } from '../src/components/api';
import { codeName, isInferError } from '../src/errors';
import { Prng } from '../src/modelgen/prng';

export interface MutationReport {
  total: number;
  byCode: Record<string, number>;
  truncated: number;
  truncatedNotInvalid: string[];
  crashes: string[];
  multiLine: number;
}

/** A few clean images of every format the component takes. */
export async function seedImages(
  devDir: string | undefined,
  devCount: number,
): Promise<{ name: string; data: Buffer }[]> {
  const out: { name: string; data: Buffer }[] = [];
  if (devDir) {
    for (const f of readdirSync(devDir)
      .filter((x) => x.endsWith('.JPEG'))
      .sort()
      .slice(0, devCount)) {
      out.push({ name: f, data: readFileSync(path.join(devDir, f)) });
    }
  }
  const w = 400;
  const h = 300;
  const px = Buffer.alloc(w * h * 3);
  for (let i = 0; i < px.length; i++) px[i] = (i * 7 + ((i / 1200) | 0) * 3) & 255;
  const raw = { raw: { width: w, height: h, channels: 3 as const } };
  out.push({ name: 'gen.jpg', data: await sharp(px, raw).jpeg({ quality: 85 }).toBuffer() });
  out.push({ name: 'gen-progressive.jpg', data: await sharp(px, raw).jpeg({ progressive: true }).toBuffer() });
  out.push({ name: 'gen.png', data: await sharp(px, raw).png().toBuffer() });
  out.push({ name: 'gen16.png', data: await sharp(px, raw).toColourspace('rgb16').png().toBuffer() });
  out.push({ name: 'gen.webp', data: await sharp(px, raw).webp({ quality: 80 }).toBuffer() });
  return out;
}

const context = (): CallContext =>
  ({
    meta: {},
    signal: new AbortController().signal,
    deadline: Date.now() + 60_000,
    work: async <T>(_n: string, f: () => Promise<T> | T) => f(),
    addTags: () => undefined,
    addMetric: () => undefined,
  }) as unknown as CallContext;

export async function runMutations(
  seeds: { name: string; data: Buffer }[],
  count: number,
  seed = 1,
  component?: Component,
): Promise<MutationReport> {
  const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  const c =
    component ??
    (await jpegInput.create({}, { nodeName: 'jpeg-input', nodeType: 'TRANSFORMER', baseDir: '/', logger } as never));
  const r: MutationReport = { total: 0, byCode: {}, truncated: 0, truncatedNotInvalid: [], crashes: [], multiLine: 0 };
  for (const tc of mutationCases(seeds, count, seed)) {
    r.total++;
    let code = 'OK';
    try {
      await c.transformInput?.({ kind: 'bin', data: tc.data }, context());
    } catch (err) {
      if (!isInferError(err)) {
        r.crashes.push(`${tc.name}: ${(err as Error).message}`);
        code = 'CRASH';
      } else {
        code = codeName(err.code);
        if (code === 'INTERNAL' || code === 'UNKNOWN') r.crashes.push(`${tc.name}: ${code} ${err.message}`);
        if (/\n/.test(err.message)) r.multiLine++;
      }
    }
    r.byCode[code] = (r.byCode[code] ?? 0) + 1;
    if (tc.cut) {
      r.truncated++;
      if (code !== 'INVALID_ARGUMENT') r.truncatedNotInvalid.push(`${tc.name}: ${code}`);
    }
  }
  await c.close?.();
  return r;
}

export interface MutationCase {
  name: string;
  data: Buffer;
  /** A prefix of a whole file. */
  cut: boolean;
}

/** `count` hostile files from the seeds, the same for the same seed: half cuts, half bit flips and overwritten runs. */
export function mutationCases(seeds: { name: string; data: Buffer }[], count: number, seed = 1): MutationCase[] {
  const gen = new Prng(seed);
  const rand = (): number => gen.nextUint32() / 4294967296;
  // Half of the cases are cuts (evenly over each file, so every region is hit), half other mutations.
  const cutsPerSeed = Math.ceil(count / 2 / seeds.length);
  const cases: MutationCase[] = [];
  for (const s of seeds) {
    for (let k = 1; k <= cutsPerSeed; k++) {
      const at = Math.max(1, Math.floor((s.data.length * k) / (cutsPerSeed + 1)));
      cases.push({ name: `${s.name} cut at ${at}`, data: s.data.subarray(0, at), cut: true });
    }
  }
  while (cases.length < count) {
    const s = seeds[Math.floor(rand() * seeds.length)] as { name: string; data: Buffer };
    const d = Buffer.from(s.data);
    const kind = Math.floor(rand() * 3);
    const n = 1 + Math.floor(rand() * 16);
    for (let i = 0; i < n; i++) {
      const at = Math.floor(rand() * d.length);
      if (kind === 0) d[at] = (d[at] as number) ^ (1 << Math.floor(rand() * 8));
      else if (kind === 1) d.fill(Math.floor(rand() * 256), at, Math.min(d.length, at + Math.floor(rand() * 64)));
      else d.fill(0, at, Math.min(d.length, at + Math.floor(rand() * 256)));
    }
    cases.push({ name: `${s.name} mutation ${cases.length}`, data: d, cut: false });
  }
  return cases.slice(0, count);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '10000' },
      seed: { type: 'string', default: '1' },
      dev: { type: 'string', default: path.resolve(__dirname, '../../../shared/imagenet/dev') },
      devCount: { type: 'string', default: '5' },
    },
  });
  const seeds = await seedImages(values.dev, Number(values.devCount));
  const t0 = performance.now();
  const r = await runMutations(seeds, Number(values.count), Number(values.seed));
  console.log(
    `${r.total} mutated images from ${seeds.length} seeds in ${((performance.now() - t0) / 1000).toFixed(1)} s: ` +
      `${JSON.stringify(r.byCode)}; ${r.crashes.length} crashes; truncated ${r.truncated}, of which not ` +
      `INVALID_ARGUMENT: ${r.truncatedNotInvalid.length}; multi-line messages: ${r.multiLine}`,
  );
  for (const x of [...r.crashes, ...r.truncatedNotInvalid].slice(0, 10)) console.log(`  ${x}`);
  if (r.crashes.length || r.truncatedNotInvalid.length) process.exitCode = 1;
}

if (require.main === module) void main();
