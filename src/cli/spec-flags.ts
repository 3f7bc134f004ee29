import { loadManifestFile } from '../graph/manifest';
import { applyOverrides } from '../graph/overrides';
import { HOP_TRANSPORTS, type GraphSpec } from '../graph/spec';
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

/** The manifest at `file`, validated, with the command line's overrides applied: the one place flags meet the spec. */
export function loadSpec(file: string, o: SpecFlags, load?: Parameters<typeof loadManifestFile>[1]): GraphSpec {
  const graph = loadManifestFile(file, load);
  return applyOverrides(graph, {
    ...(o.hopTransport === undefined
      ? {}
      : { hopTransport: enumFlag('--hop-transport', o.hopTransport, HOP_TRANSPORTS) }),
    ...(o.reflection === false ? { reflection: false } : {}),
    ...(o.metrics === false ? { metrics: false } : {}),
  });
}
