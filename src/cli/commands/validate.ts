import type { Command } from 'commander';
import { isModulePath, loadComponentDefinition } from '../../components/registry';
import { loadManifestFile } from '../../graph/manifest';
import { walkNodes, type NodeSpec } from '../../graph/spec';

/**
 * `infergraph validate`: checks a manifest and prints the graph tree with defaults applied. User component modules
 * are checked to exist but not loaded (validating never runs user code) unless --load-modules says so.
 */
export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('validate a graph manifest and print its tree')
    .argument('<manifest>', 'graph manifest (YAML)')
    .option(
      '--load-modules',
      'also load user component modules to check their node types and parameters (runs their code)',
    )
    .action((manifest: string, o: { loadModules?: boolean }) => {
      const g = loadManifestFile(manifest, {
        loadModules: o.loadModules === true,
        checkFiles: true,
        loadModule: loadComponentDefinition,
      });
      const unchecked: string[] = [];
      const line = (n: NodeSpec, depth: number): void => {
        const user = !n.endpoint && isModulePath(n.implementation);
        if (user && !o.loadModules) unchecked.push(n.name);
        const replicas = n.runtime.replicas > 1 ? ` x${n.runtime.replicas}` : '';
        console.log(
          `${'  '.repeat(depth)}${n.name} ${n.type} ${n.endpoint ? `endpoint ${n.endpoint}` : n.implementation}${replicas}`,
        );
        n.children.forEach((c) => line(c, depth + 1));
      };
      const hops = `hops over ${g.hopTransport}`;
      console.log(
        `${g.name}: ${walkNodes(g.graph).length} nodes, codec ${g.codec}, ${hops}, deadline ${g.deadlineMs} ms`,
      );
      line(g.graph, 1);
      if (unchecked.length) {
        console.log(
          `not loaded: user module of ${unchecked.join(', ')} (the file exists; its node process checks the parameters at start-up, or pass --load-modules)`,
        );
      }
    });
}
