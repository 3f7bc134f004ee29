import type { Command } from 'commander';
import path from 'node:path';
import { DEFAULT_SEED, ensureModels } from '../../modelgen/generate';
import { projectRoot } from '../../util/paths';
import { intFlag } from '../flags';

/** `infergraph models generate`: the synthetic ResNet-50 / DenseNet-169 the example graphs serve out of the box. */
export function registerModels(program: Command): void {
  const models = program.command('models').description('model files for the example graphs');
  models
    .command('generate')
    .description('write synthetic-weight ResNet-50 and DenseNet-169 ONNX files (exact architectures, seeded weights) if missing')
    .option('-d, --dir <dir>', 'output folder', path.join(projectRoot(), 'models', 'generated'))
    .option('--seed <n>', 'weight seed (uint32)', String(DEFAULT_SEED))
    .action(async (o: { dir: string; seed: string }) => {
      const seed = intFlag('--seed', o.seed, { min: 0, max: 0xffffffff });
      const out = await ensureModels(path.resolve(o.dir), { seed, log: (line) => console.log(line) });
      for (const m of out) {
        console.log(`${m.arch}: ${m.path} (${(m.params / 1e6).toFixed(1)} M params, ${(m.bytes / 1e6).toFixed(1)} MB, ${m.reused ? 'already present' : `written in ${Math.round(m.ms)} ms`}) — synthetic weights: predictions are meaningless`);
      }
    });
}
