import type { Command } from 'commander';
import path from 'node:path';
import { DEFAULT_SEED, ensureModels } from '../../modelgen/generate';
import { ensureInt8Models } from '../../modelgen/generate-int8';
import { quantizeFile } from '../../modelgen/quantize-model';
import type { Agreement } from '../../modelgen/calibrate';
import { projectRoot } from '../../util/paths';
import { intFlag } from '../flags';

const DEFAULT_CALIBRATION = (): string => path.resolve(projectRoot(), '..', 'shared', 'imagenet', 'dev');

const describeAgreement = (a: Agreement): string =>
  `fp32 vs int8 on ${a.images} calibration inputs: top-1 agreement ${(a.top1 * 100).toFixed(1)} %, ` +
  `output cosine similarity mean ${a.cosineMean.toFixed(5)}, min ${a.cosineMin.toFixed(5)}`;

/** `infergraph models generate | quantize`: the example graphs' model files, and int8 versions of fp32 CNNs. */
export function registerModels(program: Command): void {
  const models = program.command('models').description('model files for the example graphs');
  models
    .command('generate')
    .description(
      'write synthetic-weight ResNet-50 and DenseNet-169 ONNX files (exact architectures, seeded weights) if missing',
    )
    .option('-d, --dir <dir>', 'output folder', path.join(projectRoot(), 'models', 'generated'))
    .option('--seed <n>', 'weight seed (uint32)', String(DEFAULT_SEED))
    .option('--int8', 'also write QDQ int8 versions (<arch>-int8.onnx), calibrated on --calibration images')
    .option(
      '--calibration <dir>',
      'calibration images for --int8 (generated images when the folder is absent)',
      DEFAULT_CALIBRATION(),
    )
    .option('--max-images <n>', 'use at most this many calibration images', '100')
    .option('--evaluate', 'with --int8: report fp32 vs int8 agreement on the calibration images (re-quantises)')
    .action(
      async (o: {
        dir: string;
        seed: string;
        int8?: boolean;
        calibration: string;
        maxImages: string;
        evaluate?: boolean;
      }) => {
        const seed = intFlag('--seed', o.seed, { min: 0, max: 0xffffffff });
        const log = (line: string): void => console.log(line);
        const out = await ensureModels(path.resolve(o.dir), { seed, log });
        for (const m of out) {
          console.log(
            `${m.arch}: ${m.path} (${(m.params / 1e6).toFixed(1)} M params, ${(m.bytes / 1e6).toFixed(1)} MB, ${m.reused ? 'already present' : `written in ${Math.round(m.ms)} ms`}) — synthetic weights: predictions are meaningless`,
          );
        }
        if (!o.int8) return;
        const int8 = await ensureInt8Models(path.resolve(o.dir), {
          seed,
          calibration: path.resolve(o.calibration),
          maxImages: intFlag('--max-images', o.maxImages, { min: 1 }),
          evaluate: o.evaluate,
          log,
        });
        for (const m of int8) {
          const r = m.result;
          console.log(`${m.arch} int8: ${m.path} (${r ? `written in ${Math.round(r.ms)} ms` : 'already present'})`);
          if (r?.agreement) console.log(`  ${describeAgreement(r.agreement)}`);
        }
      },
    );
  models
    .command('quantize <model>')
    .description(
      'write a QDQ int8 copy of an fp32 ONNX CNN: int8 per-channel weights, uint8 activations calibrated on images',
    )
    .requiredOption(
      '--calibration <dir>',
      'folder of calibration images (JPEG/PNG/WebP), preprocessed as for ImageNet models',
    )
    .option('-o, --out <file>', 'output file (default: <model>-int8.onnx)')
    .option('--max-images <n>', 'use at most this many calibration images', '100')
    .option('--no-evaluate', 'skip the fp32 vs int8 comparison on the calibration images')
    .action(async (model: string, o: { calibration: string; out?: string; maxImages: string; evaluate: boolean }) => {
      const input = path.resolve(model);
      const out = path.resolve(o.out ?? input.replace(/(\.onnx)?$/i, '-int8.onnx'));
      if (out === input) throw new Error('--out must differ from the input model');
      const r = await quantizeFile(input, out, {
        calibration: path.resolve(o.calibration),
        maxImages: intFlag('--max-images', o.maxImages, { min: 1 }),
        evaluate: o.evaluate,
        log: (line) => console.log(line),
      });
      console.log(`wrote ${r.out} (${(r.bytes / 1e6).toFixed(1)} MB) in ${Math.round(r.ms)} ms`);
      if (r.agreement) console.log(describeAgreement(r.agreement));
    });
}
