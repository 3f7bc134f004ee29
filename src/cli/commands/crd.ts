import type { Command } from 'commander';
import { crdYaml } from '../../k8s/crd';
import { seldonCrdYaml } from '../../k8s/seldon-crd';

/**
 * `infergraph crd`: the InferenceGraph CRD generated from the manifest schema (npm run gen:crd writes k8s/crd.yaml),
 * or with --seldon a SeldonDeployment CRD for clusters without Seldon Core.
 */
export function registerCrd(program: Command): void {
  program
    .command('crd')
    .description("print the InferenceGraph CustomResourceDefinition (generated from the manifest validator's schema)")
    .option('--seldon', 'print the SeldonDeployment CRD instead (machinelearning.seldon.io v1, v1alpha2, v1alpha3)')
    .action((o: { seldon?: boolean }) => {
      process.stdout.write(o.seldon ? seldonCrdYaml() : crdYaml());
    });
}
