import { DEFAULTS } from '../../src/graph/manifest';
import type { GraphSpec, NodeSpec, NodeType } from '../../src/graph/spec';

/** Hand-built specs for walk tests (no manifest, no components). */
export function node(name: string, type: NodeType, children: NodeSpec[] = []): NodeSpec {
  return {
    name,
    type,
    implementation: 'fake',
    parameters: {},
    children,
    runtime: {
      maxMessageBytes: DEFAULTS.maxMessageBytes,
      env: {},
      restart: { ...DEFAULTS.restart },
      replicas: 1,
      maxConcurrency: DEFAULTS.nodeMaxConcurrency,
      maxQueue: DEFAULTS.nodeMaxQueue,
    },
    path: name,
  };
}

export function graph(root: NodeSpec): GraphSpec {
  return {
    apiVersion: 'infergraph.dev/v1alpha1',
    kind: 'InferenceGraph',
    name: 'test',
    baseDir: '/',
    deadlineMs: 5000,
    codec: 'tftensor',
    hopTransport: 'frames',
    maxMessageBytes: DEFAULTS.maxMessageBytes,
    maxInFlight: DEFAULTS.maxInFlight,
    drainTimeoutMs: DEFAULTS.drainTimeoutMs,
    reflection: true,
    graph: root,
  };
}
