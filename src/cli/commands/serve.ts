import type { Command } from 'commander';
import { startExecutorServer } from '../../executor/executor-server';
import { loadManifestFile } from '../../graph/manifest';
import { findNode, HOP_TRANSPORTS, walkNodes, type HopTransport, type NodeSpec } from '../../graph/spec';
import { framesAddressFor } from '../../transport/address';
import { startNodeServer } from '../../node/node-server';
import { startTracing, type Tracing } from '../../telemetry';
import { createLogger } from '../../util/logger';
import { serveUntilStopped } from '../process';

/** `infergraph node` and `infergraph executor`: the two kinds of long-running process in a graph. */

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function hopTransportFlag(v: string): HopTransport {
  if (!HOP_TRANSPORTS.includes(v as HopTransport)) {
    throw new Error(`--hop-transport must be one of ${HOP_TRANSPORTS.join(', ')}, got '${v}'`);
  }
  return v as HopTransport;
}

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
    .option('--frames-address <addr>', "also listen for framed hops: unix:/path, host:port, or 'auto' (beside --address)")
    .option('--log-level <level>', 'pino log level', 'info')
    .action(async (o: { graph: string; node: string; address: string; port?: string; socket?: string; framesAddress?: string; logLevel: string }) => {
      const graph = loadManifestFile(o.graph);
      const node = findNode(graph, o.node);
      if (!node) {
        throw new Error(`no node '${o.node}' in ${o.graph} (nodes: ${walkNodes(graph.graph).map((n) => n.name).join(', ')})`);
      }
      const logger = createLogger(node.name, o.logLevel);
      const address = o.socket ? `unix:${o.socket}` : o.port ? `0.0.0.0:${o.port}` : o.address;
      const framesAddress = o.framesAddress === 'auto' ? framesAddressFor(address) : o.framesAddress;
      const tracing = await startTracing({ graph, node }, logger);
      const running = await startNodeServer({
        graph,
        node,
        address,
        logger,
        work: tracing?.work,
        serverInterceptors: tracing?.serverInterceptors,
        ...(framesAddress ? { framesAddress } : {}),
        ...(tracing ? { frameTracer: tracing.frameServerTracer } : {}),
      });
      serveUntilStopped(running.address, closeThenFlush(() => running.close(), tracing), logger, running.framesAddress);
    });

  program
    .command('executor')
    .description('serve the graph: Seldon.Predict / GraphMetadata, walking the nodes over gRPC')
    .requiredOption('-g, --graph <file>', 'graph manifest (YAML)')
    .option('-a, --address <addr>', 'listen address: host:port (port 0 = any) or unix:/path', '0.0.0.0:8000')
    .option('-p, --port <port>', 'shorthand for --address 0.0.0.0:<port>')
    .option('--node-address <name=addr>', 'address of a node (repeatable); default <name>:9000, or its manifest endpoint', collect, [])
    .option('--node-frames-address <name=addr>', 'frame address of a node (repeatable); others get gRPC', collect, [])
    .option('--hop-transport <kind>', "grpc or frames: overrides the manifest's spec.hopTransport")
    .option('--log-level <level>', 'pino log level', 'info')
    .action(async (o: { graph: string; address: string; port?: string; nodeAddress: string[]; nodeFramesAddress: string[]; hopTransport?: string; logLevel: string }) => {
      const manifest = loadManifestFile(o.graph);
      const graph = o.hopTransport ? { ...manifest, hopTransport: hopTransportFlag(o.hopTransport) } : manifest;
      const logger = createLogger(`${graph.name}-executor`, o.logLevel);
      const addresses: Record<string, string> = {};
      for (const n of walkNodes(graph.graph)) if (!n.endpoint) addresses[n.name] = `${n.name}:9000`;
      const parse = (flag: string, kvs: string[], into: Record<string, string>): void => {
        for (const kv of kvs) {
          const i = kv.indexOf('=');
          const name = kv.slice(0, i);
          if (i < 1 || !findNode(graph, name)) {
            throw new Error(`${flag} ${kv}: expected <node>=<address> with a node of ${o.graph}`);
          }
          into[name] = kv.slice(i + 1);
        }
      };
      parse('--node-address', o.nodeAddress, addresses);
      const framesAddresses: Record<string, string> = {};
      parse('--node-frames-address', o.nodeFramesAddress, framesAddresses);
      const address = o.port ? `0.0.0.0:${o.port}` : o.address;
      const tracing = await startTracing({ graph }, logger);
      const running = await startExecutorServer({
        graph,
        addresses,
        address,
        logger,
        framesAddresses,
        serverInterceptors: tracing?.serverInterceptors,
        clientInterceptors: tracing ? (n, a) => tracing.clientInterceptors(n, a) : undefined,
        ...(tracing ? { frameTracer: (n: NodeSpec, a: string) => tracing.frameClientTracer(n, a) } : {}),
      });
      serveUntilStopped(running.address, closeThenFlush(() => running.close(), tracing), logger);
    });
}
