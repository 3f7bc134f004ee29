import { percentile } from '../util/stats';
import type { BenchTarget, Sample } from './target';

/**
 * Closed-loop load, perf_analyzer style: `concurrency` workers each keep exactly one request in flight. Time is cut
 * into measurement windows; a level is done when the last `stableWindows` windows agree within `stability` on both
 * throughput and median latency, or when `maxWindows` have passed (then it is reported as not stable). Only the
 * samples of those last windows are kept: the ramp-up at the start of a level never pollutes its numbers.
 */

const TIMELINES_PER_WINDOW = 5000;

export interface LevelOptions {
  concurrency: number;
  windowMs: number;
  stableWindows: number;
  maxWindows: number;
  /** relative tolerance, e.g. 0.1 = ±10 % around the windows' mean */
  stability: number;
}

export interface WindowStat {
  requests: number;
  errors: number;
  throughput: number;
  p50: number;
}

export interface LevelRun {
  concurrency: number;
  /** successful samples of the counted windows */
  samples: Sample[];
  windows: WindowStat[];
  counted: number;
  stable: boolean;
  /** wall time of the counted windows, s */
  seconds: number;
  errors: number;
  errorExamples: string[];
}

interface Bucket {
  samples: Sample[];
  errors: number;
  errorExamples: string[];
  start: number;
  end: number;
}

export type LoadProgress = (info: {
  concurrency: number;
  windows: number;
  lastThroughput: number;
  lastP50: number;
}) => void;

/**
 * A refused request's client waits the server's pushback (grpc-retry-pushback-ms) before its next one, as a gRPC
 * client with a retry policy does; coming straight back would measure a refusal storm instead (docs/reliability.md).
 * Never past `until` (performance.now() ms). Resolves with the time waited, ms (0 when there was no pushback).
 */
export async function waitPushback(s: Sample, until: number): Promise<number> {
  const ms = Math.min(s.retryAfterMs ?? 0, until - performance.now());
  if (ms <= 0) return 0;
  await new Promise((r) => setTimeout(r, ms));
  return ms;
}

/**
 * Drives `target` for a fixed time and throws the samples away (warm-up: JIT, connections, caches). `failed` counts
 * the calls that failed, `errors` gives the first five.
 */
export async function warm(
  target: BenchTarget,
  concurrency: number,
  ms: number,
  tick?: () => void,
): Promise<{ requests: number; failed: number; errors: string[] }> {
  const until = performance.now() + ms;
  let requests = 0;
  let failed = 0;
  const errors: string[] = [];
  const timer = tick ? setInterval(tick, 200) : undefined;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        let yielded = performance.now();
        let refused = 0;
        while (performance.now() < until) {
          const s = await target.send(refused);
          refused = s.retryAfterMs === undefined ? 0 : refused + 1;
          requests++;
          if (!s.ok) failed++;
          if (!s.ok && errors.length < 5) errors.push(s.error ?? 'error');
          await waitPushback(s, until);
          if (performance.now() - yielded > 50) {
            await new Promise((r) => setImmediate(r));
            yielded = performance.now();
          }
        }
      }),
    );
  } finally {
    if (timer) clearInterval(timer);
  }
  return { requests, failed, errors };
}

export async function runLevel(target: BenchTarget, o: LevelOptions, progress?: LoadProgress): Promise<LevelRun> {
  const buckets: Bucket[] = [];
  const levelStart = performance.now();
  const open = (): Bucket => ({ samples: [], errors: 0, errorExamples: [], start: performance.now(), end: 0 });
  let current = open();
  let stopped = false;
  let stable = false;

  const stat = (b: Bucket): WindowStat => {
    const secs = (b.end - b.start) / 1000;
    const lat = b.samples.map((s) => s.ms).sort((a, c) => a - c);
    return {
      requests: b.samples.length,
      errors: b.errors,
      throughput: secs > 0 ? b.samples.length / secs : 0,
      p50: percentile(lat, 50),
    };
  };
  const within = (xs: number[]): boolean => {
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    return m > 0 && xs.every((x) => Math.abs(x - m) <= o.stability * m);
  };

  // Windows are closed by whichever comes first: a worker finishing a request past the window's end, or the timer
  // (for requests slower than a window). Workers close them too because an in-process target made of synchronous
  // components completes requests in microtasks only, and timers would never get a turn.
  let windowEnd = current.start + o.windowMs;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const rotate = (): void => {
    const now = performance.now();
    if (stopped || now < windowEnd) return;
    current.end = now;
    buckets.push(current);
    current = open();
    windowEnd = now + o.windowMs;
    const n = buckets.length;
    const last = buckets.slice(-o.stableWindows).map(stat);
    const s = stat(buckets[n - 1] as Bucket);
    progress?.({ concurrency: o.concurrency, windows: n, lastThroughput: s.throughput, lastP50: s.p50 });
    if (
      n >= o.stableWindows &&
      last.every((w) => w.requests > 0) &&
      within(last.map((w) => w.throughput)) &&
      within(last.map((w) => w.p50))
    ) {
      stable = true;
    }
    if (stable || n >= o.maxWindows) {
      stopped = true;
      finish();
    }
  };
  const timer = setInterval(rotate, Math.min(100, o.windowMs / 4));

  const workers = Array.from({ length: o.concurrency }, async () => {
    let yielded = performance.now();
    let refused = 0;
    while (!stopped) {
      // After a refusal, the next call is marked as its retry, as a gRPC client's retry policy does.
      const s = await target.send(refused);
      refused = s.retryAfterMs === undefined ? 0 : refused + 1;
      // A request that completes after the level stopped belongs to no window.
      if (stopped) return;
      if (s.ok) {
        // Latency of every request, hop timelines of the first few thousand per window: enough for the breakdown,
        // and an in-process level of tiny components (100k+ requests) does not hold them all in memory.
        if (current.samples.length >= TIMELINES_PER_WINDOW) delete s.timeline;
        current.samples.push(s);
      } else {
        current.errors++;
        if (current.errorExamples.length < 3) current.errorExamples.push(s.error ?? 'error');
        // At most until the level's longest run: a worker still waiting when the level stops ends then.
        await waitPushback(s, levelStart + o.windowMs * o.maxWindows);
      }
      const now = performance.now();
      if (now >= windowEnd) rotate();
      if (now - yielded > 50) {
        // Let timers and I/O (progress bar, process sampling) run now and then, even for a microtask-only target.
        await new Promise((r) => setImmediate(r));
        yielded = performance.now();
      }
    }
  });
  await done;
  clearInterval(timer);
  await Promise.all(workers);

  const counted = buckets.slice(-Math.min(o.stableWindows, buckets.length));
  return {
    concurrency: o.concurrency,
    samples: counted.flatMap((b) => b.samples),
    windows: buckets.map(stat),
    counted: counted.length,
    stable,
    seconds: counted.reduce((a, b) => a + (b.end - b.start) / 1000, 0),
    errors: counted.reduce((a, b) => a + b.errors, 0),
    errorExamples: [...new Set(buckets.flatMap((b) => b.errorExamples))].slice(0, 5),
  };
}
