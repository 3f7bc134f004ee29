/**
 * jpeg-input compute time per image, in process, over the dev images: the default (torchvision-exact) against each
 * parameter, and optionally against another build of the component (`--before`, e.g. the previous commit's
 * dist/src/components/builtin/jpeg-input.js) in the same run. Configurations take turns image by image (order rotated),
 * after a warm-up pass, so machine noise hits all of them alike. Prints, per configuration, the median over images of
 * each image's median time (transformInput: decode, resize, crop, normalise to float32).
 *
 *   node dist/bench/jpeg-input-time.js [--images DIR] [--rounds 3] [--before path/to/jpeg-input.js] [--per-image]
 *     [--only default,before]
 *
 * Besides wall time it prints CPU time (process.cpuUsage: all threads, so libvips's decode counts too; the
 * configurations run one at a time), which a busy shared machine inflates far less than wall time.
 *
 * A previous build to compare with, e.g. the commit before torchvision-exact preprocessing:
 *   mkdir /tmp/old && git archive 8955a1f | tar -x -C /tmp/old && ln -s "$PWD/node_modules" /tmp/old/node_modules
 *   (cd /tmp/old && npx tsc -p tsconfig.json)
 *   node dist/bench/jpeg-input-time.js --rounds 5 --before /tmp/old/dist/src/components/builtin/jpeg-input.js
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import type { Component, ComponentDefinition } from '../src/components/api';
import { CollectingCallContext } from '../src/components/call-context';
import jpegInput from '../src/components/builtin/jpeg-input';
import { emptyMeta } from '../src/message/message';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(): Promise<void> {
  const dir = path.resolve(arg('--images', path.join(__dirname, '../../../shared/imagenet/dev')));
  const rounds = Number(arg('--rounds', '3'));
  const before = process.argv.includes('--before') ? path.resolve(arg('--before', '')) : undefined;
  const ctx = { nodeName: 'bench', nodeType: 'TRANSFORMER' as const, baseDir: '.', logger: pino({ level: 'silent' }) };
  const all3 = jpegInput.create({ exifOrientation: true, colourManagement: true, fastShrinkOnLoad: true }, ctx);
  const all: [string, Component][] = [
    ['default (exact)', jpegInput.create({}, ctx) as Component],
    ['uint8 (the ensemble graph)', jpegInput.create({ outputDtype: 'uint8' }, ctx) as Component],
    ['decoder: libvips', jpegInput.create({ decoder: 'libvips' }, ctx) as Component],
    ['decoder: libvips, uint8', jpegInput.create({ decoder: 'libvips', outputDtype: 'uint8' }, ctx) as Component],
    ['exifOrientation', jpegInput.create({ exifOrientation: true }, ctx) as Component],
    ['colourManagement', jpegInput.create({ colourManagement: true }, ctx) as Component],
    ['fastShrinkOnLoad', jpegInput.create({ fastShrinkOnLoad: true }, ctx) as Component],
    ['all three', all3 as Component],
  ];
  if (before) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const def = (require(before) as { default: ComponentDefinition }).default;
    all.push([`before (${path.relative(process.cwd(), before)})`, await def.create({}, ctx)]);
  }
  const only = process.argv.includes('--only') ? arg('--only', '').split(',') : undefined;
  const configs = all.filter(([name]) => !only || only.some((o) => name.startsWith(o)));
  const files = readdirSync(dir)
    .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
    .sort();
  const images = files.map((f) => readFileSync(path.join(dir, f)));
  const times = configs.map(() => images.map((): number[] => []));
  const cpu = configs.map(() => images.map((): number[] => []));
  const once = async (c: Component, data: Buffer, k?: number, i?: number): Promise<void> => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await c.transformInput!({ kind: 'bin', data }, new CollectingCallContext(emptyMeta('bench')));
    const t = performance.now() - t0;
    const used = process.cpuUsage(c0);
    if (k === undefined || i === undefined) return;
    (times[k]?.[i] as number[]).push(t);
    (cpu[k]?.[i] as number[]).push((used.user + used.system) / 1000);
  };
  for (const [, c] of configs) for (const data of images) await once(c, data);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < images.length; i++) {
      for (let k = 0; k < configs.length; k++) {
        const j = (k + i + r) % configs.length;
        await once((configs[j] as [string, Component])[1], images[i] as Buffer, j, i);
      }
    }
  }
  console.log(`${images.length} images in ${dir}, ${rounds} rounds; ms per image (median over images of each median)`);
  const base = median((times[0] as number[][]).map(median));
  configs.forEach(([name], k) => {
    const perImage = (times[k] as number[][]).map(median);
    const m = median(perImage);
    const p90 = [...perImage].sort((a, b) => a - b)[Math.floor(perImage.length * 0.9)] as number;
    const ratio = (m / base).toFixed(2);
    const c = median((cpu[k] as number[][]).map(median));
    console.log(
      `${name.padEnd(60)} median ${m.toFixed(2)} ms  p90 ${p90.toFixed(2)} ms  (${ratio}x default)  CPU median ${c.toFixed(2)} ms`,
    );
    if (process.argv.includes('--per-image')) {
      perImage.forEach((t, i) => console.log(`  ${files[i]}: ${t.toFixed(1)} ms`));
    }
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
