import type { Logger } from '../util/logger';
import { resolveTracing } from './config';
import type { ProcessIdentity, Tracing } from './types';

/**
 * Entry point of tracing for the executor and node processes. With tracing off this module is all that is loaded:
 * no SDK, no context manager, no interceptors, so it costs nothing per request.
 */

export type { ProcessIdentity, Tracing } from './types';

export async function startTracing(
  id: ProcessIdentity,
  logger: Logger,
  env: Record<string, string | undefined> = process.env,
): Promise<Tracing | undefined> {
  const cfg = resolveTracing(id.graph.tracing, env);
  if (!cfg) return undefined;
  const { startSdk } = await import('./sdk');
  const tracing = await startSdk(cfg, id, logger);
  logger.info({ exporter: cfg.exporter, endpoint: cfg.endpoint, sampleRatio: cfg.sampleRatio }, 'tracing on');
  return tracing;
}
