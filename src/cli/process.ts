import { startHeapTrimmer } from '../util/heap-trim';
import type { Logger } from '../util/logger';

/**
 * Lifecycle shared by the node and executor processes: tell the supervisor our address over IPC, exit cleanly on
 * SIGTERM/SIGINT, and exit when the supervisor's IPC channel closes (it died) so no orphan is left behind.
 */
export function serveUntilStopped(
  address: string,
  close: () => Promise<void>,
  logger: Logger,
  /** What else the process reports with its gRPC address: its metrics URL, a node's frame listener, REST URL. */
  extra: { metrics?: string; framesAddress?: string; rest?: string } = {},
  /** How long close() may take before the process exits anyway (the executor's drain timeout plus a margin). */
  forceAfterMs = 5000,
): void {
  // Long-running: keep RSS level (see heap-trim.ts).
  const stopTrimmer = startHeapTrimmer();
  let closing = false;
  const stop = (why: string): void => {
    if (closing) return;
    closing = true;
    stopTrimmer();
    logger.info({ why }, 'shutting down');
    const force = setTimeout(() => process.exit(0), forceAfterMs);
    force.unref();
    close()
      .catch((err: Error) => logger.error({ err: err.message }, 'error during shutdown'))
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (process.send) {
    process.send({ type: 'ready', address, ...extra });
    process.on('disconnect', () => stop('supervisor went away'));
  }
}
