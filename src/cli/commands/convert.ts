import type { Command } from 'commander';
import { stringify } from 'yaml';
import { ConfigError } from '../../errors';
import { loadAnyManifestFile } from '../../seldon/load';
import { loadServerTable } from '../../seldon/servers';

/**
 * `infergraph convert`: a SeldonDeployment as the equivalent InferenceGraphs (one per predictor), for those moving
 * over for good. What has no InferenceGraph field yet (traffic, shadow) is in each graph's annotations.
 */
export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description('print a SeldonDeployment as the equivalent InferenceGraph manifests (one per predictor)')
    .argument('<manifest>', 'SeldonDeployment (YAML)')
    .option('--servers <file>', "prepackaged model servers: Seldon's predictor_servers table (JSON or YAML)")
    .action((manifest: string, o: { servers?: string }) => {
      const loaded = loadAnyManifestFile(manifest, o.servers ? { servers: loadServerTable(o.servers) } : {});
      if (!loaded.seldon)
        throw new ConfigError([`${manifest}: not a SeldonDeployment: it is already an InferenceGraph`]);
      for (const w of loaded.warnings) console.error(`warning: ${w}`);
      process.stdout.write(
        loaded.graphs
          .map((g) => `---\n${stringify(g.manifest, { lineWidth: 0, aliasDuplicateObjects: false })}`)
          .join(''),
      );
    });
}
