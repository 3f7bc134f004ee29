/**
 * Start-up marks of this process: ms since it started (performance.now(); its origin is the process's start), so
 * a restart's time can be split into loading code, loading the component and binding (bench/restart-time.ts reads
 * them from the `startup` log line a node or executor writes once it serves).
 */
const marks: Record<string, number> = {};

export function startupMark(name: string): void {
  marks[name] = Math.round(performance.now());
}

/** A mark for something that happened at `epochMs` (Date.now() clock), e.g. in a worker thread. */
export function startupMarkAt(name: string, epochMs: number): void {
  marks[name] = Math.round(epochMs - performance.timeOrigin);
}

/**
 * The marks so far, the process's start as epoch ms, and the CPU time it has used (all threads, ms): unlike the
 * marks, that figure hardly moves with the machine's load, so start-up work can be compared across runs.
 */
export function startupMarks(): { origin: number; marks: Record<string, number>; cpuMs: number } {
  const cpu = process.cpuUsage();
  return {
    origin: Math.round(performance.timeOrigin),
    marks: { ...marks },
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  };
}
