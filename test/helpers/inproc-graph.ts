import { SeldonClient } from '../../src/client/seldon-client';
import { startExecutorServer, type RunningExecutor } from '../../src/executor/executor-server';
import { parseManifest } from '../../src/graph/manifest';
import { walkNodes, type GraphSpec } from '../../src/graph/spec';
import { startNodeServer, type RunningNode } from '../../src/node/node-server';
import { createLogger } from '../../src/util/logger';

/**
 * A whole graph in the test process (grpc-js's own tests do this): every node's real gRPC server and the real
 * executor, on 127.0.0.1 port 0, talking real gRPC over loopback. Starts in milliseconds, so most behaviour is
 * checked here; test/integration keeps the tier with real processes, the runner and the CLI.
 */
export interface InProcGraph {
  graph: GraphSpec;
  address: string;
  nodes: Map<string, RunningNode>;
  executor: RunningExecutor;
  client: SeldonClient;
  close(): Promise<void>;
}

export const PROBE = require.resolve('./probe-component');

export async function startInProcGraph(
  yaml: string,
  opts: { clientMaxMessageBytes?: number } = {},
): Promise<InProcGraph> {
  const graph = parseManifest(yaml, __dirname, 'inproc.yaml');
  const logger = createLogger('inproc', 'silent');
  const nodes = new Map<string, RunningNode>();
  let executor: RunningExecutor | undefined;
  const close = async (): Promise<void> => {
    await executor?.close();
    await Promise.all([...nodes.values()].map((n) => n.close()));
  };
  try {
    for (const node of walkNodes(graph.graph)) {
      if (!node.endpoint) nodes.set(node.name, await startNodeServer({ graph, node, address: '127.0.0.1:0', logger }));
    }
    const addresses = Object.fromEntries([...nodes].map(([name, n]) => [name, n.address]));
    executor = await startExecutorServer({ graph, addresses, address: '127.0.0.1:0', logger });
  } catch (err) {
    await close();
    throw err;
  }
  const client = new SeldonClient(
    executor.address,
    opts.clientMaxMessageBytes ? { maxMessageBytes: opts.clientMaxMessageBytes } : {},
  );
  return {
    graph,
    address: executor.address,
    nodes,
    executor,
    client,
    async close() {
      client.close();
      await close();
    },
  };
}
