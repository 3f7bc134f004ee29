import type { Command } from 'commander';
import { isModulePath, loadComponentDefinition } from '../../components/registry';
import { allNodes, type GraphSpec, type NodeSpec } from '../../graph/spec';
import { ANNOTATION } from '../../seldon/convert';
import { loadAnyManifestFile, type LoadedGraph } from '../../seldon/load';
import { loadServerTable } from '../../seldon/servers';

/**
 * `infergraph validate`: checks a manifest (an InferenceGraph or a SeldonDeployment) and prints the graph tree with
 * defaults applied, one per predictor of a SeldonDeployment. User component modules are checked to exist but not
 * loaded (validating never runs user code) unless --load-modules says so.
 */
export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('validate a graph manifest or a SeldonDeployment and print its tree')
    .argument('<manifest>', 'InferenceGraph or SeldonDeployment (YAML)')
    .option(
      '--load-modules',
      'also load user component modules to check their node types and parameters (runs their code)',
    )
    .option('--servers <file>', "prepackaged model servers: Seldon's predictor_servers table (JSON or YAML)")
    .action((manifest: string, o: { loadModules?: boolean; servers?: string }) => {
      const loaded = loadAnyManifestFile(manifest, {
        loadModules: o.loadModules === true,
        checkFiles: true,
        loadModule: loadComponentDefinition,
        ...(o.servers ? { servers: loadServerTable(o.servers) } : {}),
      });
      for (const w of loaded.warnings) console.error(`warning: ${w}`);
      if (loaded.seldon) {
        const s = loaded.seldon;
        console.log(
          `${s.name}: SeldonDeployment, ${s.predictors.length} predictor(s), protocol ${s.protocol}, transport ${s.transport}`,
        );
      }
      const unchecked: string[] = [];
      for (const g of loaded.graphs) printGraph(g, o.loadModules === true, unchecked);
      if (unchecked.length) {
        console.log(
          `not loaded: user module of ${unchecked.join(', ')} (the file exists; its node process checks the parameters at start-up, or pass --load-modules)`,
        );
      }
    });
}

function printGraph({ graph: g, manifest }: LoadedGraph, loadModules: boolean, unchecked: string[]): void {
  const line = (n: NodeSpec, depth: number): void => {
    const user = !n.endpoint && !n.runtime.container && isModulePath(n.implementation);
    if (user && !loadModules) unchecked.push(n.name);
    const replicas = n.runtime.replicas > 1 ? ` x${n.runtime.replicas}` : '';
    const what = n.endpoint
      ? `endpoint ${n.endpoint}`
      : n.runtime.container
        ? `container ${n.runtime.container.image}`
        : n.implementation;
    const placed = n.runtime.placement === 'executor' ? ' (in the executor)' : '';
    console.log(`${'  '.repeat(depth)}${n.name} ${n.type} ${what}${replicas}${placed}`);
    n.children.forEach((c) => line(c, depth + 1));
  };
  console.log(`${header(g)}${predictorNote(manifest.metadata)}`);
  if (!g.predictors) return line(g.graph, 1);
  for (const p of g.predictors) {
    console.log(
      `  predictor ${p.name}: ${p.shadow ? `shadow, copies ${p.traffic}% of requests` : `traffic ${p.traffic}%`}`,
    );
    line(p.graph, 2);
  }
}

const header = (g: GraphSpec): string =>
  `${g.name}: ${allNodes(g).length} nodes, codec ${g.codec}, hops over ${g.hopTransport}, deadline ${g.deadlineMs} ms`;

function predictorNote(metadata: Record<string, unknown>): string {
  const ann = (metadata.annotations ?? {}) as Record<string, string>;
  if (ann[ANNOTATION.predictor] === undefined) return '';
  return ann[ANNOTATION.shadow] === 'true' ? ', shadow' : `, traffic ${ann[ANNOTATION.traffic] ?? '0'}%`;
}
