import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors';
import { DEFAULTS, parseManifest } from '../../src/graph/manifest';
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
      placement: 'process',
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
    shadowMaxInFlight: DEFAULTS.shadowMaxInFlight,
    reflection: true,
    graph: root,
  };
}

/** The problems a manifest is rejected with (ConfigError.problems); fails the test when it is accepted. */
export function manifestProblems(yaml: string): string[] {
  try {
    parseManifest(yaml, '/tmp', 'm.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  return assert.fail('expected the manifest to be rejected');
}
