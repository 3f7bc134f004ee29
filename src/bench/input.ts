import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { walkNodes, type GraphSpec } from '../graph/spec';
import type { Payload } from '../message/message';
import { fromNumbers } from '../tensor/tensor';
import { projectRoot } from '../util/paths';

/** What the bench sends: an image for graphs that start with jpeg-input, a tensor otherwise. */

export interface BenchInput {
  payload: Payload;
  description: string;
}

export const graphTakesImage = (g: GraphSpec): boolean =>
  walkNodes(g.graph).some((n) => n.implementation === 'jpeg-input');

/** The first ImageNet dev image from the shared data folder when present, else a generated 500×375 JPEG. */
export async function defaultImage(): Promise<BenchInput> {
  const dir = path.resolve(projectRoot(), '..', 'shared', 'imagenet', 'dev');
  if (existsSync(dir)) {
    const first = readdirSync(dir)
      .filter((f) => /\.jpe?g$/i.test(f))
      .sort()[0];
    if (first) {
      const data = readFileSync(path.join(dir, first));
      return {
        payload: { kind: 'bin', data },
        description: `JPEG ${path.join('../shared/imagenet/dev', first)} (${data.byteLength} bytes)`,
      };
    }
  }
  // Smooth gradients plus noise: compresses like a photo (about 40-60 KB), not like a flat colour.
  const { default: sharp } = await import('sharp');
  const w = 500;
  const h = 375;
  const px = Buffer.alloc(w * h * 3);
  let seed = 12345;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const n = (seed >>> 24) % 48;
      const i = 3 * (y * w + x);
      px[i] = (x * 255) / w + n;
      px[i + 1] = (y * 255) / h + n;
      px[i + 2] = ((x + y) * 127) / (w + h) + n;
    }
  }
  const data = await sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
  return { payload: { kind: 'bin', data }, description: `generated ${w}x${h} JPEG (${data.byteLength} bytes)` };
}

export function imageFile(file: string): BenchInput {
  const data = readFileSync(file);
  return { payload: { kind: 'bin', data }, description: `${file} (${data.byteLength} bytes)` };
}

/** A float32 tensor of the given shape with small deterministic values. */
export function shapedTensor(shape: number[]): BenchInput {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = ((i * 7919) % 1000) / 1000;
  const tensor = fromNumbers('float32', shape, values);
  return {
    payload: { kind: 'tensor', tensor },
    description: `float32 tensor [${shape.join(',')}] (${values.byteLength} bytes)`,
  };
}
