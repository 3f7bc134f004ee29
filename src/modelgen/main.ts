// Standalone entry for the generator: `node dist/src/modelgen/main.js [dir] [--seed N]`.
// The user-facing command is `infergraph models generate`; this exists so the generator can run without the CLI.
import * as path from 'node:path';
import { DEFAULT_SEED, ensureModels } from './generate';

const USAGE = 'usage: node dist/src/modelgen/main.js [dir (default models/generated)] [--seed N]';

async function main(argv: readonly string[]): Promise<void> {
  let dir = path.join('models', 'generated');
  let seed = DEFAULT_SEED;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--seed') {
      seed = Number(argv[++i]);
    } else if (arg === '-h' || arg === '--help') {
      console.log(USAGE);
      return;
    } else if (arg.startsWith('-')) {
      throw new Error(`unknown option ${arg}\n${USAGE}`);
    } else {
      dir = arg;
    }
  }
  const models = await ensureModels(path.resolve(dir), { seed, log: (line) => console.log(line) });
  for (const m of models) console.log(`${m.arch}\t${m.path}\t${m.params}\t${m.bytes}\tsha256:${m.sha256}`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
