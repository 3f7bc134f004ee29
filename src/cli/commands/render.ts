import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../../errors';
import { isObj } from '../../graph/check';
import { parseManifest } from '../../graph/manifest';
import { desiredObjects, renderYaml } from '../../k8s/desired';
import { DEFAULT_IMAGE } from '../../k8s/names';

/** `infergraph render`: the Kubernetes objects the operator would apply for a manifest, as multi-document YAML. */
export function registerRender(program: Command): void {
  program
    .command('render')
    .description('print the Kubernetes objects of a graph (what the operator applies), for kubectl apply -f -')
    .argument('<manifest>', 'graph manifest (YAML)')
    .option('--image <image>', 'container image of the nodes and the executor', DEFAULT_IMAGE)
    .option('-n, --namespace <ns>', "namespace of every object (default: the manifest's metadata.namespace, else none)")
    .action((manifest: string, o: { image: string; namespace?: string }) => {
      const text = readFileSync(manifest, 'utf8');
      const graph = parseManifest(text, path.dirname(path.resolve(manifest)), manifest);
      const doc: unknown = parseYaml(text);
      if (!isObj(doc) || !isObj(doc.metadata)) throw new ConfigError([`${manifest}: not a manifest`]);
      const objects = desiredObjects({
        graph,
        manifest: {
          apiVersion: String(doc.apiVersion),
          kind: String(doc.kind),
          metadata: doc.metadata,
          spec: doc.spec,
        },
        image: o.image,
        namespace: o.namespace,
      });
      process.stdout.write(renderYaml(objects));
    });
}
