import { existsSync } from 'node:fs';
import path from 'node:path';
import { builtinInfo, isModulePath } from '../components/catalog';
import { ConfigError } from '../errors';
import { allNodes, type GraphSpec } from '../graph/spec';
import { projectRoot } from '../util/paths';
import { ARCHS, ensureModels, modelFileName } from './generate';
import { int8FileName } from './generate-int8';

/**
 * The example graphs' model files, for commands that start a graph (`bench`): `npm start` runs `models generate`
 * first, and a bench of the same manifest should not fail minutes later with "node 'densenet169' exited during
 * start-up" because it did not (issue 22).
 */

export interface MissingFile {
  /** e.g. spec.graph.children[1] (densenet169).parameters.model */
  where: string;
  file: string;
}

export const generatedModelsDir = (): string => path.join(projectRoot(), 'models', 'generated');

/** Parameters of built-in components that the catalogue declares as paths and whose file does not exist. */
export function missingFiles(graph: GraphSpec): MissingFile[] {
  const out: MissingFile[] = [];
  for (const n of allNodes(graph)) {
    if (n.endpoint || isModulePath(n.implementation)) continue;
    let schema;
    try {
      schema = builtinInfo(n.implementation).parameters;
    } catch {
      continue; // validation has said so already
    }
    for (const [k, s] of Object.entries(schema)) {
      const v = n.parameters[k];
      if (s.type === 'path' && typeof v === 'string' && !existsSync(v))
        out.push({ where: `${n.path} (${n.name}).parameters.${k}`, file: v });
    }
  }
  return out;
}

/** The command that writes `file`, when it is one of the generated example models. */
export function commandFor(file: string, dir = generatedModelsDir()): string | undefined {
  if (path.dirname(path.resolve(file)) !== path.resolve(dir)) return undefined;
  const base = path.basename(file);
  for (const arch of ARCHS) {
    if (base === modelFileName(arch)) return 'infergraph models generate';
    if (base === int8FileName(arch)) return 'infergraph models generate --int8';
  }
  return undefined;
}

/**
 * Writes the synthetic fp32 models when one of them is missing (what `npm start` does); anything still missing after
 * that is a ConfigError naming the parameter, the file, and the command that makes it when there is one (the int8
 * models take a calibration run, so they are named, not made).
 */
export async function ensureGraphModels(
  graph: GraphSpec,
  log: (line: string) => void,
  opts: { dir?: string; generate?: (dir: string) => Promise<unknown> } = {},
): Promise<void> {
  const dir = opts.dir ?? generatedModelsDir();
  const generate = opts.generate ?? ((d: string) => ensureModels(d, { log }));
  const missing = missingFiles(graph);
  if (missing.some((m) => commandFor(m.file, dir) === 'infergraph models generate')) {
    log(`generating the example models in ${dir} (as \`infergraph models generate\` does)`);
    await generate(dir);
  }
  const still = missingFiles(graph);
  if (still.length) {
    throw new ConfigError(
      still.map((m) => {
        const cmd = commandFor(m.file, dir);
        return `${m.where}: file ${m.file} does not exist${cmd ? `; \`${cmd}\` makes it` : ''}`;
      }),
    );
  }
}
