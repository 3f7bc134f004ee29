import type { ModelMetadata } from '../components/api';
import type { NodeClient } from './node-client';
import { walkNodes, type GraphSpec } from './spec';

/** How long GraphMetadata waits for each node: metadata is best effort and must not hang on a node that is down. */
export const METADATA_TIMEOUT_MS = 2000;

/**
 * Model metadata of the graph's MODEL and TRANSFORMER nodes, asked of the nodes themselves through the NodeClient,
 * all at once. Best effort: a node that cannot answer in time is listed with its implementation as the platform and
 * no tensors, so one slow node never fails the whole answer.
 */
export async function collectModelMetadata(
  graph: GraphSpec,
  client: NodeClient,
  timeoutMs = METADATA_TIMEOUT_MS,
): Promise<Record<string, ModelMetadata>> {
  const out: Record<string, ModelMetadata> = {};
  const nodes = walkNodes(graph.graph).filter((n) => n.type === 'MODEL' || n.type === 'TRANSFORMER');
  const opts = { deadline: Date.now() + timeoutMs, signal: new AbortController().signal };
  const answers = await Promise.all(
    nodes.map((n) =>
      client.metadata(n, opts).then(
        (m) => m,
        (): ModelMetadata => ({ name: n.name, versions: [], platform: n.implementation, inputs: [], outputs: [] }),
      ),
    ),
  );
  nodes.forEach((n, i) => (out[n.name] = answers[i] as ModelMetadata));
  return out;
}
