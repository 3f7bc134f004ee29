import type { ValidateOptions } from '../graph/manifest';
import { applyOverrides } from '../graph/overrides';
import { HOP_TRANSPORTS, type GraphSpec } from '../graph/spec';
import { loadAnyManifestFile, type LoadedGraph } from '../seldon/load';
import { enumFlag } from './flags';

/** The flags that override the manifest, as commander gives them (see src/graph/overrides.ts). */
export interface SpecFlags {
  /** --hop-transport grpc|frames */
  hopTransport?: string;
  /** --no-reflection */
  reflection?: boolean;
  /** --no-metrics */
  metrics?: boolean;
}

/**
 * The manifest at `file` (an InferenceGraph, or a SeldonDeployment converted to one), validated, with the command
 * line's overrides applied: the one place flags meet the spec. A SeldonDeployment's warnings go to `warn`.
 */
export function loadSpec(file: string, o: SpecFlags, load?: ValidateOptions, warn?: (line: string) => void): GraphSpec {
  return loadGraph(file, o, load, warn).graph;
}

/** loadSpec, with the manifest's envelope (a converted SeldonDeployment's names live in its metadata). */
export function loadGraph(
  file: string,
  o: SpecFlags,
  load?: ValidateOptions,
  warn?: (line: string) => void,
): LoadedGraph {
  const loaded = loadAnyManifestFile(file, load);
  if (warn) loaded.warnings.forEach(warn);
  const { graph, manifest } = loaded.graphs[0] as LoadedGraph;
  return { manifest, graph: overridden(graph, o) };
}

function overridden(graph: GraphSpec, o: SpecFlags): GraphSpec {
  return applyOverrides(graph, {
    ...(o.hopTransport === undefined
      ? {}
      : { hopTransport: enumFlag('--hop-transport', o.hopTransport, HOP_TRANSPORTS) }),
    ...(o.reflection === false ? { reflection: false } : {}),
    ...(o.metrics === false ? { metrics: false } : {}),
  });
}
