import { DEFAULTS } from './manifest';
import type { GraphSpec, HopTransport } from './spec';

/**
 * Settings the command line may override, applied to the GraphSpec once, where a command loads its manifest (its
 * composition root; src/cli/spec-flags.ts reads the flags). Everything downstream — the supervisor, the executor's hop
 * client, the servers, metrics — reads the spec, never a flag. A child that `up` starts loads the manifest itself,
 * so the supervisor hands it what the spec says as flags of its own (--hop-transport, --metrics-address none).
 */
export interface SpecOverrides {
  /** spec.hopTransport */
  hopTransport?: HopTransport;
  /** false: spec.reflection off */
  reflection?: boolean;
  /** false: spec.metrics.enabled off */
  metrics?: boolean;
}

export function applyOverrides(graph: GraphSpec, o: SpecOverrides): GraphSpec {
  const out = { ...graph };
  if (o.hopTransport !== undefined) out.hopTransport = o.hopTransport;
  if (o.reflection === false) out.reflection = false;
  if (o.metrics === false) out.metrics = { ...(graph.metrics ?? DEFAULTS.metrics), enabled: false };
  return out;
}
