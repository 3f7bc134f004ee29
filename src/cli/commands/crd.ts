import type { Command } from 'commander';
import { crdYaml } from '../../k8s/crd';

/**
 * `infergraph crd`: the InferenceGraph CRD generated from the manifest schema (npm run gen:crd writes k8s/crd.yaml).
 */
export function registerCrd(program: Command): void {
  program
    .command('crd')
    .description("print the InferenceGraph CustomResourceDefinition (generated from the manifest validator's schema)")
    .action(() => {
      process.stdout.write(crdYaml());
    });
}
