import type { Command } from 'commander';
import { desiredObjects, renderYaml } from '../../k8s/desired';
import { DEFAULT_IMAGE } from '../../k8s/names';
import { loadAnyManifestFile } from '../../seldon/load';
import { loadServerTable } from '../../seldon/servers';

/**
 * `infergraph render`: the Kubernetes objects the operator would apply for a manifest, as multi-document YAML. A
 * SeldonDeployment renders each predictor's InferenceGraph.
 */
export function registerRender(program: Command): void {
  program
    .command('render')
    .description('print the Kubernetes objects of a graph (what the operator applies), for kubectl apply -f -')
    .argument('<manifest>', 'InferenceGraph or SeldonDeployment (YAML)')
    .option('--image <image>', 'container image of the nodes and the executor', DEFAULT_IMAGE)
    .option('-n, --namespace <ns>', "namespace of every object (default: the manifest's metadata.namespace, else none)")
    .option('--request-logger-default-endpoint <url>', "executor's payload-log sink for loggers without a url")
    .option('--servers <file>', "prepackaged model servers: Seldon's predictor_servers table (JSON or YAML)")
    .action(
      (
        manifest: string,
        o: { image: string; namespace?: string; servers?: string; requestLoggerDefaultEndpoint?: string },
      ) => {
        const loaded = loadAnyManifestFile(manifest, o.servers ? { servers: loadServerTable(o.servers) } : {});
        for (const w of loaded.warnings) console.error(`warning: ${w}`);
        const objects = loaded.graphs.flatMap(({ graph, manifest: m }) =>
          desiredObjects({
            graph,
            manifest: m,
            image: o.image,
            namespace: o.namespace,
            ...(o.requestLoggerDefaultEndpoint ? { requestLoggerDefaultEndpoint: o.requestLoggerDefaultEndpoint } : {}),
          }),
        );
        process.stdout.write(renderYaml(objects));
      },
    );
}
