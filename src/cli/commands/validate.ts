import type { Command } from 'commander';
import { loadManifestFile } from '../../graph/manifest';
import { walkNodes, type NodeSpec } from '../../graph/spec';

/** `infergraph validate`: checks a manifest and prints the graph tree with defaults applied. */
export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('validate a graph manifest and print its tree')
    .argument('<manifest>', 'graph manifest (YAML)')
    .action((manifest: string) => {
      const g = loadManifestFile(manifest);
      const line = (n: NodeSpec, depth: number): void => {
        console.log(`${'  '.repeat(depth)}${n.name} ${n.type} ${n.endpoint ? `endpoint ${n.endpoint}` : n.implementation}`);
        n.children.forEach((c) => line(c, depth + 1));
      };
      const hops = `hops over ${g.hopTransport}`;
      console.log(`${g.name}: ${walkNodes(g.graph).length} nodes, codec ${g.codec}, ${hops}, deadline ${g.deadlineMs} ms`);
      line(g.graph, 1);
    });
}
