// `models generate --int8`: QDQ int8 versions of the synthetic ResNet-50 and DenseNet-169 next to the fp32 files,
// calibrated on ImageNet dev images (or generated ones). Kept when made by the same quantizer from the same fp32 file.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as path from 'node:path';
import { ARCHS, type Arch, ensureModels, modelFileName } from './generate';
import { readOnnxMetadata } from './onnx-metadata';
import { QUANT_META, QUANTIZER_VERSION, quantizeFile, type QuantizeFileResult } from './quantize-model';

export const int8FileName = (arch: Arch): string => `${arch}-int8.onnx`;

export interface Int8Model {
  arch: Arch;
  path: string;
  reused: boolean;
  result?: QuantizeFileResult;
}

export async function ensureInt8Models(
  dir: string,
  opts: {
    seed?: number;
    calibration?: string;
    maxImages?: number;
    evaluate?: boolean;
    log?: (line: string) => void;
  } = {},
): Promise<Int8Model[]> {
  const log = opts.log ?? (() => undefined);
  await ensureModels(dir, { seed: opts.seed, log });
  const out: Int8Model[] = [];
  for (const arch of ARCHS) {
    const fp32 = path.join(dir, modelFileName(arch));
    const file = path.join(dir, int8FileName(arch));
    const source = `${path.basename(fp32)} sha256:${await sha256File(fp32)}`;
    const meta = await readOnnxMetadata(file).then(
      (m) => m.metadata,
      () => undefined,
    );
    if (
      meta &&
      meta[QUANT_META.version] === QUANTIZER_VERSION &&
      meta[QUANT_META.source] === source &&
      !opts.evaluate
    ) {
      log(`${file}: kept (int8 of ${path.basename(fp32)}, quantizer ${QUANTIZER_VERSION})`);
      out.push({ arch, path: file, reused: true });
      continue;
    }
    if (meta) log(`${file}: made from another fp32 file or quantizer version; re-quantising`);
    const result = await quantizeFile(fp32, file, {
      calibration: opts.calibration,
      maxImages: opts.maxImages,
      evaluate: opts.evaluate,
      log,
    });
    out.push({ arch, path: file, reused: false, result });
  }
  return out;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
