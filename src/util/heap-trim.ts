import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * V8's gc(), without --expose-gc on the command line (pods start `infergraph node` without it); undefined if the
 * engine refuses. Used sparingly: after a rare huge decode (jpeg-input) and by the heap trimmer below.
 */
export function findGc(): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

/**
 * Keeps a long-running process's RSS level. Children run with --initial-old-space-size=128 (the runner's
 * CHILD_NODE_FLAGS: hops 2.7 vs 5.9 ms p50 without it), so V8 starts major collections only when the old generation
 * reaches 128 MB: garbage promoted by hops piles up for an hour or more and RSS climbs linearly meanwhile (issue 11's
 * soak: +1 MB/min in an idle top1). Every `everyMs`, if the heap grew by more than `slackBytes` since the last
 * collection, one full collection runs (~10-30 ms, twice a minute at most): RSS stays at live size + slack. A 24 MB
 * slack was too loose: the soak's small nodes still rose by ~2 MB/min through its first 12 minutes.
 */
export function startHeapTrimmer(everyMs = 30_000, slackBytes = 8 * 1024 * 1024): () => void {
  const gc = findGc();
  if (!gc) return () => undefined;
  let base = process.memoryUsage().heapUsed;
  const timer = setInterval(() => {
    const used = process.memoryUsage().heapUsed;
    if (used - base < slackBytes) return;
    gc();
    base = process.memoryUsage().heapUsed;
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
