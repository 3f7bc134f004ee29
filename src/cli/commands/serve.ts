import type { Command } from 'commander';
import { startExecutorServer } from '../../executor/executor-server';
import { loadManifestFile } from '../../graph/manifest';
import { findNode, walkNodes } from '../../graph/spec';
import { startNodeServer } from '../../node/node-server';
import { startTracing, type Tracing } from '../../telemetry';
import { createLogger } from '../../util/logger';
import { logLevelFlag, portFlag, usageError } from '../flags';
import { serveUntilStopped } from '../process';

/** `infergraph node` and `infergraph executor`: the two kinds of long-running process in a graph. */

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** Stop serving first (in-flight requests finish their spans), then flush the spans out before the process exits. */
const closeThenFlush = (close: () => Promise<void>, tracing: Tracing | undefined) => async (): Promise<void> => {
  try {
    await close();
  } finally {
    await tracing?.shutdown();
  }
};

export function registerServe(program: Command): void {
  program
    .command('node')
    .description('serve one node of a graph (its component behind the Seldon gRPC services, health, reflection)')
    .requiredOption('-g, --graph <file>', 'graph manifest (YAML)')
    .requiredOption('-n, --node <name>', 'node name in the manifest')
    .option('-a, --address <addr>', 'listen address: host:port (port 0 = any) or unix:/path', '0.0.0.0:9000')
    .option('-p, --port <port>', 'shorthand for --address 0.0.0.0:<port>')
    .option('-s, --socket <path>', 'shorthand for --address unix:<path>')
    .option('--log-level <level>', 'pino log level', 'info')
    .action(async (o: { graph: string; node: string; address: string; port?: string; socket?: string; logLevel: string }) => {
      const logLevel = logLevelFlag(o.logLevel);
      const port = o.port === undefined ? undefined : portFlag('--port', o.port);
      const graph = loadManifestFile(o.graph);
      const node = findNode(graph, o.node);
      if (!node) {
        const names = walkNodes(graph.graph).map((n) => n.name);
        throw usageError(`--node ${o.node}: no such node in ${o.graph} (nodes: ${names.join(', ')})`);
      }
      const logger = createLogger(node.name, logLevel);
      const address = o.socket ? `unix:${o.socket}` : port !== undefined ? `0.0.0.0:${port}` : o.address;
      const tracing = await startTracing({ graph, node }, logger);
      const running = await startNodeServer({ graph, node, address, logger, work: tracing?.work, serverInterceptors: tracing?.serverInterceptors });
      serveUntilStopped(running.address, closeThenFlush(() => running.close(), tracing), logger);
    });

  program
    .command('executor')
    .description('serve the graph: Seldon.Predict / GraphMetadata, walking the nodes over gRPC')
    .requiredOption('-g, --graph <file>', 'graph manifest (YAML)')
    .option('-a, --address <addr>', 'listen address: host:port (port 0 = any) or unix:/path', '0.0.0.0:8000')
    .option('-p, --port <port>', 'shorthand for --address 0.0.0.0:<port>')
    .option('--node-address <name=addr>', 'address of a node (repeatable); default <name>:9000, or its manifest endpoint', collect, [])
    .option('--log-level <level>', 'pino log level', 'info')
    .action(async (o: { graph: string; address: string; port?: string; nodeAddress: string[]; logLevel: string }) => {
      const logLevel = logLevelFlag(o.logLevel);
      const port = o.port === undefined ? undefined : portFlag('--port', o.port);
      const graph = loadManifestFile(o.graph);
      const logger = createLogger(`${graph.name}-executor`, logLevel);
      const addresses: Record<string, string> = {};
      for (const n of walkNodes(graph.graph)) if (!n.endpoint) addresses[n.name] = `${n.name}:9000`;
      for (const kv of o.nodeAddress) {
        const i = kv.indexOf('=');
        const name = kv.slice(0, i);
        if (i < 1 || !findNode(graph, name)) {
          throw usageError(`--node-address ${kv}: expected <node>=<address> with a node of ${o.graph}`);
        }
        addresses[name] = kv.slice(i + 1);
      }
      const address = port !== undefined ? `0.0.0.0:${port}` : o.address;
      const tracing = await startTracing({ graph }, logger);
      const running = await startExecutorServer({
        graph,
        addresses,
        address,
        logger,
        serverInterceptors: tracing?.serverInterceptors,
        clientInterceptors: tracing ? (n, a) => tracing.clientInterceptors(n, a) : undefined,
      });
      serveUntilStopped(running.address, closeThenFlush(() => running.close(), tracing), logger);
    });
}
